"""SPMDElasticNet and SPMDLasso: coordinate descent on the merged Gram matrix.

One pass over this rank's rows builds the weighted, centred cross-products of
``[X | y]`` (:class:`skspmd._stats.CrossProducts`, one BLAS ``syrk`` per
cache-sized block); one merge makes them global. Everything after that is
model-sized and runs identically on every rank: scikit-learn's own solver,
:func:`sklearn.linear_model.enet_path` on its precomputed-Gram route
(``precompute=Gram, Xy=X^T y``), is handed exactly what sklearn's
``ElasticNet(precompute=True).fit`` hands it after its own preprocessing.

What that is (sklearn's scaling, reproduced here): sample weights are
rescaled to sum to the number of rows ``n`` (so the penalty is scaled by ``n``
as without weights); ``X`` and ``y`` are centred on their weighted means when
``fit_intercept`` and multiplied by ``sqrt(w)``. The Gram matrix, ``X^T y``
and ``y^T y`` of those rows are our merged cross-products times
``n / sum(w)``. The solver reads ``X`` only for its shape (a zero-strided
view stands in) and ``y`` only for ``y^T y`` (its dual-gap tolerance is
``tol * y^T y``), so a one-element ``y = [sqrt(y^T y)]`` gives it that.

The shared pieces here also serve :mod:`._coordinate_descent_cv`.
"""

import numbers
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.linear_model import ElasticNet, Lasso, enet_path

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, get_comm, replicate
from .._stats import CrossProducts
from ._base import (
    _as_targets,
    _check_total_weight,
    _GlobalR2Mixin,
    _RowBlocks,
    _validate_regression_data,
)

__all__ = ["MAX_GRAM_FEATURES", "SPMDElasticNet", "SPMDLasso"]

# The Gram route holds a few n_features x n_features matrices on every rank
# (the cross-validated fits one per fold): 5,000 features is 200 MB each.
MAX_GRAM_FEATURES = 5000


# ---------------------------------------------------------------------------
# Shared steps: merged statistics -> sklearn's precomputed problem -> solver
# ---------------------------------------------------------------------------


def check_gram_size(estimator, n_samples, n_features):
    """Raise (on every rank: the numbers are global) where the Gram route does not fit."""
    name = type(estimator).__name__
    if n_features > MAX_GRAM_FEATURES:
        raise ValueError(
            f"{name} solves on the merged {n_features} x {n_features} Gram matrix, above "
            f"the limit of {MAX_GRAM_FEATURES} features "
            "(skspmd.linear_model._coordinate_descent.MAX_GRAM_FEATURES)."
        )
    if n_features > n_samples:
        raise ValueError(
            f"{name} needs at least as many samples as features over all ranks (its "
            f"Gram matrix would be larger than the data): n_samples = {n_samples}, "
            f"n_features = {n_features}."
        )


def reject_gram_array(estimator):
    """An explicit Gram matrix cannot describe rows spread over the ranks."""
    if hasattr(estimator.precompute, "__array__"):
        raise ValueError(
            f"{type(estimator).__name__} computes the Gram matrix of every rank's rows "
            "itself; an explicit precompute array is not supported. Use "
            "precompute=False or True (both take the merged-Gram route)."
        )


def local_cross_products(X, Y, sample_weight, fit_intercept):
    """This rank's cross-products of ``[X | Y]`` (centred on their weighted mean when fitting an intercept)."""
    return CrossProducts.from_rows(
        _RowBlocks(X, Y, order="C"), sample_weight, centered=fit_intercept
    )


def merged_cross_products(X, Y, sample_weight, fit_intercept, comm):
    """Every rank's cross-products of ``[X | Y]`` merged (one pass, two small collectives)."""
    cp = CrossProducts.merged(
        _RowBlocks(X, Y, order="C"), sample_weight, centered=fit_intercept, comm=comm
    )
    if sample_weight is not None:
        _check_total_weight(cp.n)
    return cp


