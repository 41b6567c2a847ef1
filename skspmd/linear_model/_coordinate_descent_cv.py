"""SPMDLassoCV and SPMDElasticNetCV: the whole cross-validated path from one pass.

Each rank splits its own rows into folds (:func:`skspmd.model_selection.spmd_splits`,
the convention of the project's ``GridSearchCV``: global fold k is the union
of the ranks' local folds k) and, in one pass over its rows, computes the
weighted cross-products of ``[X | y]`` of each fold's rows, centred on that
fold's mean (:class:`skspmd._stats.CrossProducts`). They are merged over the
ranks fold by fold. From then on everything is model-sized:

- the training statistics of fold k are those of every other fold (and of
  rows in no test fold) merged with the pairwise update, i.e. the total minus
  fold k, centred on the training mean exactly as sklearn centres each
  training set; scikit-learn's solver runs the whole ``alphas`` path on them
  (:func:`._coordinate_descent.solve_path`);
- the validation error of fold k needs the held-out rows' residuals
  ``x c + b - y``; their weighted sum of squares is the quadratic form
  ``[c; -1]^T C_k [c; -1]`` of the held-out fold's own centred
  cross-products plus ``W_k (mean_x c + b - mean_y)^2``: no second pass;
- the refit on all rows uses the merge of every fold.

The ``(l1_ratio, fold)`` paths are spread over the ranks (rank ``j % size``
runs path ``j``) and their errors summed, so the path costs ``1 / size``.
"""

import numbers
import warnings
from functools import reduce

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import ElasticNetCV, LassoCV
from sklearn.utils import check_scalar

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allreduce, get_comm, replicate
from ..model_selection._search import _check_n_jobs, spmd_splits
from ._base import _as_targets, _check_total_weight, _GlobalR2Mixin, _validate_regression_data
from ._coordinate_descent import (
    check_finite_fit,
    check_gram_size,
    gram_problem,
    local_cross_products,
    reject_gram_array,
    set_linear_attributes,
    solve_path,
)

__all__ = ["SPMDElasticNetCV", "SPMDLassoCV"]


# ---------------------------------------------------------------------------
# Folds and their statistics
# ---------------------------------------------------------------------------


def _fold_of_rows(splits, n_rows):
    """Each local row's test fold (``-1``: never held out); K-fold-like splits only."""
    fold = np.full(n_rows, -1, dtype=np.intp)
    for k, (train, test) in enumerate(splits):
        in_train = np.zeros(n_rows, dtype=bool)
        in_train[train] = True
        disjoint = np.all(fold[test] == -1) and np.unique(test).size == test.size
        if not (disjoint and not in_train[test].any() and in_train.sum() + test.size == n_rows):
            raise ValueError(
                "the CV splits must hold out disjoint test folds and train on every "
                "other row (as KFold, GroupKFold, StratifiedKFold or PredefinedSplit "
                f"do): the training set of each fold is all rows minus it. Split {k} "
                "of this rank is not of that kind."
            )
        fold[test] = k
    return fold


class _Take:
    """Rows ``index`` of ``A``, sliceable by row ranges (one block copied per slice)."""

    def __init__(self, A, index):
        self.A, self.index = A, index
        self.shape = (index.shape[0],) + A.shape[1:]

    def __getitem__(self, rows):
        return self.A[self.index[rows]]


def _rows(A, index):
    """``A[index]`` without a copy when the rows are contiguous."""
    if index.size and index[-1] - index[0] + 1 == index.size:
        return A[index[0] : index[-1] + 1]
    return _Take(A, index)


def _group_statistics(X, Y, sample_weight, fold, n_folds, fit_intercept, comm):
    """Merged cross-products and global row counts of each fold, and of the never-held-out rows.

    One pass over this rank's rows (each row read once, in its fold's block),
    then one ``CrossProducts.allreduce`` per group and one reduction of the
    counts. Group ``n_folds`` holds the rows that are never held out.
    """
    with agree_on_errors(comm):
        local, counts = [], np.zeros(n_folds + 1, dtype=np.int64)
        for g in range(n_folds + 1):
            index = np.flatnonzero(fold == (g if g < n_folds else -1))
            weights = None if sample_weight is None else sample_weight[index]
            local.append(
                local_cross_products(_rows(X, index), _rows(Y, index), weights, fit_intercept)
            )
            counts[g] = index.size
    groups = [cp.allreduce(comm) for cp in local]
    return groups, allreduce(counts, comm=comm)


