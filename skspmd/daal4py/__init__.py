"""daal4py-compatible functions over the skspmd estimators.

A daal4py SPMD script runs on skspmd unchanged::

    mpiexec -n 4 python -m skspmd.daal4py kmeans_spmd.py   # import daal4py -> skspmd.daal4py

(``python -m skspmd.daal4py --help``), or by changing its import line::

    import skspmd.daal4py as d4p          # was: import daal4py as d4p

    d4p.daalinit()
    init = d4p.kmeans_init(10, method="plusPlusDense", distributed=True)
    centroids = init.compute("file{}.csv", d4p.my_procid()).centroids
    result = d4p.kmeans(10, 50, distributed=True).compute("file{}.csv", d4p.my_procid(), centroids)
    d4p.daalfini()

Each function has daal4py's name, parameter names and defaults, and returns
a result object with daal4py's attribute names and 2-D shapes. Each is a thin
layer: it builds the skspmd estimator (or calls :mod:`skspmd.linalg`), fits
it, and wraps the fitted attributes; no algorithm is written twice.

``compute(...)`` takes NumPy arrays, pandas DataFrames or CSV file names
(numeric, no header, a trailing comma tolerated). A file name may hold
``{}``, formatted with the integer arguments given after the inputs or, with
none, with this rank. With ``distributed=True`` the call is collective and
the result is on every rank; otherwise it uses this rank's rows alone. Errors
(a missing file, a header row, ragged rows, text fields, different column
counts on different ranks) raise the same exception on every rank.

Where daal4py's distributed mode is known to be wrong (low-order moments'
variance, ``svdDense`` PCA, regressions without intercept, the k-means
objective), the result here is the documented, rank-independent answer. See
``docs/daal4py_migration.md`` for every difference.

Supported: ``daalinit``, ``daalfini``, ``my_procid``, ``num_procs``,
``num_threads``, ``low_order_moments``, ``covariance``, ``pca``, ``svd``,
``qr``, ``linear_regression_training``/``_prediction``,
``ridge_regression_training``/``_prediction``,
``multinomial_naive_bayes_training``/``_prediction``,
``logistic_regression_training``/``_prediction`` (with its
``optimization_solver_lbfgs`` option; daal4py cannot distribute these),
``kmeans_init``, ``kmeans``, ``dbscan`` and the ``engines_mt19937``
(``_mt2203``, ``_mcg59``) seeds. Any
other daal4py name raises :class:`UnsupportedError` (a ``NotImplementedError``)
naming it.
"""

from .._daal4py._cluster import (
    engines_mcg59,
    engines_mt19937,
    engines_mt2203,
    kmeans,
    kmeans_init,
    kmeans_init_result,
    kmeans_result,
)
from .._daal4py._core import (
    UnsupportedError,
    daalfini,
    daalinit,
    my_procid,
    num_procs,
    num_threads,
)
from .._daal4py._dbscan import dbscan, dbscan_result
from .._daal4py._decomposition import pca, pca_result, qr, qr_result, svd, svd_result
from .._daal4py._linear import (
    linear_regression_model,
    linear_regression_prediction,
    linear_regression_prediction_result,
    linear_regression_training,
    linear_regression_training_result,
    ridge_regression_model,
    ridge_regression_prediction,
    ridge_regression_prediction_result,
    ridge_regression_training,
    ridge_regression_training_result,
)
from .._daal4py._logistic import (
    logistic_regression_model,
    logistic_regression_prediction,
    logistic_regression_prediction_result,
    logistic_regression_training,
    logistic_regression_training_result,
    optimization_solver_lbfgs,
)
from .._daal4py._naive_bayes import (
    multinomial_naive_bayes_model,
    multinomial_naive_bayes_prediction,
    multinomial_naive_bayes_prediction_result,
    multinomial_naive_bayes_training,
    multinomial_naive_bayes_training_result,
)
from .._daal4py._stats import (
    covariance,
    covariance_result,
    low_order_moments,
    low_order_moments_result,
)