class GramProblem(NamedTuple):
    """What sklearn's solver sees after ``_pre_fit`` with ``precompute=True``."""

    gram: np.ndarray  # (n_features, n_features), C-contiguous, in the solver dtype
    xy: np.ndarray  # (n_features, n_targets)
    yy: np.ndarray  # (n_targets,): y^T y per target
    n_samples: int  # rows (sklearn scales the penalty by it)
    x_offset: np.ndarray  # (n_features,) float64 (zeros without intercept)
    y_offset: np.ndarray  # (n_targets,)


def gram_problem(cp, n_rows, n_features, fit_intercept, dtype):
    """sklearn's precomputed problem from merged cross-products of ``n_rows`` rows.

    The weights sklearn uses sum to ``n_rows``, so the cross-products of the
    raw weights are scaled by ``n_rows / sum(w)`` (exactly 1 without weights).
    """
    scale = n_rows / cp.n if cp.n > 0 else 1.0
    C = cp.C if scale == 1.0 else cp.C * scale
    p = n_features
    mean = cp.mean if fit_intercept else np.zeros_like(cp.mean)
    return GramProblem(
        gram=np.ascontiguousarray(C[:p, :p], dtype=dtype),
        xy=np.array(C[:p, p:], dtype=dtype),
        yy=np.diag(C)[p:].astype(dtype),
        n_samples=int(n_rows),
        x_offset=mean[:p],
        y_offset=mean[p:],
    )


def solve_path(problem, target, alphas, l1_ratio, coef_init, estimator):
    """sklearn's ``enet_path`` on the precomputed problem for one target.

    Returns ``(coefs of shape (n_features, n_alphas), dual_gaps, n_iters)``.
    ``estimator`` supplies ``positive``, ``tol``, ``max_iter``,
    ``random_state`` and ``selection``.
    """
    dtype = problem.gram.dtype
    n_features = problem.gram.shape[0]
    shape_only = np.broadcast_to(np.zeros((), dtype=dtype), (problem.n_samples, n_features))
    y_norm = np.array([np.sqrt(max(problem.yy[target], 0.0))], dtype=dtype)
    if coef_init is None:
        coef_init = np.zeros(n_features, dtype=dtype)
    _, coefs, gaps, n_iters = enet_path(
        shape_only,
        y_norm,
        l1_ratio=l1_ratio,
        alphas=np.asarray(alphas, dtype=np.float64),
        precompute=problem.gram,
        Xy=np.ascontiguousarray(problem.xy[:, target]),
        copy_X=False,
        coef_init=np.array(coef_init, dtype=dtype, order="F"),
        return_n_iter=True,
        positive=estimator.positive,
        check_input=False,
        tol=estimator.tol,
        max_iter=estimator.max_iter,
        random_state=estimator.random_state,
        selection=estimator.selection,
    )
    return coefs, gaps, n_iters


def set_linear_attributes(estimator, coef, x_offset, y_offset, dtype, y_1d):
    """``coef_`` and ``intercept_`` with sklearn's shapes and dtypes (``_set_intercept``)."""
    coef = np.asarray(coef, dtype=dtype)
    estimator.coef_ = coef[0] if coef.shape[0] == 1 else coef
    if estimator.fit_intercept:
        y_offset = np.asarray(y_offset, dtype=dtype)
        if y_1d:
            y_offset = y_offset[0]
        estimator.intercept_ = y_offset - x_offset.astype(dtype) @ estimator.coef_.T
    else:
        estimator.intercept_ = 0.0


def check_finite_fit(estimator):
    """sklearn's check after coordinate descent (the values are replicated: every rank raises)."""
    if not all(np.isfinite(w).all() for w in (estimator.coef_, estimator.intercept_)):
        raise ValueError(
            "Coordinate descent iterations resulted in non-finite parameter"
            " values. The input data may contain large values and need to"
            " be preprocessed."
        )


# ---------------------------------------------------------------------------
# The estimators
# ---------------------------------------------------------------------------


class _GramCDMixin:
    """The collective ``fit`` of SPMDElasticNet and SPMDLasso."""

    @spmd_fit
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the model by coordinate descent on every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of this rank's rows.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weights of this rank's rows. As in sklearn they are rescaled to sum
            to the number of rows (over all ranks); a float means no weights.
        check_input : bool, default=True
            Kept for compatibility; the input is always validated (the
            validation is also what keeps the ranks in agreement).

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        reject_gram_array(self)
        comm = get_comm()
        if self.alpha == 0:
            warnings.warn(
                "With alpha=0, this algorithm does not converge well. You are "
                "advised to use the LinearRegression estimator",
                stacklevel=2,
            )
        if isinstance(sample_weight, numbers.Number):
            sample_weight = None
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm)
        n_features = X.shape[1]
        check_gram_size(self, data.n_samples, n_features)
        Y = _as_targets(y)
        cp = merged_cross_products(X, Y, data.sample_weight, self.fit_intercept, comm)
        problem = gram_problem(cp, data.n_samples, n_features, self.fit_intercept, X.dtype)
        coef, gaps, n_iter = self._solve(problem, X.dtype)
        coef, gaps, n_iter = replicate([coef, gaps, n_iter], comm)
        if Y.shape[1] == 1:
            self.n_iter_ = int(n_iter[0])
            self.dual_gap_ = gaps[0]
        else:
            self.n_iter_ = [int(i) for i in n_iter]
            self.dual_gap_ = gaps
        set_linear_attributes(
            self, coef, problem.x_offset, problem.y_offset, X.dtype, np.ndim(y) == 1
        )
        check_finite_fit(self)
        return self

    def _solve(self, problem, dtype):
        """Each target's coordinate descent, as sklearn's ``fit`` loops over them."""
        n_features, n_targets = problem.xy.shape
        if self.warm_start and hasattr(self, "coef_"):
            start = np.atleast_2d(self.coef_)
        else:
            start = np.zeros((n_targets, n_features), dtype=dtype)
        coef = np.empty((n_targets, n_features), dtype=dtype)
        gaps = np.zeros(n_targets, dtype=dtype)
        n_iter = np.zeros(n_targets, dtype=np.int64)
        with agree_on_errors(get_comm()):
            for k in range(n_targets):
                coefs, path_gaps, iters = solve_path(
                    problem, k, [self.alpha], self.l1_ratio, start[k], self
                )
                coef[k], gaps[k], n_iter[k] = coefs[:, 0], path_gaps[0], iters[0]
        return coef, gaps, n_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_NOTES = """
    Distributed semantics: one pass over this rank's rows computes the
    weighted, centred cross-products of ``[X | y]`` (cache-sized blocks, one
    BLAS ``syrk`` each); an ``Allgather`` of ``n_features + n_targets + 1``
    doubles per rank and one reduction of the ``(n_features + n_targets)^2``
    matrix merge them. Every rank then runs scikit-learn's coordinate descent
    (:func:`sklearn.linear_model.enet_path` with the precomputed Gram matrix
    and ``X^T y``, scaled exactly as sklearn's ``fit`` scales them) on those
    model-sized, identical statistics; the coefficients, dual gap and
    iteration count are broadcast from rank 0. So ``coef_``, ``intercept_``,
    ``dual_gap_`` and ``n_iter_`` equal sklearn's ``precompute=True`` fit on
    all rows to round-off, and sklearn's default (``precompute=False``) fit
    to its tolerance ``tol``. ``selection='random'`` draws from the same
    stream as sklearn for the same ``random_state``.

    ``precompute`` is accepted for compatibility, but the merged Gram matrix
    is always used: it is what makes the fit distributed (a fit on ``X``
    itself would re-read every rank's rows at every iteration). An explicit
    Gram array raises a ValueError (it cannot describe rows spread over the
    ranks). The Gram matrix must fit: more than ``MAX_GRAM_FEATURES`` (5,000)
    features, or more features than rows over all ranks, raise a ValueError
    on every rank. ``predict`` is local; ``score`` is the global R^2. Sparse
    ``X`` is not supported.
"""


