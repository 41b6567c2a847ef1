"""Benchmarked fits: the statistics estimators (issue: foundation)."""

from _common import Algo


def _skspmd(name, **params):
    def fit(X, y):
        import skspmd

        getattr(skspmd, name)(**params).fit(X)

    return fit


def _sklearn_moments(X, y):
    # the closest single-process equivalent of low_order_moments: NumPy reductions
    X.min(0), X.max(0), X.sum(0), X.mean(0), (X * X).sum(0), X.var(0, ddof=1)


def _sklearn(cls_path, **params):
    def fit(X, y):
        module, name = cls_path.rsplit(".", 1)
        import importlib

        getattr(importlib.import_module(module), name)(**params).fit(X)

    return fit


ALGOS = {
    "moments": Algo(
        _skspmd("SPMDBasicStatistics"), _sklearn_moments, 2_000_000, 100, daal4py="moments"
    ),
    "covariance": Algo(
        _skspmd("SPMDEmpiricalCovariance"),
        _sklearn("sklearn.covariance.EmpiricalCovariance"),
        2_000_000,
        100,
        daal4py="covariance",
    ),
    "scaler": Algo(
        _skspmd("SPMDStandardScaler"),
        _sklearn("sklearn.preprocessing.StandardScaler"),
        2_000_000,
        100,
    ),
}
