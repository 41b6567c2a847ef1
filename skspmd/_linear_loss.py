"""The loss of a linear model summed over the rows of every rank, and its solvers.

:class:`MergedLinearLoss` implements scikit-learn's ``LinearModelLoss``
interface (the objective ``1 / s_sum * sum_i s_i loss_i + l2 / 2 * ||w||^2``,
its gradient and Hessian) for row-distributed data: each rank evaluates the
pointwise losses of its own rows with scikit-learn's loss classes and sums
them, one ``allreduce`` of the model's size adds the sums of every rank
(bitwise identical everywhere), and the division by the global weight sum
``s_sum`` and the penalty are applied once, on the merged sums. So any
optimizer that only calls these methods (``scipy.optimize.minimize``'s
L-BFGS-B, scikit-learn's ``NewtonCholeskySolver``) runs unchanged and
identically on every rank: every rank takes the same steps, makes the same
decisions and stops at the same iteration. Communication per evaluation is
``n_coef + 1`` numbers (and ``n_coef^2`` for a Hessian), whatever the
number of rows.

Local work reads each rank's rows once per evaluation: row blocks of about
1 MiB are predicted (``X_b @ W^T``), passed to the pointwise loss and folded
back into the gradient (``X_b^T g_b``) while they are in cache. The Hessian
of the multinomial loss, ``sum_i x_i x_i^T (diag(p_i) - p_i p_i^T) s_i``, is
built per block with one matrix product per class ``k`` against the row
block scaled by ``h_kl`` for every class ``l >= k`` side by side, and the
upper blocks are mirrored after the merge.
"""

import contextlib
import io

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from ._comm import allreduce, get_comm, replicate
from ._stats import symmetrize, syrk
from ._compat import (
    _LOGISTIC_SOLVER_CONVERGENCE_MSG,
    LinearModelLoss,
    NewtonCholeskySolver,
    _check_optimize_result,
    _get_additional_lbfgs_options_dict,
)

__all__ = ["MergedLinearLoss", "MergedNewtonCholesky", "minimize_lbfgs", "root_only_output"]

# Row blocks of about this many bytes of X (loss and gradient) and of the
# scaled copies the Hessian products read (kept in cache).
_LOSS_BLOCK_BYTES = 1 << 20
_HESSIAN_BLOCK_BYTES = 1 << 21


