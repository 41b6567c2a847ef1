"""Benchmarked fits: logistic regression (issue #13: SPMDLogisticRegression).

- ``logreg_binary_lbfgs`` / ``logreg_binary_newton``: 2,000,000 x 100, two
  classes, ``solver='lbfgs'`` / ``'newton-cholesky'``;
- ``logreg_multi_lbfgs`` / ``logreg_multi_newton``: 1,000,000 x 100, ten
  classes (multinomial loss).

scikit-learn's defaults otherwise (``C=1``, ``tol=1e-4``, ``max_iter=100``).
The labels come from a linear model with Gumbel noise, so the classes overlap
and the optimum is finite: ``y = argmax(X @ W + noise)`` (binary: the sign of
one score). The noise columns are drawn by ``_common.rows`` beside ``X``, so
every tool and every rank count sees the same rows and labels.

Each fit also reports its iterations (``n_iter_``) and the number of loss
evaluations (loss and gradient; Hessians for Newton) it made, counted by
wrapping the loss class of each tool for the duration of the fit; run.py
prints them with the time per evaluation. The peer is scikit-learn-intelex's
CPU ``LogisticRegression`` in one process with 2 threads (``_bench_daal4py.py
--algo logreg_*``; its CPU path offloads 'lbfgs' and 'newton-cg' only, so it
runs the lbfgs fits).
"""

import contextlib

import numpy as np

from _common import Algo, rows

# the counts of the last fit in this process, read by worker.py through Algo.info()
LAST_INFO = {}


@contextlib.contextmanager
def counting(cls, names):
    """Count calls of the methods ``names`` of ``cls`` (restored afterwards)."""
    counts = dict.fromkeys(names, 0)
    originals = {name: cls.__dict__[name] for name in names if name in cls.__dict__}

    def wrap(name, method):
        def counted(*args, **kwargs):
            counts[name] += 1
            return method(*args, **kwargs)

        return counted

    for name, method in originals.items():
        setattr(cls, name, wrap(name, method))
    try:
        yield counts
    finally:
        for name, method in originals.items():
            setattr(cls, name, method)


def _record(est, counts):
    evaluations = counts.get("loss_gradient", 0) + counts.get("loss", 0)
    LAST_INFO.clear()
    LAST_INFO.update(
        n_iter=int(np.max(est.n_iter_)), evaluations=evaluations,
        hessians=counts.get("gradient_hessian", 0),
    )
    return dict(LAST_INFO)


def _skspmd(**params):
    def fit(X, y):
        from skspmd._linear_loss import MergedLinearLoss
        from skspmd.linear_model import SPMDLogisticRegression

        with counting(MergedLinearLoss, ("loss", "loss_gradient", "gradient_hessian")) as c:
            est = SPMDLogisticRegression(**params).fit(X, y)
        return _record(est, c)

    return fit


def _sklearn(**params):
    def fit(X, y):
        from sklearn.linear_model import LogisticRegression

        from skspmd._compat import LinearModelLoss

        with counting(LinearModelLoss, ("loss", "loss_gradient", "gradient_hessian")) as c:
            est = LogisticRegression(**params).fit(X, y)
        return _record(est, c)

    return fit


def logreg_data(n, d, start, stop, n_classes):
    """Rows ``[start, stop)``: ``X`` (standard normal) and labels of a noisy linear model."""
    scores = 1 if n_classes == 2 else n_classes
    full = rows(n, d + scores, start, stop, seed=13)
    X = np.ascontiguousarray(full[:, :d])
    W = np.random.default_rng([13, 1]).standard_normal((d, scores)) * (2.0 / np.sqrt(d))
    noise = -np.log(-np.log(0.5 + 0.49 * np.tanh(full[:, d:])))  # Gumbel-like, row-local
    z = X @ W + noise
    y = (z[:, 0] > -np.log(np.log(2.0)))  # the noise's median if n_classes == 2 else np.argmax(z, axis=1)
    return X, y.astype(np.int64)


class LogRegAlgo(Algo):
    """An ``Algo`` with its own labels and the counts of the last fit (``info``)."""

    def __init__(self, n, d, n_classes, solver, peer=None):
        params = dict(solver=solver)
        super().__init__(_skspmd(**params), _sklearn(**params), n, d, daal4py=peer)
        self.n_classes = n_classes
        self.solver = solver
        # the peer: scikit-learn-intelex in one process with 2 threads
        self.peer = (1, 2)

    def data(self, n, d, start, stop):
        return logreg_data(n, d, start, stop, self.n_classes)

    def info(self):
        return dict(LAST_INFO) or None


ALGOS = {
    "logreg_binary_lbfgs": LogRegAlgo(2_000_000, 100, 2, "lbfgs", "logreg_binary_lbfgs"),
    "logreg_binary_newton": LogRegAlgo(2_000_000, 100, 2, "newton-cholesky"),
    "logreg_multi_lbfgs": LogRegAlgo(1_000_000, 100, 10, "lbfgs", "logreg_multi_lbfgs"),
    "logreg_multi_newton": LogRegAlgo(1_000_000, 100, 10, "newton-cholesky"),
}
