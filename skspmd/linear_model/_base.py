"""SPMDLinearRegression and what the linear models share.

Shared pieces (used by :mod:`._ridge` too):

- :class:`_RowBlocks`, a lazy row-block view of ``sqrt(w) * ([X | Y] - mean)``:
  the centred, weighted design and targets side by side, produced one
  cache-sized block at a time so the whole centred copy never exists;
- :func:`_centered_gram`, the merged centred cross-products of ``[X | Y]``
  (Ridge's ``cholesky`` solver and LinearRegression's first route), and
  :func:`_r_from_gram`, the R factor from them when ``X`` is well conditioned;
- ``skspmd._tsqr.tsqr_r``, the replicated R factor of a row-distributed
  tall matrix (shared with QR, SVD and PCA), the accurate route;
- :class:`_GlobalR2Mixin`, the collective ``score`` (global coefficient of
  determination).

Why the R factor of ``[Xc | yc]`` is all a least-squares fit needs: with
``[Xc | yc] = Q R`` and ``R = [[R_xx, z], [0, r_yy]]``, ``R_xx`` is the R factor
of ``Xc`` and ``z = Q_x^T yc``, so ``||Xc b - yc||^2 = ||R_xx b - z||^2 + c``.
Every solve (minimum-norm least squares, non-negative least squares, ridge)
then runs on ``R_xx`` and ``z``, small and replicated, without ever forming
``Q``. The singular values of ``R_xx`` are those of ``Xc``, so the rank and
``singular_`` come out as scipy's ``lstsq`` on the whole data reports them.
"""

from typing import NamedTuple

import numpy as np
import scipy.linalg
from joblib import Parallel, delayed
from scipy import optimize
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_is_fitted

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allgather_array, get_comm, replicate
from .._stats import CrossProducts, Moments, column_mean, r2_from_moments
from .._tsqr import NORMAL_EQUATIONS_MAX_COND, conditioned_cholesky, tsqr_r
from .._validation import validate_spmd_data
from ._incremental import LeastSquaresPartialFit

__all__ = ["SPMDLinearRegression"]



# ---------------------------------------------------------------------------
# The centred, weighted [X | Y], block by block
# ---------------------------------------------------------------------------


class _RowBlocks:
    """Lazy ``sqrt(w)[:, None] * (np.hstack((X, Y)) - mean)``, one row slice at a time.

    Slicing (``view[a:b]``) returns a new float64 block in ``order`` (``"F"``
    for LAPACK's QR, ``"C"`` for the Gram products, where it copies faster);
    the inputs are never modified. ``np.asarray(view)`` materialises the
    whole matrix (for code that needs an ndarray).
    """

    def __init__(self, X, Y, mean=None, sqrt_w=None, order="F"):
        self.X = X
        self.Y = Y
        self.mean = mean
        self.sqrt_w = sqrt_w
        self.order = order
        self.p = X.shape[1]
        self.shape = (X.shape[0], X.shape[1] + Y.shape[1])
        self.dtype = np.dtype(np.float64)
        self.ndim = 2

    def __getitem__(self, rows):
        if not isinstance(rows, slice):
            raise TypeError("_RowBlocks supports row slices only")
        X, Y = self.X[rows], self.Y[rows]
        block = np.empty((X.shape[0], self.shape[1]), dtype=np.float64, order=self.order)
        block[:, : self.p] = X
        block[:, self.p :] = Y
        if self.mean is not None:
            block -= self.mean
        if self.sqrt_w is not None:
            block *= self.sqrt_w[rows][:, None]
        return block

    def fill_shifted(self, start, stop, out, shift):
        """Write rows ``[start, stop)`` minus ``shift`` into ``out`` (no temporary)."""
        if self.mean is not None:
            shift = shift + self.mean
        np.subtract(self.X[start:stop], shift[: self.p], out=out[:, : self.p])
        np.subtract(self.Y[start:stop], shift[self.p :], out=out[:, self.p :])
        if self.sqrt_w is not None:
            out *= self.sqrt_w[start:stop, None]

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = self[0 : self.shape[0]]
        return out if dtype is None else out.astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# Shared fit steps