def _merge(parts):
    return reduce(lambda a, b: a.merge(b), parts)


def _held_out_mse(test, coefs, intercepts, n_features, centered):
    """Weighted mean squared residual of the held-out rows, per alpha (columns of ``coefs``)."""
    v = np.vstack((coefs, -np.ones((1, coefs.shape[1]))))
    quad = np.einsum("ia,ia->a", v, test.C @ v)
    with np.errstate(divide="ignore", invalid="ignore"):
        mse = quad / test.n
        if centered:
            mse = mse + (test.mean[:n_features] @ coefs + intercepts - test.mean[n_features]) ** 2
    return mse


# ---------------------------------------------------------------------------
# The alpha grid (sklearn's rule, on the merged statistics)
# ---------------------------------------------------------------------------


def _alpha_grid(total, n_features, l1_ratio, n_alphas, eps, positive):
    """``alpha_max`` from the merged ``X^T y`` and a geometric grid down to ``eps * alpha_max``."""
    if l1_ratio == 0:
        raise ValueError(
            "Automatic alpha grid generation is not supported for l1_ratio=0. "
            "Please supply a grid by providing your estimator with the appropriate "
            "`alphas=` argument."
        )
    xy = total.C[:n_features, n_features:]
    if positive:
        alpha_max = max(0, np.max(xy)) / (total.n * l1_ratio)
    else:
        alpha_max = np.sqrt(np.max(np.sum(xy**2, axis=1))) / (total.n * l1_ratio)
    if alpha_max <= np.finfo(np.float64).resolution:
        return np.full(n_alphas, np.finfo(np.float64).resolution)
    return np.geomspace(alpha_max, alpha_max * eps, num=n_alphas)


