"""skspmd: scikit-learn estimators whose ``fit`` runs SPMD over MPI ranks.

Every rank runs the same script on its own rows; ``fit`` is collective and
leaves the same model on every rank; ``predict``/``transform`` are local;
``score`` is global. On one process every estimator behaves like its
scikit-learn twin. ``skspmd.daal4py`` offers the same algorithms behind
daal4py's SPMD function interface.
"""

from . import io, linalg, model_selection, pipeline
from ._comm import SPMDError, comm_context, get_comm
from ._threads import set_num_threads
from .cluster import SPMDKMeans, kmeans_plusplus
from .covariance import SPMDEmpiricalCovariance
from .decomposition import SPMDPCA, SPMDTruncatedSVD
from .linear_model import (
    SPMDElasticNet,
    SPMDElasticNetCV,
    SPMDLasso,
    SPMDLassoCV,
    SPMDLinearRegression,
    SPMDLogisticRegression,
    SPMDRidge,
    SPMDRidgeCV,
)
from .naive_bayes import SPMDGaussianNB, SPMDMultinomialNB
from .preprocessing import SPMDStandardScaler
from .stats import SPMDBasicStatistics

__version__ = "0.1.0"

__all__ = [
    "SPMDBasicStatistics",
    "SPMDElasticNet",
    "SPMDElasticNetCV",
    "SPMDEmpiricalCovariance",
    "SPMDError",
    "SPMDGaussianNB",
    "SPMDKMeans",
    "SPMDLasso",
    "SPMDLassoCV",
    "SPMDLinearRegression",
    "SPMDLogisticRegression",
    "SPMDMultinomialNB",
    "SPMDPCA",
    "SPMDRidge",
    "SPMDRidgeCV",
    "SPMDStandardScaler",
    "SPMDTruncatedSVD",
    "comm_context",
    "get_comm",
    "io",
    "kmeans_plusplus",
    "linalg",
    "model_selection",
    "pipeline",
    "set_num_threads",
]