# ---------------------------------------------------------------------------


def _validate_regression_data(estimator, X, y, sample_weight, comm, reset=True):
    """Validate this rank's ``X``, ``y`` and weights and agree with the other ranks."""
    return validate_spmd_data(
        estimator,
        X,
        y,
        reset=reset,
        comm=comm,
        sample_weight=sample_weight,
        dtype=[np.float64, np.float32],
        multi_output=True,
        y_numeric=True,
    )


def _check_total_weight(weight):
    """sklearn's check on all-zero weights, on the global sum (every rank raises)."""
    if not weight > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")


def _total_weight(sample_weight, comm):
    """Global sum of the weights (one tiny ``Allgather``)."""
    local = np.array([0.0 if sample_weight is None else float(np.sum(sample_weight))])
    return float(allgather_array(local, comm).sum())


def _centered_r(X, Y, sample_weight, fit_intercept, counts, comm):
    """Means and replicated R factor of ``sqrt(w) * ([X | Y] - mean)``.

    Returns ``(mean, R, cp)``: ``mean`` has ``n_features + n_targets``
    entries (zeros when ``fit_intercept`` is False), ``R`` is square of that
    size (zero rows appended when the data have fewer rows than columns);
    ``cp`` the :class:`~skspmd._stats.CrossProducts` they amount to
    (``C = R^T R``; what ``partial_fit`` continues from). Two passes over the
    local rows (weighted sums, then TSQR) and two small collectives.
    ``counts`` are the rows per rank.
    """
    raw = _RowBlocks(X, Y, order="C")
    if fit_intercept:
        weight, mean = column_mean(raw, sample_weight, comm)
        if sample_weight is not None:
            _check_total_weight(weight)
    else:
        weight = float(np.sum(counts))
        if sample_weight is not None:
            weight = _total_weight(sample_weight, comm)
            _check_total_weight(weight)
        mean = np.zeros(raw.shape[1])
    sqrt_w = None if sample_weight is None else np.sqrt(sample_weight)
    view = _RowBlocks(X, Y, mean if fit_intercept else None, sqrt_w)
    R = tsqr_r(view, counts, comm)
    square = np.zeros((view.shape[1], view.shape[1]))
    square[: R.shape[0]] = R
    return mean, square, CrossProducts(weight, mean, square.T @ square, fit_intercept)


def _centered_gram(X, Y, sample_weight, fit_intercept, comm):
    """Means and merged cross-products of ``sqrt(w) * ([X | Y] - mean)``.

    Returns ``(mean, C, cp)``: ``C`` is the ``(n_features + n_targets)``-square
    Gram matrix of the centred (``fit_intercept``) or raw, weighted columns,
    bitwise identical on every rank, ``cp`` the merged
    :class:`~skspmd._stats.CrossProducts` holding it. One pass over the local
    rows (cache-sized blocks, one BLAS ``syrk`` each) and two small
    collectives. Raises on every rank when all weights are zero.
    """
    cp = CrossProducts.merged(
        _RowBlocks(X, Y, order="C"), sample_weight, centered=fit_intercept, comm=comm
    )
    if sample_weight is not None:
        _check_total_weight(cp.n)
    mean = cp.mean if fit_intercept else np.zeros_like(cp.mean)
    return mean, cp.C, cp