class _SPMDLinearModelCVMixin:
    """The collective ``fit`` of SPMDLassoCV and SPMDElasticNetCV."""

    def _alphas(self, total, n_features, l1_ratios):
        """The alpha grid per l1_ratio, shape ``(n_l1_ratio, n_alphas)``, decreasing."""
        alphas = self.alphas
        if alphas is None:  # scikit-learn < 1.9
            alphas = getattr(self, "n_alphas", 100)
        if isinstance(alphas, numbers.Integral):
            return np.array([
                _alpha_grid(total, n_features, r, int(alphas), self.eps, self.positive)
                for r in l1_ratios
            ])
        for index, alpha in enumerate(alphas):
            check_scalar(alpha, f"alphas[{index}]", target_type=numbers.Real, min_val=0.0,
                         include_boundaries="left")
        return np.tile(np.sort(alphas)[::-1], (len(l1_ratios), 1))

    def _validate(self, X, y, sample_weight, comm):
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm)
        with agree_on_errors(comm):
            if np.ndim(y) > 1 and np.shape(y)[1] > 1:
                raise ValueError(
                    f"For multi-task outputs, use MultiTask{type(self).__name__[4:]}"
                )
        if np.ndim(y) > 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please "
                "change the shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
        check_gram_size(self, data.n_samples, X.shape[1])
        return X, _as_targets(y), data

    @spmd_fit
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the path on every rank's rows and choose the penalty by cross-validation (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,)
            Targets of this rank's rows.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weights of this rank's rows, used in the fits and in the weighted
            mean squared error of each held-out fold (as sklearn).
        **params : dict
            ``groups`` (this rank's group labels) is passed to the splitter.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        _check_n_jobs(self.n_jobs)
        reject_gram_array(self)
        unknown = set(params) - {"groups"}
        if unknown:
            raise ValueError(f"{type(self).__name__}.fit got unexpected parameters {unknown}")
        comm = get_comm()
        if isinstance(sample_weight, numbers.Number):
            sample_weight = None
        X, Y, data = self._validate(X, y, sample_weight, comm)
        n_features = X.shape[1]
        splits = spmd_splits(self.cv, X, Y[:, 0], params.get("groups"), comm=comm)
        with agree_on_errors(comm):
            fold = _fold_of_rows(splits, X.shape[0])
        groups, counts = _group_statistics(
            X, Y, data.sample_weight, fold, len(splits), self.fit_intercept, comm
        )
        total = _merge(groups)
        if data.sample_weight is not None:
            _check_total_weight(total.n)
        empty = [k for k, g in enumerate(groups[:-1]) if not g.n > 0]
        if empty:
            raise ValueError(
                f"test fold(s) {empty} hold no rows (or only zero weights) on any rank: "
                f"{data.n_samples} rows over all ranks for {len(splits)} folds."
            )
        l1_ratios = np.atleast_1d(getattr(self, "l1_ratio", 1.0)).astype(float)
        with agree_on_errors(comm):
            alphas = self._alphas(total, n_features, l1_ratios)
        mse_paths = self._cross_validate(groups, counts, alphas, l1_ratios, n_features, X.dtype)
        self._refit(total, int(counts.sum()), alphas, l1_ratios, mse_paths, X.dtype, comm)
        return self

    def _cross_validate(self, groups, counts, alphas, l1_ratios, n_features, dtype):
        """Mean squared error per ``(l1_ratio, fold, alpha)``; the paths spread over the ranks."""
        comm = get_comm()
        n_folds = len(groups) - 1
        jobs = [(i, k) for i in range(len(l1_ratios)) for k in range(n_folds)]
        # a RandomState instance is one stream over every path, in sklearn's order
        shared_stream = self.selection == "random" and isinstance(
            self.random_state, np.random.RandomState
        )
        size, rank = comm.Get_size(), comm.Get_rank()
        mse = np.zeros((len(jobs), alphas.shape[1]))
        with agree_on_errors(comm):
            for j, (i, k) in enumerate(jobs):
                if shared_stream or j % size == rank:
                    mse[j] = self._fold_path(groups, counts, k, alphas[i], l1_ratios[i],
                                             n_features, dtype)
        if shared_stream:
            (mse,) = replicate([mse], comm)
        else:
            mse = allreduce(mse, comm=comm)  # one owner per row: the sum is exact
        return mse.reshape(len(l1_ratios), n_folds, -1)

    def _fold_path(self, groups, counts, k, alphas, l1_ratio, n_features, dtype):
        """The path trained without fold k, and its error on fold k."""
        train = _merge([g for j, g in enumerate(groups) if j != k])
        n_train = int(counts.sum() - counts[k])
        problem = gram_problem(train, n_train, n_features, self.fit_intercept, dtype)
        coefs, _, _ = solve_path(problem, 0, alphas, l1_ratio, None, self)
        coefs = coefs.astype(np.float64)
        intercepts = problem.y_offset[0] - problem.x_offset @ coefs
        if not self.fit_intercept:
            intercepts = np.zeros_like(intercepts)
        return _held_out_mse(groups[k], coefs, intercepts, n_features, self.fit_intercept)

    def _refit(self, total, n_rows, alphas, l1_ratios, mse_paths, dtype, comm):
        """Choose as sklearn does (first minimum of the fold-mean error) and refit on all rows."""
        best_mse = np.inf
        for l1_ratio, l1_alphas, mse_alphas in zip(l1_ratios, alphas, mse_paths.mean(axis=1)):
            i_best = np.argmin(mse_alphas)
            if mse_alphas[i_best] < best_mse:
                best_alpha, best_l1_ratio, best_mse = l1_alphas[i_best], l1_ratio, mse_alphas[i_best]
        n_features = total.C.shape[0] - 1
        problem = gram_problem(total, n_rows, n_features, self.fit_intercept, dtype)
        with agree_on_errors(comm):
            coefs, gaps, n_iters = solve_path(problem, 0, [best_alpha], best_l1_ratio, None, self)
        coef, gap, n_iter = replicate([coefs[:, 0], gaps[0], np.int64(n_iters[0])], comm)
        self.mse_path_ = np.squeeze(np.moveaxis(mse_paths, 2, 1)).astype(dtype)
        self.alpha_ = best_alpha
        if hasattr(self, "l1_ratio"):
            self.l1_ratio_ = best_l1_ratio
        is_grid = isinstance(self.alphas, numbers.Integral) or self.alphas is None
        self.alphas_ = (alphas[0] if len(l1_ratios) == 1 else alphas) if is_grid else alphas[0]
        set_linear_attributes(self, coef[None], problem.x_offset, problem.y_offset, dtype, True)
        self.dual_gap_ = gap.astype(dtype)[()]
        self.n_iter_ = int(n_iter)
        check_finite_fit(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_NOTES = """
    Distributed semantics: ``cv`` splits each rank's own rows (an integer or
    None gives :class:`skspmd.model_selection.KFold` on the local rows; global
    fold k is the union of the ranks' folds k, as in the project's
    ``GridSearchCV``). The splits must hold out disjoint folds and train on
    every other row (KFold, GroupKFold, StratifiedKFold, PredefinedSplit...);
    others raise a ValueError on every rank. One pass over the local rows
    computes every fold's weighted cross-products of ``[X | y]``, centred on
    the fold's mean; they are merged fold by fold (per fold an ``Allgather``
    of ``n_features + 2`` doubles per rank and a reduction of a
    ``(n_features + 1)^2`` matrix). The training statistics of fold k are
    all the other folds merged (the total minus fold k, centred on the
    training mean as sklearn centres each training set); scikit-learn's
    coordinate descent (:func:`sklearn.linear_model.enet_path` on the
    precomputed Gram matrix, scaled as sklearn's ``precompute=True``) runs
    the path on them, and the held-out error comes from the held-out fold's
    own cross-products (no second pass). The ``(l1_ratio, fold)`` paths are
    shared out over the ranks and their errors summed with one reduction
    (except with ``selection='random'`` and a RandomState instance, whose one
    stream every rank follows in sklearn's order). The refit on all rows uses
    the merge of every fold; its coefficients are broadcast from rank 0.

    With the equivalent :class:`sklearn.model_selection.PredefinedSplit` on
    all rows, ``alphas_``, ``mse_path_``, ``alpha_`` (and ``l1_ratio_``) and
    ``coef_`` equal sklearn's with ``precompute=True`` to round-off, and its
    default ``precompute='auto'`` (whose final refit does not use the Gram
    matrix) to its tolerance ``tol``. ``precompute`` is otherwise ignored (the
    Gram route is what makes the fit distributed; an array raises). The Gram
    matrix must fit: more than ``MAX_GRAM_FEATURES`` (5,000) features, or
    more features than rows over all ranks, raise a ValueError on every
    rank. ``n_jobs`` must be None or 1. ``predict`` is local; ``score`` is
    the global R^2. Sparse ``X`` is not supported.
"""


class SPMDLassoCV(LocalRowsMixin, _SPMDLinearModelCVMixin, _GlobalR2Mixin, LassoCV):
    __doc__ = """Lasso with the penalty chosen by cross-validation over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.LassoCV`: same
    parameters, attributes and ``predict``; ``fit`` is collective, reads
    every rank's rows once and cross-validates the whole path on the merged
    statistics; ``score`` is global.

    Parameters
    ----------
    eps : float, default=1e-3
        Length of the path: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        Number of alphas on the automatic grid, or the alphas to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    precompute : 'auto', bool, default='auto'
        Kept for compatibility: the merged Gram matrix is always used.
    max_iter : int, default=1000
        Maximum number of coordinate descent iterations per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y`` (sklearn's).
    copy_X : bool, default=True
        Kept for compatibility: ``fit`` never modifies ``X``.
    cv : int, cross-validation generator or iterable, default=None
        Folds of each rank's rows (None: 5 folds); see Notes.
    verbose : bool or int, default=False
        Not used.
    n_jobs : int, default=None
        Must be None or 1 under MPI.
    positive : bool, default=False
        When True, forces the coefficients to be non-negative.
    random_state : int, RandomState instance, default=None
        Seed of the coordinate order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Coordinate order of the descent.

    Attributes
    ----------
    alpha_ : float
        The penalty chosen by cross-validation.
    coef_ : ndarray of shape (n_features,)
        Parameter vector refitted on all rows with ``alpha_``.
    intercept_ : float
        Independent term.
    mse_path_ : ndarray of shape (n_alphas, n_folds)
        Mean squared error of each held-out fold along the path.
    alphas_ : ndarray of shape (n_alphas,)
        The grid of alphas used.
    dual_gap_ : float
        Dual gap at the end of the refit.
    n_iter_ : int
        Iterations of the refit's coordinate descent.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LassoCV : The single-process estimator.
    SPMDLasso : The lasso for a given penalty, over MPI ranks.
    SPMDElasticNetCV : l1 and l2 penalties, both chosen by cross-validation.

    Notes
    -----""" + _NOTES + """
    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDLassoCV
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 6)
    >>> y = X @ np.array([1.5, 0, 0, -2, 0, 0]) + 0.1 * rng.randn(100)
    >>> reg = SPMDLassoCV(cv=5).fit(X, y)
    >>> np.flatnonzero(reg.coef_), reg.coef_[[0, 3]].round(1)
    (array([0, 3]), array([ 1.5, -2. ]))
    """


class SPMDElasticNetCV(LocalRowsMixin, _SPMDLinearModelCVMixin, _GlobalR2Mixin, ElasticNetCV):
    __doc__ = """Elastic net with the penalties chosen by cross-validation over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.ElasticNetCV`: same
    parameters, attributes and ``predict``; ``fit`` is collective, reads
    every rank's rows once and cross-validates every path on the merged
    statistics; ``score`` is global.

    Parameters
    ----------
    l1_ratio : float or list of float, default=0.5
        The mixing parameter(s) to try, each in ``[0, 1]``.
    eps : float, default=1e-3
        Length of the path: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        Number of alphas on the automatic grid (per l1_ratio), or the alphas
        to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    precompute : 'auto', bool, default='auto'
        Kept for compatibility: the merged Gram matrix is always used.
    max_iter : int, default=1000
        Maximum number of coordinate descent iterations per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y`` (sklearn's).
    cv : int, cross-validation generator or iterable, default=None
        Folds of each rank's rows (None: 5 folds); see Notes.
    copy_X : bool, default=True
        Kept for compatibility: ``fit`` never modifies ``X``.
    verbose : bool or int, default=0
        Not used.
    n_jobs : int, default=None
        Must be None or 1 under MPI.
    positive : bool, default=False
        When True, forces the coefficients to be non-negative.
    random_state : int, RandomState instance, default=None
        Seed of the coordinate order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Coordinate order of the descent.

    Attributes
    ----------
    alpha_ : float
        The penalty chosen by cross-validation.
    l1_ratio_ : float
        The l1_ratio chosen by cross-validation.
    coef_ : ndarray of shape (n_features,)
        Parameter vector refitted on all rows.
    intercept_ : float
        Independent term.
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds)
        Mean squared error of each held-out fold along each path (the first
        axis dropped for one l1_ratio).
    alphas_ : ndarray of shape (n_l1_ratio, n_alphas) or (n_alphas,)
        The grids of alphas used.
    dual_gap_ : float
        Dual gap at the end of the refit.
    n_iter_ : int
        Iterations of the refit's coordinate descent.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.ElasticNetCV : The single-process estimator.
    SPMDElasticNet : The elastic net for given penalties, over MPI ranks.
    SPMDLassoCV : The l1-only special case.

    Notes
    -----""" + _NOTES + """
    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDElasticNetCV
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 6)
    >>> y = X @ np.array([1.5, 0, 0, -2, 0, 0]) + 0.1 * rng.randn(100)
    >>> reg = SPMDElasticNetCV(l1_ratio=[0.5, 0.9, 1.0], cv=5).fit(X, y)
    >>> float(reg.l1_ratio_)
    1.0
    """