def _block_rows(width, itemsize, target):
    return max(32, target // max(1, width * itemsize))


def _augmented(Xb, fit_intercept):
    """``[X_b | 1]`` (dense or CSR) when fitting an intercept, else ``X_b``."""
    if not fit_intercept:
        return Xb
    ones = np.ones((Xb.shape[0], 1), dtype=Xb.dtype)
    if sp.issparse(Xb):
        return sp.hstack([Xb, ones], format="csr")
    return np.hstack([Xb, ones])


def _weighted_gram(A, h, upper):
    """``upper + A^T diag(h) A`` in the upper triangle (a syrk of ``sqrt(h) A``; h >= 0)."""
    return syrk(np.asarray(A * np.sqrt(h)[:, np.newaxis], dtype=np.float64), upper)


def _scaled_products(A, H):
    """``A^T [diag(H[:, 0]) A, diag(H[:, 1]) A, ...]`` of shape ``(m, H.shape[1] * m)``."""
    n, m = A.shape
    if sp.issparse(A):
        right = sp.hstack([A.multiply(H[:, [j]]) for j in range(H.shape[1])], format="csc")
        return np.asarray((A.T @ right).toarray())
    right = (H[:, :, np.newaxis] * A[:, np.newaxis, :]).reshape(n, -1)
    return A.T @ right


class MergedLinearLoss(LinearModelLoss):
    """scikit-learn's ``LinearModelLoss`` over the rows of every rank (collective methods).

    Parameters
    ----------
    base_loss : scikit-learn loss instance
        ``HalfBinomialLoss()`` or ``HalfMultinomialLoss(n_classes)``.
    fit_intercept : bool
    sw_sum : float
        Sum of the sample weights over every rank (the number of rows
        without weights): the divisor of the summed losses.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.

    ``loss``, ``loss_gradient``, ``gradient`` and ``gradient_hessian`` take
    this rank's rows and return the global values; every rank must call
    them in the same order. ``weight_intercept_raw`` (inherited) is local.
    """

    def __init__(self, base_loss, fit_intercept, sw_sum, comm=None):
        super().__init__(base_loss=base_loss, fit_intercept=fit_intercept)
        self.sw_sum = float(sw_sum)
        self.comm = comm or get_comm()

    def _shape(self, X):
        """``(n_classes or 1, n_features, n_dof)``."""
        k = self.base_loss.n_classes if self.base_loss.is_multiclass else 1
        return k, X.shape[1], X.shape[1] + int(self.fit_intercept)

    def _raw(self, Xb, weights, intercept):
        raw = Xb @ weights.T
        if self.fit_intercept:
            raw += intercept
        return raw

    def _local_sums(self, coef, X, y, sample_weight, raw_prediction, with_gradient):
        """``[sum_i s_i loss_i, sum of the gradient (classes contiguous)]`` on this rank."""
        k, d, n_dof = self._shape(X)
        out = np.zeros(1 + k * n_dof)
        G = out[1:].reshape((k, n_dof), order="F")
        weights, intercept = self.weight_intercept(coef)
        weights = np.asarray(weights, dtype=X.dtype)
        intercept = np.asarray(intercept, dtype=X.dtype)
        step = _block_rows(d, X.dtype.itemsize, _LOSS_BLOCK_BYTES)
        for start in range(0, X.shape[0], step):
            rows = slice(start, start + step)
            Xb = X[rows]
            raw = raw_prediction[rows] if raw_prediction is not None else None
            if raw is None:
                raw = self._raw(Xb, weights, intercept)
            sw = None if sample_weight is None else sample_weight[rows]
            if not with_gradient:
                values = self.base_loss.loss(y_true=y[rows], raw_prediction=raw, sample_weight=sw)
                out[0] += values.sum(dtype=np.float64)
                continue
            values, g = self.base_loss.loss_gradient(
                y_true=y[rows], raw_prediction=raw, sample_weight=sw
            )
            out[0] += values.sum(dtype=np.float64)
            G[:, :d] += (Xb.T @ g).T
            if self.fit_intercept:
                G[:, d] += g.sum(axis=0, dtype=np.float64)
        return out

    def _gradient(self, sums, coef, l2_reg_strength, k, d, n_dof):
        """Merged gradient sums -> the gradient, shaped like ``coef`` (classes contiguous)."""
        grad = sums / self.sw_sum
        G = grad.reshape((k, n_dof), order="F")
        weights, _ = self.weight_intercept(coef)
        G[:, :d] += l2_reg_strength * np.reshape(weights, (k, d))
        return grad.reshape(coef.shape, order="F") if coef.ndim > 1 else grad

    def loss(self, coef, X, y, sample_weight=None, l2_reg_strength=0.0, n_threads=1,
             raw_prediction=None):
        """Global mean loss plus penalty (collective)."""
        sums = allreduce(
            self._local_sums(coef, X, y, sample_weight, raw_prediction, False), comm=self.comm
        )
        value = sums[0] / self.sw_sum
        if l2_reg_strength > 0:
            value += self.l2_penalty(self.weight_intercept(coef)[0], l2_reg_strength)
        return float(value)

    def loss_gradient(self, coef, X, y, sample_weight=None, l2_reg_strength=0.0, n_threads=1,
                      raw_prediction=None):
        """Global mean loss plus penalty, and its gradient (collective: one ``allreduce``)."""
        k, d, n_dof = self._shape(X)
        sums = allreduce(
            self._local_sums(coef, X, y, sample_weight, raw_prediction, True), comm=self.comm
        )
        value = sums[0] / self.sw_sum
        value += self.l2_penalty(self.weight_intercept(coef)[0], l2_reg_strength)
        return float(value), self._gradient(sums[1:], coef, l2_reg_strength, k, d, n_dof)

    def gradient(self, coef, X, y, sample_weight=None, l2_reg_strength=0.0, n_threads=1,
                 raw_prediction=None):
        """Gradient of the global objective (collective)."""
        return self.loss_gradient(
            coef, X, y, sample_weight, l2_reg_strength, n_threads, raw_prediction
        )[1]

    def gradient_hessian_product(self, *args, **kwargs):
        raise NotImplementedError("MergedLinearLoss has no Hessian-vector product")

    def _local_hessian(self, coef, X, y, sample_weight, raw_prediction):
        """This rank's gradient sums, Hessian sums (class-major, upper class blocks) and
        the weight of rows whose pointwise Hessian is not positive, in one buffer."""
        k, d, n_dof = self._shape(X)
        n = k * n_dof
        out = np.zeros(n + n * n + 1)
        G = out[:n].reshape((k, n_dof), order="F")
        H = out[n : n + n * n].reshape(n, n)
        weights, intercept = self.weight_intercept(coef)
        weights = np.asarray(weights, dtype=X.dtype)
        intercept = np.asarray(intercept, dtype=X.dtype)
        step = _block_rows(k * n_dof, X.dtype.itemsize, _HESSIAN_BLOCK_BYTES)
        upper = None  # binomial, dense: the Hessian's upper triangle
        for start in range(0, X.shape[0], step):
            rows = slice(start, start + step)
            Xb = X[rows]
            raw = raw_prediction[rows] if raw_prediction is not None else None
            if raw is None:
                raw = self._raw(Xb, weights, intercept)
            sw = None if sample_weight is None else sample_weight[rows]
            A = _augmented(Xb, self.fit_intercept)
            if k == 1:
                g, h = self.base_loss.gradient_hessian(y_true=y[rows], raw_prediction=raw,
                                                       sample_weight=sw)
                nonpositive = h <= 0
                out[-1] += nonpositive.sum() if sw is None else sw[nonpositive].sum()
                if sp.issparse(A):
                    H += _scaled_products(A, np.abs(h)[:, np.newaxis])
                else:
                    upper = _weighted_gram(A, np.abs(h), upper)
            else:
                g, P = self.base_loss.gradient_proba(y_true=y[rows], raw_prediction=raw,
                                                     sample_weight=sw)
                for c in range(k):
                    Hc = P[:, c:] * -P[:, c : c + 1]
                    Hc[:, 0] += P[:, c]
                    if sw is not None:
                        Hc *= sw[:, np.newaxis]
                    H[c * n_dof : (c + 1) * n_dof, c * n_dof :] += _scaled_products(A, Hc)
            G += (A.T @ g.reshape(len(g), -1)).T
        if upper is not None:
            H += symmetrize(upper)
        return out

    def gradient_hessian(self, coef, X, y, sample_weight=None, l2_reg_strength=0.0,
                         n_threads=1, gradient_out=None, hessian_out=None, raw_prediction=None):
        """Gradient and Hessian of the global objective (collective: one ``allreduce``).

        The Hessian is in scikit-learn's layout (classes contiguous); the
        third value flags, as scikit-learn does, a pointwise Hessian that is
        not positive on more than a quarter of the (weighted) rows.
        """
        k, d, n_dof = self._shape(X)
        n = k * n_dof
        sums = allreduce(
            self._local_hessian(coef, X, y, sample_weight, raw_prediction), comm=self.comm
        )
        grad = self._gradient(sums[:n], coef, l2_reg_strength, k, d, n_dof)
        H = sums[n : n + n * n].reshape(n, n)
        for c in range(k):  # mirror the upper class blocks
            for other in range(c + 1, k):
                H[other * n_dof : (other + 1) * n_dof, c * n_dof : (c + 1) * n_dof] = H[
                    c * n_dof : (c + 1) * n_dof, other * n_dof : (other + 1) * n_dof
                ].T
        H = H.reshape(k, n_dof, k, n_dof).transpose(1, 0, 3, 2).reshape(n, n) / self.sw_sum
        diagonal = np.arange(k * d)  # penalised coefficients come first in this layout
        H[diagonal, diagonal] += l2_reg_strength
        warning = (not self.base_loss.is_multiclass) and sums[-1] > 0.25 * self.sw_sum
        if gradient_out is None:
            gradient_out = np.empty_like(grad)
        if hessian_out is None:
            hessian_out = np.empty((n, n))
        gradient_out[...] = grad
        hessian_out[...] = H
        return gradient_out, hessian_out, bool(warning)


class MergedNewtonCholesky(NewtonCholeskySolver):
    """scikit-learn's Newton-Cholesky solver on a :class:`MergedLinearLoss`.

    Gradient, Hessian and line-search losses are global and identical on
    every rank, so every rank follows the same iteration. The Newton step
    (a Cholesky solve of the merged Hessian) is solved on every rank and
    then taken from rank 0, so a LAPACK that rounds differently on another
    node cannot make the ranks part ways.
    """

    def inner_solve(self, X, y, sample_weight):
        super().inner_solve(X=X, y=y, sample_weight=sample_weight)
        comm = self.linear_loss.comm
        if comm.Get_size() == 1:
            return
        step = getattr(self, "coef_newton", None)
        if step is None or np.shape(step) != np.shape(self.coef):
            step = np.zeros_like(self.coef)
        fallback, step, slope = replicate(
            [
                np.array(bool(self.use_fallback_lbfgs_solve)),
                np.asarray(step, dtype=self.coef.dtype),
                np.array(float(getattr(self, "gradient_times_newton", 0.0))),
            ],
            comm,
        )
        self.use_fallback_lbfgs_solve = bool(fallback)
        self.coef_newton = step
        self.gradient_times_newton = float(slope)


def minimize_lbfgs(loss, w0, X, y, sample_weight, l2_reg_strength, max_iter, tol, verbose):
    """scikit-learn's L-BFGS-B call of ``_logistic_regression_path`` on a merged loss.

    Returns ``(coef, n_iter)``. Every rank runs the same scipy iteration on
    the same merged values; scipy's own progress output (older scipy) is
    asked for on rank 0 only.
    """
    iprint = [-1, 50, 1, 100, 101][np.searchsorted(np.array([0, 1, 2, 3]), verbose)]
    if loss.comm.Get_rank() != 0:
        iprint = -1
    result = scipy.optimize.minimize(
        loss.loss_gradient,
        w0,
        method="L-BFGS-B",
        jac=True,
        args=(X, y, sample_weight, l2_reg_strength, 1),
        options={
            "maxiter": max_iter,
            "maxls": 50,
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
            **_get_additional_lbfgs_options_dict("iprint", iprint),
        },
    )
    n_iter = _check_optimize_result(
        "lbfgs", result, max_iter, extra_warning_msg=_LOGISTIC_SOLVER_CONVERGENCE_MSG
    )
    return result.x, n_iter


@contextlib.contextmanager
def root_only_output(comm, verbose):
    """Let only rank 0 print a verbose solver's progress."""
    if not verbose or comm.Get_rank() == 0:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield
