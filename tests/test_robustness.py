"""The robustness matrix: every public estimator x bad input, at every size.

Each case asserts the same exception type on every rank, a message naming the
failing rank (when more than one rank runs), and (through the harness's
timeouts) no hang. "one rank empty" must succeed.
"""

import numpy as np
import pytest
from helpers import WORLD

import skspmd

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
BAD = SIZE - 1  # the rank that gets the bad input
ROWS, FEATURES = 12, 4


def _estimators():
    out = []
    for name in sorted(skspmd.__all__):
        obj = getattr(skspmd, name)
        if isinstance(obj, type) and name.startswith("SPMD") and hasattr(obj, "fit"):
            out.append(obj)
    return out


ESTIMATORS = _estimators()


def _needs_y(est):
    return est.__sklearn_tags__().target_tags.required


def _good(rows=ROWS, features=FEATURES):
    rng = np.random.default_rng(100 + RANK)
    X = rng.poisson(3.0, size=(rows, features)).astype(np.float64) + rng.random((rows, features))
    y = (np.arange(rows) + RANK) % 3
    return X, y


class Faulty:
    """Array-like whose conversion fails: an exception inside a local step."""

    shape = (ROWS, FEATURES)
    ndim = 2
    dtype = np.dtype(np.float64)

    def __len__(self):
        return ROWS

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("injected fault while reading this rank's block")


def _case(case):
    """(X, y, expected exception type or None, message pattern) for this rank."""
    X, y = _good()
    bad_here = RANK == BAD
    if case == "nan":
        if bad_here:
            X[3, 1] = np.nan
        return X, y, ValueError, "NaN"
    if case == "inf":
        if bad_here:
            X[0, 0] = np.inf
        return X, y, ValueError, "infinity"
    if case == "n_features":
        if SIZE == 1:
            return None
        if bad_here:
            X = np.hstack([X, X[:, :1]])
        return X, y, ValueError, "features"
    if case == "y_missing":
        if bad_here:
            y = None
        return X, y, ValueError, "requires y|y is None|y to be passed"
    if case == "y_length":
        if bad_here:
            y = y[:-2]
        return X, y, ValueError, "inconsistent numbers of samples|samples"
    if case == "all_empty":
        return X[:0], y[:0], ValueError, "0 sample"
    if case == "one_empty":
        if bad_here and SIZE > 1:
            X, y = X[:0], y[:0]
        return X, y, None, None
    if case == "strings":
        if bad_here:
            X = X.astype(str).astype(object)
            X[0, 0] = "abc"
        return X, y, ValueError, "convert|string"
    if case == "3d":
        if bad_here:
            X = X.reshape(ROWS, 2, 2)
        return X, y, ValueError, "dim 3|3D|dimension"
    if case == "complex":
        if bad_here:
            X = X + 1j
        return X, y, ValueError, "Complex"
    if case == "fault":
        if bad_here:
            X = Faulty()
        return X, y, RuntimeError, "injected fault"
    raise AssertionError(case)


CASES = [
    "nan", "inf", "n_features", "y_missing", "y_length", "all_empty", "one_empty",
    "strings", "3d", "complex", "fault",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda c: c.__name__)
def test_bad_input_raises_on_every_rank(Est, case):
    est = Est()
    supervised = _needs_y(est)
    if case.startswith("y_") and not supervised:
        pytest.skip("unsupervised: y is ignored")
    spec = _case(case)
    if spec is None:
        pytest.skip("needs two ranks")
    X, y, expected, pattern = spec
    fit = (lambda: est.fit(X, y)) if supervised else (lambda: est.fit(X))
    if expected is None:
        fit()
        assert est.n_features_in_ == FEATURES
        # row-wise methods are local and accept this rank's zero rows
        for method in ("predict", "transform", "predict_proba", "score_samples",
                       "decision_function", "inverse_transform"):
            if hasattr(est, method) and method != "inverse_transform":
                out = getattr(est, method)(X)
                assert out.shape[0] == X.shape[0], method
        return
    with pytest.raises(expected, match=pattern) as err:
        fit()
    if SIZE > 1 and case not in ("all_empty",):
        assert f"rank {BAD}" in str(err.value) or "ranks" in str(err.value)
    # every rank raised the same type and is still in step
    assert WORLD.allgather(type(err.value).__name__) == [type(err.value).__name__] * SIZE
