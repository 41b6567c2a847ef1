"""skspmd: scikit-learn estimators whose ``fit`` runs SPMD over MPI ranks.

Every rank runs the same script on its own rows; ``fit`` is collective and
leaves the same model on every rank; ``predict``/``transform`` are local;
``score`` is global. On one process every estimator behaves like its
scikit-learn twin.
"""

from . import io
from ._comm import SPMDError, comm_context, get_comm, set_num_threads
from .covariance import SPMDEmpiricalCovariance
from .preprocessing import SPMDStandardScaler
from .stats import SPMDBasicStatistics

__version__ = "0.1.0"

__all__ = [
    "SPMDBasicStatistics",
    "SPMDEmpiricalCovariance",
    "SPMDError",
    "SPMDStandardScaler",
    "comm_context",
    "get_comm",
    "io",
    "set_num_threads",
]