class SPMDElasticNet(LocalRowsMixin, _GramCDMixin, _GlobalR2Mixin, ElasticNet):
    __doc__ = """Linear regression with combined l1 and l2 priors over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.ElasticNet`: same
    parameters, attributes and ``predict``; ``fit`` is collective and learns
    from the rows of every rank; ``score`` is global. It minimises
    ``1 / (2 n) ||y - Xw||^2 + alpha l1_ratio ||w||_1
    + 0.5 alpha (1 - l1_ratio) ||w||^2`` over all ``n`` rows.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the penalty terms.
    l1_ratio : float, default=0.5
        The mixing parameter, ``0 <= l1_ratio <= 1`` (1 is the lasso).
    fit_intercept : bool, default=True
        Whether to fit an intercept (the data are then centred on their
        weighted means, as sklearn does).
    precompute : bool, default=False
        Kept for compatibility: the merged Gram matrix is always used (see
        Notes). An array raises a ValueError.
    max_iter : int, default=1000
        Maximum number of coordinate descent iterations.
    copy_X : bool, default=True
        Kept for compatibility: ``fit`` never modifies ``X``.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y`` (sklearn's).
    warm_start : bool, default=False
        Start from the previous ``coef_`` (identical on every rank).
    positive : bool, default=False
        When True, forces the coefficients to be non-negative.
    random_state : int, RandomState instance, default=None
        Seed of the coordinate order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Coordinate order of the descent.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector.
    sparse_coef_ : sparse matrix of shape (n_features,) or (n_targets, n_features)
        Sparse representation of ``coef_``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term.
    n_iter_ : int or list of int
        Iterations of the coordinate descent per target.
    dual_gap_ : float or ndarray of shape (n_targets,)
        The dual gaps at the end of the optimization per target.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.ElasticNet : The single-process estimator.
    SPMDElasticNetCV : The penalty chosen by cross-validation, over MPI ranks.
    SPMDLasso : The l1-only special case.

    Notes
    -----""" + _NOTES + """
    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDElasticNet
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(50, 4)
    >>> y = X @ np.array([1.0, 0.0, -2.0, 0.0]) + 0.5
    >>> reg = SPMDElasticNet(alpha=0.1, l1_ratio=0.7).fit(X, y)
    >>> np.flatnonzero(reg.coef_), reg.coef_[[0, 2]].round(2)
    (array([0, 2]), array([ 0.89, -1.79]))
    """


class SPMDLasso(LocalRowsMixin, _GramCDMixin, _GlobalR2Mixin, Lasso):
    __doc__ = """Linear model trained with an l1 prior over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.Lasso`: same
    parameters, attributes and ``predict``; ``fit`` is collective and learns
    from the rows of every rank; ``score`` is global. It minimises
    ``1 / (2 n) ||y - Xw||^2 + alpha ||w||_1`` over all ``n`` rows.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the l1 term.
    fit_intercept : bool, default=True
        Whether to fit an intercept (the data are then centred on their
        weighted means, as sklearn does).
    precompute : bool, default=False
        Kept for compatibility: the merged Gram matrix is always used (see
        Notes). An array raises a ValueError.
    copy_X : bool, default=True
        Kept for compatibility: ``fit`` never modifies ``X``.
    max_iter : int, default=1000
        Maximum number of coordinate descent iterations.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y`` (sklearn's).
    warm_start : bool, default=False
        Start from the previous ``coef_`` (identical on every rank).
    positive : bool, default=False
        When True, forces the coefficients to be non-negative.
    random_state : int, RandomState instance, default=None
        Seed of the coordinate order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Coordinate order of the descent.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector.
    sparse_coef_ : sparse matrix of shape (n_features,) or (n_targets, n_features)
        Sparse representation of ``coef_``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term.
    n_iter_ : int or list of int
        Iterations of the coordinate descent per target.
    dual_gap_ : float or ndarray of shape (n_targets,)
        The dual gaps at the end of the optimization per target.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.Lasso : The single-process estimator.
    SPMDLassoCV : The penalty chosen by cross-validation, over MPI ranks.
    SPMDElasticNet : l1 and l2 penalties together.

    Notes
    -----""" + _NOTES + """
    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDLasso
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(50, 4)
    >>> y = X @ np.array([1.0, 0.0, -2.0, 0.0]) + 0.5
    >>> reg = SPMDLasso(alpha=0.1).fit(X, y)
    >>> np.flatnonzero(reg.coef_), reg.coef_[[0, 2]].round(2)
    (array([0, 2]), array([ 0.9 , -1.83]))
    """
