"""Distributed linear models: least squares, ridge, lasso, elastic net (and their CV
versions) and logistic regression."""

from ._base import SPMDLinearRegression
from ._coordinate_descent import SPMDElasticNet, SPMDLasso
from ._coordinate_descent_cv import SPMDElasticNetCV, SPMDLassoCV
from ._logistic import SPMDLogisticRegression
from ._ridge import SPMDRidge
from ._ridge_cv import SPMDRidgeCV

__all__ = [
    "SPMDElasticNet",
    "SPMDElasticNetCV",
    "SPMDLasso",
    "SPMDLassoCV",
    "SPMDLinearRegression",
    "SPMDLogisticRegression",
    "SPMDRidge",
    "SPMDRidgeCV",
]