def _r_from_gram(C, n_features):
    """The least-squares system from the merged Gram matrix, or None when it is not accurate enough.

    Returns ``(factor, Z)``: ``factor.R`` is the Cholesky factor ``R_xx`` of
    ``C_xx = Xc^T Xc`` (the R factor of ``Xc`` up to row signs), with its SVD
    (``factor.U``, ``factor.s``, ``factor.Vt``), and ``Z = R_xx^{-T} Xc^T yc``:
    the same small least-squares system ``min ||R_xx b - Z||`` as the TSQR
    route produces. None when ``C_xx`` is not numerically positive definite
    or the estimated condition number of ``Xc`` reaches
    ``NORMAL_EQUATIONS_MAX_COND`` (1e4; see
    :func:`skspmd._tsqr.conditioned_cholesky` for why).
    """
    A, Xy = C[:n_features, :n_features], C[:n_features, n_features:]
    factor = conditioned_cholesky(A, NORMAL_EQUATIONS_MAX_COND, svd=True)
    if factor is None:
        return None
    Z = scipy.linalg.solve_triangular(factor.R, Xy, trans="T", check_finite=False)
    return factor, Z


def _as_targets(y):
    """``y`` as a float64 2-D array ``(n_samples, n_targets)``."""
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(-1, 1) if y.ndim == 1 else y


def _set_coef_and_intercept(estimator, coef, mean, n_features, y_ndim, dtype):
    """sklearn's shapes and dtypes: ``coef_`` (n_targets, n_features) or (n_features,)."""
    coef = np.asarray(coef, dtype=dtype)
    if y_ndim == 1:
        coef = coef.ravel()
    estimator.coef_ = coef
    if estimator.fit_intercept:
        X_offset = mean[:n_features].astype(dtype)
        y_offset = mean[n_features:].astype(dtype)
        if y_ndim == 1:
            estimator.intercept_ = y_offset[0] - X_offset @ coef
        else:
            estimator.intercept_ = y_offset - X_offset @ coef.T
    else:
        estimator.intercept_ = 0.0


# ---------------------------------------------------------------------------
# Global score
# ---------------------------------------------------------------------------


class _GlobalR2Mixin:
    """Collective ``score``: the coefficient of determination over every rank's rows."""

    def score(self, X, y, sample_weight=None):
        """Return the global coefficient of determination R^2 (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's test rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values for this rank's rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        score : float
            :func:`sklearn.metrics.r2_score` (``multioutput="uniform_average"``)
            of the concatenation of every rank's rows, the same value on every
            rank. Residual and total sums of squares are merged over the ranks
            with one ``Allgather``; the total sum of squares is taken about the
            global (weighted) mean of ``y``.
        """
        comm = get_comm()
        with agree_on_errors(comm):
            check_is_fitted(self)
        X, y, data = _validate_regression_data(
            self, X, y, sample_weight, comm, reset=False
        )
        with agree_on_errors(comm):
            Y = _as_targets(y)
            coef = np.atleast_2d(self.coef_)
            if Y.shape[1] != coef.shape[0]:
                raise ValueError(
                    f"y has {Y.shape[1]} output(s) but the model was fitted with "
                    f"{coef.shape[0]}."
                )
            pred = np.asarray(X, dtype=np.float64) @ coef.T.astype(np.float64)
            pred += np.asarray(self.intercept_, dtype=np.float64)
            moments = Moments.from_rows(np.hstack((Y, Y - pred)), data.sample_weight)
        return r2_from_moments(moments.allreduce(comm), Y.shape[1])


# ---------------------------------------------------------------------------
# SPMDLinearRegression
# ---------------------------------------------------------------------------


def _lstsq_from_svd(U, s, Vt, Z, cond):
    """Minimum-norm solution of ``min ||R_xx b - Z||`` as ``scipy.linalg.lstsq`` finds it.

    ``U, s, Vt`` is the SVD of ``R_xx``. Singular values ``s <= cond * s[0]``
    count as zero (LAPACK ``gelsd``'s rule). Returns ``(coef of shape
    (n_features, n_targets), rank)``.
    """
    rank = int(np.sum(s > cond * s[0])) if s.size and s[0] > 0 else 0
    coef = Vt[:rank].T @ ((U[:, :rank].T @ Z) / s[:rank, None])
    return coef, rank


