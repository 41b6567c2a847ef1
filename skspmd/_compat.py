"""The one place where skspmd imports private scikit-learn names.

Tested against the pinned range in ``pyproject.toml`` (scikit-learn >=1.6,<1.10).
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

try:  # scikit-learn's compiled k-means E-step (labels of the nearest center)
    from sklearn.cluster._k_means_lloyd import (
        lloyd_iter_chunked_dense,
        lloyd_iter_chunked_sparse,
    )
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # pragma: no cover - a scikit-learn without them: NumPy kernels
    lloyd_iter_chunked_dense = lloyd_iter_chunked_sparse = None

    def _openmp_effective_n_threads():
        return 1


__all__ = [
    "Interval",
    "_fit_context",
    "StrOptions",
    "_openmp_effective_n_threads",
    "lloyd_iter_chunked_dense",
    "lloyd_iter_chunked_sparse",
    "validate_params",
]
