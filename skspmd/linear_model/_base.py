"""SPMDLinearRegression and what the linear models share.

Shared pieces (used by :mod:`._ridge` too):

- :class:`_RowBlocks`, a lazy row-block view of ``sqrt(w) * ([X | Y] - mean)``:
  the centred, weighted design and targets side by side, produced one
  cache-sized block at a time so the whole centred copy never exists;
- :func:`_weighted_mean`, the global weighted column means (one ``Allgather``
  of ``n_columns + 1`` doubles per rank);
- ``skspmd.linalg._tsqr_r``, the replicated R factor of a row-distributed
  tall matrix (shared with QR, SVD and PCA);
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

import warnings

import numpy as np
import scipy.linalg
from joblib import Parallel, delayed
from scipy import optimize
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .._base import LocalRowsMixin
from .._comm import (
    agree_on_errors,
    allgather_array,
    bcast_array,
    ensure_threads,
    get_comm,
)
from .._stats import Moments, block_rows
from .._validation import validate_spmd_data
from ..linalg import _tsqr_r

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

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = self[0 : self.shape[0]]
        return out if dtype is None else out.astype(dtype, copy=False)


def _weighted_mean(A, sample_weight=None, comm=None):
    """Global ``(sum of weights, weighted column means)`` of row-distributed ``A``.

    Local column sums over cache-sized blocks, then one ``Allgather`` of
    ``n_columns + 1`` doubles per rank, summed in rank order on every rank
    (so the result is bitwise identical everywhere).
    """
    comm = comm or get_comm()
    n, d = A.shape
    with agree_on_errors(comm):
        local = np.zeros(d + 1)
        step = block_rows(d)
        for start in range(0, n, step):
            block = A[start : start + step]
            if sample_weight is None:
                local[0] += block.shape[0]
                local[1:] += block.sum(axis=0)
            else:
                w = sample_weight[start : start + step]
                local[0] += w.sum()
                local[1:] += w @ block
    parts = allgather_array(local, comm)
    total = parts.sum(axis=0)
    weight = float(total[0])
    mean = total[1:] / weight if weight > 0 else np.zeros(d)
    return weight, mean


# ---------------------------------------------------------------------------
# Shared fit steps
# ---------------------------------------------------------------------------


def _check_same_length(X, y):
    check_consistent_length(X, y)


def _validate_regression_data(estimator, X, y, sample_weight, comm, reset=True):
    """Validate this rank's ``X``, ``y`` and weights and agree with the other ranks.

    ``X`` and ``y`` are checked separately (then for equal length) because
    sklearn's joint multi-output check rejects a ``y`` with zero rows, which
    an empty rank legitimately has.
    """
    x_params = dict(dtype=[np.float64, np.float32], ensure_min_samples=0)
    y_params = dict(ensure_2d=False, dtype="numeric", ensure_min_samples=0)
    return validate_spmd_data(
        estimator,
        X,
        y,
        reset=reset,
        comm=comm,
        sample_weight=sample_weight,
        local_check=_check_same_length,
        validate_separately=(x_params, y_params),
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

    Returns ``(mean, R)``: ``mean`` has ``n_features + n_targets`` entries
    (zeros when ``fit_intercept`` is False), ``R`` is square of that size
    (zero rows appended when the data have fewer rows than columns).
    Two passes over the local rows (weighted sums, then TSQR) and two small
    collectives. ``counts`` are the rows per rank.
    """
    raw = _RowBlocks(X, Y, order="C")
    if fit_intercept:
        weight, mean = _weighted_mean(raw, sample_weight, comm)
        if sample_weight is not None:
            _check_total_weight(weight)
    else:
        if sample_weight is not None:
            _check_total_weight(_total_weight(sample_weight, comm))
        mean = np.zeros(raw.shape[1])
    sqrt_w = None if sample_weight is None else np.sqrt(sample_weight)
    view = _RowBlocks(X, Y, mean if fit_intercept else None, sqrt_w)
    R = _tsqr_r(view, counts, comm)
    square = np.zeros((view.shape[1], view.shape[1]))
    square[: R.shape[0]] = R
    return mean, square