def _nnls_columns(A, B, n_jobs=None):
    """``scipy.optimize.nnls(A, B[:, j])`` for every column of B; returns (n_targets, n)."""
    if B.shape[1] == 1:
        return optimize.nnls(A, B[:, 0])[0][np.newaxis]
    outs = Parallel(n_jobs=n_jobs)(
        delayed(optimize.nnls)(A, B[:, j]) for j in range(B.shape[1])
    )
    return np.vstack([out[0] for out in outs])


class _SmallSystem(NamedTuple):
    """The replicated least-squares system ``min ||R_xx b - Z||`` of a linear fit.

    ``route`` is how it was obtained (``"gram"``: Cholesky factor of the merged
    cross-products; ``"tsqr"``: R factor of the centred data); ``mean`` the
    column means of ``[X | Y]`` (zeros without intercept); ``svd`` the SVD
    ``(U, s, Vt)`` of ``R_xx`` when the route already computed it, else None;
    ``cross_products`` the merged cross-products of ``[X | Y]`` (what
    ``partial_fit`` continues from).
    """

    route: str
    R_xx: np.ndarray
    Z: np.ndarray
    mean: np.ndarray
    cross_products: CrossProducts
    svd: tuple | None = None


class SPMDLinearRegression(
    LocalRowsMixin, _GlobalR2Mixin, LeastSquaresPartialFit, LinearRegression
):
    """Ordinary least squares over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.LinearRegression`:
    same parameters, attributes and ``predict``; ``fit`` is collective and
    learns from the rows of every rank; ``score`` is global.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centred.
    copy_X : bool, default=True
        Kept for compatibility: ``fit`` never modifies ``X`` (centring happens
        block by block in a scratch buffer), whatever its value.
    tol : float, default=1e-6
        Relative cutoff on the singular values of the centred ``X``: those
        ``<= tol * largest`` are treated as zero, exactly as the ``cond`` of
        :func:`scipy.linalg.lstsq` that sklearn passes it to. Determines
        ``rank_`` and the minimum-norm solution. Not used with ``positive``.
    n_jobs : int, default=None
        Jobs for the per-target non-negative problems when ``positive=True``
        and ``y`` has several targets (as in sklearn). These problems are small
        and replicated; ``n_jobs`` does not change the result.
    positive : bool, default=False
        When True, forces the coefficients to be non-negative.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients.
    rank_ : int
        Rank of the centred (weighted) ``X``, as ``lstsq`` reports it. Not set
        when ``positive=True`` (as in sklearn).
    singular_ : ndarray of shape (min(n_samples, n_features),)
        Singular values of the centred (weighted) ``X`` over all ranks. Not set
        when ``positive=True``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` when ``fit_intercept=False``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : The single-process estimator.
    SPMDRidge : Least squares with an l2 penalty, over MPI ranks.

    Notes
    -----
    Distributed semantics: one pass over the local rows computes the
    centred, weighted cross-products of ``[X | y]`` (cache-sized blocks, one
    BLAS ``syrk`` each); they are merged over the ranks with the pairwise
    update (an ``Allgather`` of ``n_features + n_targets + 1`` doubles and a
    reduction of the ``d x d`` matrix, ``d = n_features + n_targets``). The
    Cholesky factor ``R`` of the ``X`` block is the R factor of the centred
    ``X``, and the least-squares problem is solved from it alone: an SVD of
    ``R`` gives sklearn's minimum-norm ``lstsq`` solution, ``rank_`` and
    ``singular_``; ``positive=True`` runs ``scipy.optimize.nnls`` on the same
    small system.

    This Gram route squares the condition number, so it is only trusted
    while the estimated condition number of the centred ``X`` is below 1e4
    (the solution then agrees with ``lstsq`` to about 1e-8 relative). Above
    that, or when the Gram matrix is singular (rank-deficient ``X``, fewer
    rows than features), the fit falls back to a blocked Householder QR
    (TSQR) of the centred, weighted rows: one pass for the global means, one
    for the local R factors, one ``Allgather`` of the ``d x d`` factors and a
    QR of their stack. TSQR works on ``X`` itself, not ``X^T X``, so a design
    with condition number 1e8 is solved as accurately as sklearn's ``lstsq``
    does. Rank 0 chooses the route and every rank follows it. Communication
    is independent of the number of rows. ``predict`` is local; ``score``
    is the global R^2. Sparse ``X`` is not supported.

    ``partial_fit`` (an skspmd extension) keeps the merged cross-products
    across calls: after any number of calls the model is ``fit`` on every
    row seen, solved from the Gram matrix (its accuracy: see
    ``partial_fit``). ``fit`` keeps them too, so ``partial_fit`` after
    ``fit`` continues from the rows ``fit`` saw.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDLinearRegression
    >>> X = np.array([[1, 1], [1, 2], [2, 2], [2, 3]])
    >>> y = np.dot(X, np.array([1, 2])) + 3
    >>> reg = SPMDLinearRegression().fit(X, y)
    >>> reg.coef_.round(10)
    array([1., 2.])
    >>> float(reg.intercept_.round(10))
    3.0
    >>> reg.score(X, y)
    1.0
    """

    @spmd_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the linear model on every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of this rank's rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        comm = get_comm()
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm)
        Y = _as_targets(y)
        n_features = X.shape[1]
        system = self._small_system(X, Y, data, comm)
        self._solver = system.route

        if self.positive:
            (coef,) = replicate([_nnls_columns(system.R_xx, system.Z, self.n_jobs)], comm)
            for name in ("rank_", "singular_"):
                if hasattr(self, name):
                    delattr(self, name)
        else:
            U, s, Vt = system.svd or scipy.linalg.svd(
                system.R_xx, full_matrices=False, check_finite=False
            )
            coef, rank = _lstsq_from_svd(U, s, Vt, system.Z, self.tol)
            coef, rank, s = replicate([coef.T, rank, s], comm)
            self.rank_ = int(rank)
            self.singular_ = s[: min(data.n_samples, n_features)].astype(X.dtype)
        _set_coef_and_intercept(self, coef, system.mean, n_features, np.ndim(y), X.dtype)
        self._keep_cross_products(system.cross_products, data.n_samples, Y.shape[1])
        return self

    def _small_system(self, X, Y, data, comm):
        """The replicated least-squares system ``min ||R_xx b - Z||`` and its route.

        First the one-pass Gram route (merged centred cross-products and a
        Cholesky factor); when rank 0 finds it not positive definite or the
        estimated condition number too large for its accuracy, the
        Householder TSQR of the centred data (two more passes). Every rank
        takes the branch rank 0 took; the solution is broadcast from rank 0
        afterwards, so a rank whose own factorization disagreed only needs
        the shapes. Returns a :class:`_SmallSystem`; the estimator is not
        modified.
        """
        n_features, n_targets = X.shape[1], Y.shape[1]
        mean, C, cp = _centered_gram(X, Y, data.sample_weight, self.fit_intercept, comm)
        gram = _r_from_gram(C, n_features)
        (use_gram,) = replicate([gram is not None], comm)
        if bool(use_gram):
            if gram is None:  # only when this rank's LAPACK disagrees with rank 0's
                R, Z = np.eye(n_features), np.zeros((n_features, n_targets))
                return _SmallSystem("gram", R, Z, mean, cp)
            factor, Z = gram
            return _SmallSystem("gram", factor.R, Z, mean, cp, (factor.U, factor.s, factor.Vt))
        mean, R, cp = _centered_r(X, Y, data.sample_weight, self.fit_intercept, data.counts, comm)
        R_xx, Z = R[:n_features, :n_features], R[:n_features, n_features:]
        return _SmallSystem("tsqr", R_xx, Z, mean, cp)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
