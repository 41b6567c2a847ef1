"""Benchmarked fits: the linear models.

SPMDLinearRegression and SPMDRidge; SPMDLasso, SPMDElasticNet, SPMDLassoCV and
SPMDRidgeCV (issue 14: one pass to the merged Gram matrix, the rest
model-sized). ``gram_pass`` times that single pass alone (the merged, centred
cross-products of ``[X | y]``), so ``gram_pass / lasso`` is the share of a fit
spent reading the data. sklearn's side of ``gram_pass`` is the centred
``X^T X`` and ``X^T y`` in NumPy.
"""

from _common import Algo


def _skspmd(name, **params):
    def fit(X, y):
        from skspmd import linear_model

        getattr(linear_model, name)(**params).fit(X, y)

    return fit


def _gram_pass(X, y):
    from skspmd._stats import CrossProducts
    from skspmd.linear_model._base import _RowBlocks

    CrossProducts.merged(_RowBlocks(X, y.reshape(-1, 1), order="C"), centered=True)


def _numpy_gram(X, y):
    Xc = X - X.mean(axis=0)
    Xc.T @ Xc, Xc.T @ (y - y.mean())


def _alphas20():
    import numpy as np

    return np.logspace(-3, 3, 20)


def _ridge_cv(module, name):
    def fit(X, y):
        import importlib

        getattr(importlib.import_module(module), name)(alphas=_alphas20()).fit(X, y)

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
    "gram_pass": Algo(  # the single data pass of the four fits below
        _gram_pass,
        _numpy_gram,
        2_000_000,
        100,
        target="regression",
    ),
    "lasso": Algo(
        _skspmd("SPMDLasso", alpha=0.1),
        _sklearn("Lasso", alpha=0.1),
        2_000_000,
        100,
        target="regression",
    ),
    "elastic_net": Algo(
        _skspmd("SPMDElasticNet", alpha=0.1, l1_ratio=0.5),
        _sklearn("ElasticNet", alpha=0.1, l1_ratio=0.5),
        2_000_000,
        100,
        target="regression",
    ),
    "lasso_cv": Algo(  # 5 folds x 100 alphas
        _skspmd("SPMDLassoCV", cv=5, alphas=100),
        _sklearn("LassoCV", cv=5, alphas=100),
        2_000_000,
        100,
        target="regression",
    ),
    "ridge_cv": Algo(  # 20 alphas, efficient leave-one-out
        _ridge_cv("skspmd.linear_model", "SPMDRidgeCV"),
        _ridge_cv("sklearn.linear_model", "RidgeCV"),
        2_000_000,
        100,
        target="regression",
    ),
}
