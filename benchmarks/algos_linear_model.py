"""Benchmarked fits: the linear models (issue: SPMDLinearRegression and SPMDRidge)."""

from _common import Algo


def _skspmd(name, **params):
    def fit(X, y):
        from skspmd import linear_model

        getattr(linear_model, name)(**params).fit(X, y)

    return fit


def _sklearn(name, **params):
    def fit(X, y):
        from sklearn import linear_model

        getattr(linear_model, name)(**params).fit(X, y)

    return fit


ALGOS = {
    "linear_regression": Algo(
        _skspmd("SPMDLinearRegression"),
        _sklearn("LinearRegression"),
        2_000_000,
        100,
        target="regression",
        daal4py="linreg",
    ),
    "linear_regression_ill": Algo(  # condition number ~1e6: the TSQR route
        _skspmd("SPMDLinearRegression"),
        _sklearn("LinearRegression"),
        2_000_000,
        100,
        kind="ill",
        target="regression",
    ),
    "ridge": Algo(
        _skspmd("SPMDRidge", alpha=1.0),
        _sklearn("Ridge", alpha=1.0),
        2_000_000,
        100,
        target="regression",
        daal4py="ridge",
    ),
    "ridge_svd": Algo(
        _skspmd("SPMDRidge", alpha=1.0, solver="svd"),
        _sklearn("Ridge", alpha=1.0, solver="svd"),
        2_000_000,
        100,
        target="regression",
    ),
}
