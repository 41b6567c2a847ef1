"""skspmd: scikit-learn estimators whose ``fit`` runs SPMD over MPI ranks.

Every rank runs the same script on its own rows; ``fit`` is collective and
leaves the same model on every rank; ``predict``/``transform`` are local;
``score`` is global. On one process every estimator behaves like its
scikit-learn twin. ``skspmd.daal4py`` offers the same algorithms behind
daal4py's SPMD function interface.
"""

from . import io, linalg, model_selection, pipeline
from ._comm import SPMDError, comm_context, get_comm
from ._runtime import abort_on_exception, configure as _configure_runtime
from ._show_versions import show_versions
from ._threads import set_num_threads
from .cluster import SPMDDBSCAN, SPMDKMeans, kmeans_plusplus
from .covariance import SPMDEmpiricalCovariance
from .decomposition import SPMDPCA, SPMDIncrementalPCA, SPMDTruncatedSVD
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
from .neighbors import SPMDKNeighborsClassifier, SPMDKNeighborsRegressor, SPMDNearestNeighbors
from .preprocessing import SPMDStandardScaler
from .stats import SPMDBasicStatistics

__version__ = "0.1.0"

# the launcher check, SKSPMD_TIMEOUT and SKSPMD_ABORT_ON_EXCEPTION (read once, here)
_configure_runtime()

__all__ = [
    "SPMDBasicStatistics",
    "SPMDDBSCAN",
    "SPMDElasticNet",
    "SPMDElasticNetCV",
    "SPMDEmpiricalCovariance",
    "SPMDError",
    "SPMDIncrementalPCA",
    "SPMDGaussianNB",
    "SPMDKMeans",
    "SPMDKNeighborsClassifier",
    "SPMDKNeighborsRegressor",
    "SPMDLasso",
    "SPMDLassoCV",
    "SPMDLinearRegression",
    "SPMDLogisticRegression",
    "SPMDMultinomialNB",
    "SPMDNearestNeighbors",
    "SPMDPCA",
    "SPMDRidge",
    "SPMDRidgeCV",
    "SPMDStandardScaler",
    "SPMDTruncatedSVD",
    "abort_on_exception",
    "comm_context",
    "get_comm",
    "io",
    "kmeans_plusplus",
    "linalg",
    "model_selection",
    "pipeline",
    "set_num_threads",
    "show_versions",
]