def _replicate(comm, *arrays):
    """Rank 0's values of the given float arrays, on every rank (one small ``Bcast``).

    Every rank finalizes the model from bitwise identical merged statistics;
    broadcasting the few finished numbers from rank 0 makes the fitted model
    identical even where LAPACK might round differently (another CPU kind or
    thread count on another node). Shapes must agree on every rank.
    """
    if comm.Get_size() == 1:
        return arrays
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    flat = bcast_array(np.concatenate([a.ravel() for a in arrays]), root=0, comm=comm)
    out, start = [], 0
    for a in arrays:
        out.append(flat[start : start + a.size].reshape(a.shape))
        start += a.size
    return tuple(out)


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
        moments = moments.allreduce(comm)
        if data.n_samples < 2:
            warnings.warn(
                "R^2 score is not well-defined with less than two samples.",
                UndefinedMetricWarning,
            )
            return float("nan")
        k = Y.shape[1]
        total = moments.m2[:k]
        residual = moments.sum_squares[k:]
        scores = np.ones(k)
        valid = (total != 0) & (residual != 0)
        scores[valid] = 1.0 - residual[valid] / total[valid]
        scores[(residual != 0) & (total == 0)] = 0.0
        return float(np.mean(scores))


# ---------------------------------------------------------------------------
# SPMDLinearRegression
# ---------------------------------------------------------------------------


def _lstsq_from_r(R_xx, Z, cond):
    """Minimum-norm solution of ``min ||R_xx b - Z||`` as ``scipy.linalg.lstsq`` finds it.

    Singular values ``s <= cond * s[0]`` count as zero (LAPACK ``gelsd``'s rule).
    Returns ``(coef of shape (n_features, n_targets), rank, singular values)``.
    """
    U, s, Vt = scipy.linalg.svd(R_xx, full_matrices=False, check_finite=False)
    rank = int(np.sum(s > cond * s[0])) if s.size and s[0] > 0 else 0
    coef = Vt[:rank].T @ ((U[:, :rank].T @ Z) / s[:rank, None])
    return coef, rank, s


def _nnls_columns(A, B, n_jobs=None):
    """``scipy.optimize.nnls(A, B[:, j])`` for every column of B; returns (n_targets, n)."""
    if B.shape[1] == 1:
        return optimize.nnls(A, B[:, 0])[0][np.newaxis]
    outs = Parallel(n_jobs=n_jobs)(
        delayed(optimize.nnls)(A, B[:, j]) for j in range(B.shape[1])
    )
    return np.vstack([out[0] for out in outs])


class SPMDLinearRegression(LocalRowsMixin, _GlobalR2Mixin, LinearRegression):
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
    Distributed semantics: one pass computes the global weighted means of
    ``X`` and ``y`` (an ``Allgather`` of ``n_features + n_targets + 1``
    doubles per rank). A second pass runs a blocked Householder QR (TSQR) of
    this rank's centred, weighted rows of ``[X | y]``; one ``Allgather`` of the
    local ``d x d`` R factors (``d = n_features + n_targets``) and a QR of
    their stack give the global R on every rank. The least-squares problem is
    then solved from R alone: an SVD of its ``X`` block gives sklearn's
    minimum-norm ``lstsq`` solution, ``rank_`` and ``singular_``;
    ``positive=True`` runs ``scipy.optimize.nnls`` on the same small system.
    Communication is independent of the number of rows. The QR route works
    on ``X`` itself, not on ``X^T X`` (the normal equations square the
    condition number), so a design with condition number 1e8 is solved as
    accurately as sklearn's ``lstsq`` does. ``predict`` is local; ``score``
    is the global R^2. Sparse ``X`` is not supported.

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
        self._validate_params()
        comm = get_comm()
        ensure_threads(comm)
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm)
        Y = _as_targets(y)
        n_features = X.shape[1]
        mean, R = _centered_r(
            X, Y, data.sample_weight, self.fit_intercept, data.counts, comm
        )
        R_xx, Z = R[:n_features, :n_features], R[:n_features, n_features:]

        if self.positive:
            (coef,) = _replicate(comm, _nnls_columns(R_xx, Z, self.n_jobs))
            for name in ("rank_", "singular_"):
                if hasattr(self, name):
                    delattr(self, name)
        else:
            coef, rank, s = _lstsq_from_r(R_xx, Z, self.tol)
            coef, rank, s = _replicate(comm, coef.T, rank, s)
            self.rank_ = int(rank)
            self.singular_ = s[: min(data.n_samples, n_features)].astype(X.dtype)
        _set_coef_and_intercept(self, coef, mean, n_features, np.ndim(y), X.dtype)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
