"""The one place where skspmd imports private scikit-learn names.

Tested against the pinned range in ``pyproject.toml`` (scikit-learn >=1.6,<1.10).
Every private scikit-learn name skspmd relies on is listed here, so a new
scikit-learn release is checked against one list.

Imported here (and only here):

- ``sklearn.base._fit_context``: the fit-context decorator under
  :func:`skspmd._base.spmd_fit` (parameter validation, nested-validation
  skipping);
- ``sklearn.utils._param_validation.Interval``, ``StrOptions``: parameter
  constraints of skspmd's own parameters (``SPMDKMeans``,
  ``SPMDBasicStatistics``);
- ``sklearn.cluster._k_means_lloyd.lloyd_iter_chunked_dense``,
  ``lloyd_iter_chunked_sparse`` and
  ``sklearn.utils._openmp_helpers._openmp_effective_n_threads``: the compiled
  k-means E-step (a NumPy fallback when they are missing);
- ``sklearn._loss.loss.HalfBinomialLoss``, ``HalfMultinomialLoss``: the
  pointwise logistic losses, gradients and Hessians (SPMDLogisticRegression);
- ``sklearn.linear_model._linear_loss.LinearModelLoss``: the interface of a
  linear model's loss that ``skspmd._linear_loss.MergedLinearLoss`` implements
  over the rows of every rank (subclassed; it uses the inherited
  ``weight_intercept``, ``weight_intercept_raw`` and ``l2_penalty``);
- ``sklearn.linear_model._glm._newton_solver.NewtonCholeskySolver``: the
  Newton-Cholesky iteration, run on merged gradients and Hessians
  (subclassed; ``inner_solve`` is extended, and its attributes
  ``coef_newton``, ``gradient_times_newton``, ``use_fallback_lbfgs_solve``
  and ``iteration`` are read);
- ``sklearn.utils.optimize._check_optimize_result``,
  ``sklearn.utils.fixes._get_additional_lbfgs_options_dict`` and
  ``sklearn.linear_model._logistic._LOGISTIC_SOLVER_CONVERGENCE_MSG``:
  L-BFGS's iteration count, options and convergence warning as sklearn's;
- ``sklearn.metrics._pairwise_distances_reduction.ArgKmin``,
  ``RadiusNeighbors``: the compiled brute-force k-nearest and radius searches
  run on each training block by the neighbour estimators and SPMDDBSCAN
  (``compute``, ``is_usable_for``; scikit-learn's chunked
  ``pairwise_distances`` when they are missing or not usable).

Private attributes and methods of the scikit-learn parent classes, used by
the subclasses (no import; they break as an ``AttributeError`` or a wrong
signature if scikit-learn renames them):

- ``StandardScaler._reset`` (``SPMDStandardScaler.fit``);
- ``EmpiricalCovariance._set_covariance`` (``SPMDEmpiricalCovariance.fit``);
- ``PCA._fit_svd_solver``, the resolved solver, set as scikit-learn sets it;
- ``_BaseDiscreteNB._init_counters``, ``_check_alpha``,
  ``_update_class_log_prior`` and ``MultinomialNB._update_feature_log_prob``
  (``SPMDMultinomialNB``), and ``_BaseDiscreteNB._check_X``, overridden so
  prediction accepts a rank with zero rows;
- ``_BaseKMeans._check_test_data``, ``_validate_center_shape`` and the
  ``_n_features_out`` attribute (``SPMDKMeans``);
- ``RandomizedSearchCV._run_search``, overridden
  (``skspmd.model_selection.RandomizedSearchCV``);
- ``NeighborsBase._check_algorithm_metric`` (the neighbour estimators' and
  SPMDDBSCAN's ``fit``), and the attributes ``_fit_X``, ``_fit_method``,
  ``_tree``, ``_y`` set as scikit-learn sets them (this rank's rows).
"""

from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
from sklearn.base import _fit_context
from sklearn.linear_model._glm._newton_solver import NewtonCholeskySolver
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.optimize import _check_optimize_result

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


try:
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:  # pragma: no cover - older scikit-learn: scipy still takes iprint

    def _get_additional_lbfgs_options_dict(key, value):
        return {key: value}


try:
    from sklearn.linear_model._logistic import _LOGISTIC_SOLVER_CONVERGENCE_MSG
except ImportError:  # pragma: no cover
    _LOGISTIC_SOLVER_CONVERGENCE_MSG = None


try:  # scikit-learn's compiled brute-force neighbour searches (chunked GEMM + heaps)
    from sklearn.metrics._pairwise_distances_reduction import ArgKmin, RadiusNeighbors
except ImportError:  # pragma: no cover - a scikit-learn without them: chunked NumPy
    ArgKmin = RadiusNeighbors = None


__all__ = [
    "ArgKmin",
    "HalfBinomialLoss",
    "HalfMultinomialLoss",
    "Interval",
    "LinearModelLoss",
    "NewtonCholeskySolver",
    "RadiusNeighbors",
    "StrOptions",
    "_LOGISTIC_SOLVER_CONVERGENCE_MSG",
    "_check_optimize_result",
    "_fit_context",
    "_get_additional_lbfgs_options_dict",
    "_openmp_effective_n_threads",
    "lloyd_iter_chunked_dense",
    "lloyd_iter_chunked_sparse",
    "validate_params",
]