__all__ = [
    "UnsupportedError",
    "covariance",
    "covariance_result",
    "daalfini",
    "daalinit",
    "dbscan",
    "dbscan_result",
    "engines_mcg59",
    "engines_mt19937",
    "engines_mt2203",
    "kmeans",
    "kmeans_init",
    "kmeans_init_result",
    "kmeans_result",
    "linear_regression_model",
    "linear_regression_prediction",
    "linear_regression_prediction_result",
    "linear_regression_training",
    "linear_regression_training_result",
    "logistic_regression_model",
    "logistic_regression_prediction",
    "logistic_regression_prediction_result",
    "logistic_regression_training",
    "logistic_regression_training_result",
    "low_order_moments",
    "low_order_moments_result",
    "multinomial_naive_bayes_model",
    "multinomial_naive_bayes_prediction",
    "multinomial_naive_bayes_prediction_result",
    "multinomial_naive_bayes_training",
    "multinomial_naive_bayes_training_result",
    "my_procid",
    "num_procs",
    "num_threads",
    "optimization_solver_lbfgs",
    "pca",
    "pca_result",
    "qr",
    "qr_result",
    "ridge_regression_model",
    "ridge_regression_prediction",
    "ridge_regression_prediction_result",
    "ridge_regression_training",
    "ridge_regression_training_result",
    "svd",
    "svd_result",
]

# daal4py (2025.x) functions this layer does not provide: asking for one says so.
_NOT_PROVIDED = frozenset(
    """
    adaboost_prediction adaboost_training association_rules bacon_outlier_detection
    bf_knn_classification_prediction bf_knn_classification_training brownboost_prediction
    brownboost_training cholesky correlation_distance cosine_distance daal_assert_all_finite
    daal_generate_shuffled_indices daal_roc_auc_score daal_train_test_split
    daal_tsne_gradient_descent decision_forest_classification_prediction
    decision_forest_classification_training decision_forest_regression_prediction
    decision_forest_regression_training decision_tree_classification_prediction
    decision_tree_classification_training decision_tree_regression_prediction
    decision_tree_regression_training distributions_bernoulli distributions_normal
    distributions_uniform elastic_net_prediction elastic_net_training em_gmm em_gmm_init
    enable_thread_pinning engines_mrg32k3a engines_philox4x32x10
    gbt_classification_model_builder gbt_classification_prediction gbt_classification_training
    gbt_clf_model_builder gbt_reg_model_builder gbt_regression_model_builder
    gbt_regression_prediction gbt_regression_training get_data implicit_als_prediction_ratings
    implicit_als_training implicit_als_training_init kdtree_knn_classification_prediction
    kdtree_knn_classification_training kernel_function_linear kernel_function_rbf
    lasso_regression_prediction lasso_regression_training logistic_regression_model_builder
    logitboost_prediction
    logitboost_training multi_class_classifier_prediction multi_class_classifier_training
    multivariate_outlier_detection normalization_minmax normalization_zscore
    optimization_solver_adagrad optimization_solver_coordinate_descent
    optimization_solver_cross_entropy_loss
    optimization_solver_logistic_loss optimization_solver_mse optimization_solver_precomputed
    optimization_solver_saga optimization_solver_sgd optimization_solver_sum_of_functions
    pca_transform pivoted_qr quantiles sorting stump_classification_prediction
    stump_classification_training stump_regression_prediction stump_regression_training
    svm_prediction svm_training univariate_outlier_detection
    """.split()
)


def __getattr__(name):
    if name in _NOT_PROVIDED or name.endswith(("_training", "_prediction")):
        raise UnsupportedError(
            f"skspmd.daal4py does not provide daal4py's {name!r}; it provides the "
            "distributed algorithms of daal4py's SPMD mode: low_order_moments, covariance, "
            "pca, svd, qr, linear_regression_training/_prediction, "
            "ridge_regression_training/_prediction, multinomial_naive_bayes_training/"
            "_prediction, logistic_regression_training/_prediction, kmeans_init, kmeans, "
            "dbscan"
        )
    raise AttributeError(f"module 'skspmd.daal4py' has no attribute {name!r}")
