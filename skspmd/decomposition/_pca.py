"""SPMDPCA: sklearn's PCA with a collective ``fit`` and a global ``score``."""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln
from sklearn.decomposition import PCA
from sklearn.utils.extmath import fast_logdet, svd_flip
from sklearn.utils.validation import check_is_fitted

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allreduce, get_comm
from .._rows import CentredRows, keep_unmodified
from .._stats import CrossProducts, column_mean
from .._svd import descending_eigh, exact_svd, truncated_svd
from .._validation import validate_spmd_data

__all__ = ["SPMDPCA"]


def _minka_log_likelihood(spectrum, rank, n_samples):
    """Minka's (2000) log-likelihood of a rank-``rank`` PCA model of the spectrum.

    Written from the paper's formula (its equations 30-31 in the form that
    scikit-learn uses for ``n_components='mle'``), vectorised over the pairs
    of eigenvalues.
    """
    eps = 1e-15
    d = spectrum.shape[0]
    if spectrum[rank - 1] < eps:
        return -np.inf
    i = np.arange(1, rank + 1)
    p_u = -rank * np.log(2.0) + np.sum(
        gammaln((d - i + 1) / 2.0) - np.log(np.pi) * (d - i + 1) / 2.0
    )
    p_l = -np.sum(np.log(spectrum[:rank])) * n_samples / 2.0
    v = max(eps, np.sum(spectrum[rank:]) / (d - rank))
    p_v = -np.log(v) * n_samples * (d - rank) / 2.0
    m = d * rank - rank * (rank + 1.0) / 2.0
    p_p = np.log(2.0 * np.pi) * (m + rank) / 2.0
    clipped = spectrum.copy()
    clipped[rank:] = v
    # pairs (a, b) with a < rank and a < b < d
    a = spectrum[:rank, np.newaxis]
    b = spectrum[np.newaxis, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.log((a - b) * (1.0 / clipped[np.newaxis, :] - 1.0 / clipped[:rank, np.newaxis]))
    upper = np.triu(np.ones((rank, d), dtype=bool), k=1)
    p_a = np.sum(terms[upper]) + upper.sum() * np.log(n_samples)
    return p_u + p_l + p_v + p_p - p_a / 2.0 - rank * np.log(n_samples) / 2.0


def _minka_rank(spectrum, n_samples):
    """Number of components (in ``[1, d - 1]``) maximising Minka's likelihood."""
    ll = np.full(spectrum.shape[0], -np.inf)
    for rank in range(1, spectrum.shape[0]):
        ll[rank] = _minka_log_likelihood(spectrum, rank, n_samples)
    return int(np.argmax(ll))


def _reject_sparse(X, _):
    if sp.issparse(X):
        raise TypeError(
            "SPMDPCA does not support sparse input; use SPMDTruncatedSVD "
            "(no centring) instead."
        )


def _resolve_solver(solver, n, d, n_components):
    """sklearn's ``svd_solver='auto'`` rule, on the global shape."""
    if solver != "auto":
        return solver
    if d <= 1_000 and n >= 10 * d:
        return "covariance_eigh"
    if max(n, d) <= 500 or n_components == "mle":
        return "full"
    if 1 <= n_components < 0.8 * min(n, d):
        return "randomized"
    return "full"


def _check_full_n_components(n_components, n, d, solver):
    if n_components == "mle":
        if n < d:
            raise ValueError(
                "n_components='mle' is only supported if n_samples >= n_features"
            )
    elif not 0 <= n_components <= min(n, d):
        raise ValueError(
            f"n_components={n_components} must be between 0 and "
            f"min(n_samples, n_features)={min(n, d)} with svd_solver={solver!r}"
        )


def _check_truncated_n_components(n_components, n, d, solver):
    if isinstance(n_components, str):
        raise ValueError(
            f"n_components={n_components!r} cannot be a string with svd_solver='{solver}'"
        )
    if not 1 <= n_components <= min(n, d):
        raise ValueError(
            f"n_components={n_components!r} must be between 1 and "
            f"min(n_samples, n_features)={min(n, d)!r} with svd_solver='{solver}'"
        )
    if solver == "arpack" and n_components == min(n, d):
        raise ValueError(
            f"n_components={n_components!r} must be strictly less than "
            f"min(n_samples, n_features)={min(n, d)!r} with svd_solver='{solver}'"
        )


class _Fitted(NamedTuple):
    """What both solver paths of :class:`SPMDPCA` return to ``fit_transform``.

    ``X`` is this rank's validated rows, already centred when ``centered``;
    ``U`` the randomized solver's own left singular vectors of this rank's
    rows (only when asked for), else None.
    """

    X: np.ndarray
    centered: bool
    U: np.ndarray | None


class SPMDPCA(LocalRowsMixin, PCA):
    """Principal component analysis over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.decomposition.PCA`: the same
    parameters, attributes, solvers and sign convention; ``fit`` is collective
    and leaves a bitwise identical model on every rank.

    Parameters
    ----------
    n_components : int, float or 'mle', default=None
        Number of components to keep: an int, ``None`` (all,
        ``min(n_samples, n_features)`` with ``n_samples`` the global row
        count), a float in (0, 1) (enough components to explain that fraction
        of the variance), or ``'mle'`` (Minka's choice).
    copy : bool, default=True
        If False, the ``'randomized'`` and ``'arpack'`` solvers centre this
        rank's rows in place, as sklearn does. A memory-mapped ``X`` (such
        as ``skspmd.io.read_rows(path, mmap=True)``), and with
        ``copy=False`` a read-only ``X``, is neither copied nor modified:
        those solvers centre its rows block by block as they read them.
    whiten : bool, default=False
        Scale the projected data to unit variance in ``transform``.
    svd_solver : {'auto', 'full', 'covariance_eigh', 'arpack', 'randomized'}, default='auto'
        ``'covariance_eigh'``: eigendecomposition of the global centred Gram
        matrix; one pass over the rows, fastest for ``n_samples >>
        n_features``. ``'full'``: SVD of the centred data through the
        Householder ``R`` factor of a distributed TSQR; accurate down to the
        smallest singular values. ``'randomized'``: distributed randomized
        range finder (Halko et al.), for wide data where a
        ``n_features x n_features`` matrix is too large. ``'arpack'``: the
        exact TSQR SVD truncated when the data is tall-skinny
        (``n_features <= 1000``), else ARPACK on the implicit Gram operator.
        ``'auto'`` chooses as sklearn does, from the global shape.
    tol : float, default=0.0
        Tolerance for ARPACK (``svd_solver='arpack'`` on wide data).
    iterated_power : int or 'auto', default='auto'
        Number of power iterations of the ``'randomized'`` solver.
    n_oversamples : int, default=10
        Extra random vectors of the ``'randomized'`` solver.
    power_iteration_normalizer : {'auto', 'QR', 'LU', 'none'}, default='auto'
        Normalisation of the power iterations of the ``'randomized'`` solver.
        The row-distributed iterates are normalised by a distributed
        CholeskyQR pass when this is ``'QR'`` or ``'LU'`` (a distributed
        pivoted LU has no cheap equivalent; both span the same subspace);
        the replicated iterates use the method named.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``'randomized'`` test matrix and the ARPACK start vector.
        Drawn on rank 0 and broadcast, so ``None`` is safe.

    Attributes
    ----------
    components_ : ndarray of shape (`n_components_`, n_features)
        Principal axes, with sklearn's sign convention (largest-magnitude
        entry of each row positive).
    explained_variance_ : ndarray of shape (`n_components_`,)
        Variance explained by each component (``ddof=1``).
    explained_variance_ratio_ : ndarray of shape (`n_components_`,)
        Fraction of the total variance explained by each component.
    singular_values_ : ndarray of shape (`n_components_`,)
        Singular values of the global centred data.
    mean_ : ndarray of shape (n_features,)
        Global per-feature mean.
    n_components_ : int
        Number of components kept.
    n_samples_ : int
        Number of rows over all ranks.
    noise_variance_ : float
        Probabilistic PCA noise variance.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : The single-process estimator.
    SPMDTruncatedSVD : Distributed truncated SVD without centring.

    Notes
    -----
    Distributed semantics: ``transform``, ``inverse_transform``,
    ``score_samples``, ``get_covariance`` and ``get_precision`` are local
    (the model is replicated); ``fit_transform`` fits collectively and
    projects this rank's rows; ``score`` is the global average
    log-likelihood, the same value on every rank. Communication per fit,
    independent of the number of rows: ``'covariance_eigh'`` one ``Allgather``
    of ``n_features + 1`` doubles and one reduction of the
    ``n_features x n_features`` centred Gram matrix; ``'full'`` the global
    mean, then one ``Allgather`` of a ``n_features x n_features`` triangle
    per rank; ``'randomized'`` about ``2 * iterated_power + 3`` reductions of a
    ``n_features x (n_components + n_oversamples)`` matrix plus small
    Gram reductions. The eigen/singular decomposition of the small merged
    matrix is broadcast from rank 0, so the model is bitwise identical on
    every rank. ``'covariance_eigh'`` squares the condition number (small
    explained variances lose relative accuracy as in sklearn);
    ``'full'`` keeps them to ~``eps * s_max``. Sparse input is not supported
    (use :class:`SPMDTruncatedSVD`). For ``'randomized'``, the same
    ``random_state`` gives sklearn's result up to round-off amplified by the
    power iterations, not bitwise; compare with a tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.decomposition import SPMDPCA
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> pca = SPMDPCA(n_components=2).fit(X)
    >>> pca.explained_variance_ratio_.round(4)
    array([0.9924, 0.0076])
    >>> pca.singular_values_.round(4)
    array([6.3006, 0.5498])
    """

    @spmd_fit
    def fit(self, X, y=None):
        """Fit the model over every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows; a rank may hold none.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        self._spmd_fit(X)
        return self

    @spmd_fit
    def fit_transform(self, X, y=None):
        """Fit the model over every rank's rows (collective) and project this rank's rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows; a rank may hold none.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        X_new : ndarray of shape (n_samples, `n_components_`)
            This rank's rows projected on the components (whitened if
            ``whiten``).
        """
        fitted = self._spmd_fit(X, compute_u=True)
        X, U = fitted.X, fitted.U
        if U is None:
            return self._project(X, fitted.centered)
        # the randomized solver's own U, as sklearn returns (not exactly X V)
        if self.whiten:
            return (U * np.sqrt(self.n_samples_ - 1)).astype(X.dtype, copy=False)
        return (U * self.singular_values_).astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.array_api_support = False
        return tags

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------

    def _spmd_fit(self, X, compute_u=False):
        """Validate, choose the solver as sklearn does, and fit; returns a :class:`_Fitted`."""
        comm = get_comm()
        X, data = validate_spmd_data(
            self,
            X,
            comm=comm,
            dtype=[np.float64, np.float32],
            accept_sparse=("csr", "csc"),
            local_check=_reject_sparse,
        )
        n, d = data.n_samples, X.shape[1]
        n_components = self.n_components
        if n_components is None:
            n_components = min(n, d) if self.svd_solver != "arpack" else min(n, d) - 1
        self._fit_svd_solver = _resolve_solver(self.svd_solver, n, d, n_components)
        if self._fit_svd_solver in ("full", "covariance_eigh"):
            return self._spmd_fit_full(X, data, n_components, comm)
        return self._spmd_fit_truncated(X, data, n_components, comm, compute_u)

    def _spmd_fit_full(self, X, data, n_components, comm):
        """The exact solvers: every singular value, then sklearn's choice of how many to keep."""
        n, d = data.n_samples, X.shape[1]
        _check_full_n_components(n_components, n, d, self._fit_svd_solver)
        if self._fit_svd_solver == "covariance_eigh":
            cp = CrossProducts.merged(X, centered=True, comm=comm)
            mean = cp.mean
            with np.errstate(divide="ignore", invalid="ignore"):
                explained_variance, Vt = descending_eigh(cp.C / (n - 1), comm)
            with np.errstate(invalid="ignore"):
                S = np.sqrt(explained_variance * (n - 1))
        else:
            mean = column_mean(X, comm=comm)[1]
            S, Vt = exact_svd(X, data.counts, comm, shift=mean)
            with np.errstate(divide="ignore", invalid="ignore"):
                explained_variance = S**2 / (n - 1)

        _, Vt = svd_flip(None, Vt, u_based_decision=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = explained_variance / np.sum(explained_variance)
        if n_components == "mle":
            n_components = _minka_rank(explained_variance, n)
        elif 0 < n_components < 1.0:
            n_components = int(np.searchsorted(np.cumsum(ratio), n_components, side="right")) + 1

        k = n_components
        noise = np.mean(explained_variance[k:]) if k < min(n, d) else None
        self._set_fitted(
            X.dtype, n, mean, k, Vt[:k], S[:k], explained_variance[:k], ratio[:k], noise
        )
        return _Fitted(X, centered=False, U=None)

    def _spmd_fit_truncated(self, X, data, n_components, comm, compute_u):
        """The 'arpack' and 'randomized' solvers on this rank's centred rows."""
        n, d = data.n_samples, X.shape[1]
        _check_truncated_n_components(n_components, n, d, self._fit_svd_solver)
        mean = column_mean(X, comm=comm)[1]
        dtype = X.dtype
        by_blocks = keep_unmodified(X, self.copy)
        if by_blocks:  # a memory map (or read-only with copy=False): centred as it is read
            X_centered = X_work = CentredRows(X, mean)
            local_ss = np.array([X_work.sum_squares()])
        else:
            if self.copy:
                X_centered = X - mean.astype(dtype)
            else:
                X_centered = X
                X_centered -= mean.astype(dtype)
            X_work = np.ascontiguousarray(X_centered, dtype=np.float64)
            flat = X_work.reshape(-1)
            local_ss = np.array([np.dot(flat, flat)])  # centred sum of squares (BLAS dot)
        with np.errstate(divide="ignore", invalid="ignore"):  # one row: nan, as sklearn
            total_var = allreduce(local_ss, comm=comm)[0] / np.float64(n - 1)

        U, S, Vt = truncated_svd(
            X_work, n_components, self._fit_svd_solver, data, comm,
            tol=self.tol, n_iter=self.iterated_power, n_oversamples=self.n_oversamples,
            power_iteration_normalizer=self.power_iteration_normalizer,
            random_state=self.random_state, compute_u=compute_u,
        )
        del X_work
        U, Vt = svd_flip(U, Vt, u_based_decision=False)

        with np.errstate(divide="ignore", invalid="ignore"):
            explained_variance = S**2 / np.float64(n - 1)
            ratio = explained_variance / total_var
        k = n_components
        noise = None
        if k < min(n, d):
            noise = (total_var - np.sum(explained_variance)) / (min(n, d) - k)
        self._set_fitted(dtype, n, mean, k, Vt, S, explained_variance, ratio, noise)
        if by_blocks:
            return _Fitted(X, centered=False, U=U)
        return _Fitted(X_centered, centered=True, U=U)  # a centred copy, or X centred in place

    def _set_fitted(self, dtype, n, mean, k, Vt, S, explained_variance, ratio, noise):
        """The fitted attributes, in the input's dtype; ``noise`` None when all ``k`` are kept."""
        self.mean_ = mean.astype(dtype)
        self.n_samples_ = n
        self.n_components_ = k
        self.components_ = np.ascontiguousarray(Vt, dtype=dtype)
        self.explained_variance_ = explained_variance.astype(dtype)
        self.explained_variance_ratio_ = ratio.astype(dtype)
        self.singular_values_ = S.astype(dtype)
        self.noise_variance_ = 0.0 if noise is None else dtype.type(noise)

    # ------------------------------------------------------------------
    # local projection and the global score
    # ------------------------------------------------------------------

    def _project(self, X, centered=False):
        """Project this rank's (validated) rows; no communication."""
        X_new = X @ self.components_.T
        if not centered:
            X_new -= self.mean_.reshape(1, -1) @ self.components_.T
        if self.whiten:
            scale = np.sqrt(self.explained_variance_)
            scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
            X_new /= scale
        return X_new

    def _log_likelihood(self, X):
        """Per-row Gaussian log-likelihood under the probabilistic PCA model."""
        Xr = X - self.mean_
        precision = self.get_precision()
        log_like = -0.5 * np.sum(Xr * (Xr @ precision), axis=1)
        log_like -= 0.5 * (X.shape[1] * np.log(2.0 * np.pi) - fast_logdet(precision))
        return log_like

    def score(self, X, y=None):
        """Average log-likelihood of the rows of every rank (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows; a rank may hold none.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        ll : float
            The same value on every rank: sklearn's ``score`` on the
            concatenation of the ranks' rows.
        """
        check_is_fitted(self)
        comm = get_comm()
        X, data = validate_spmd_data(
            self, X, reset=False, comm=comm, dtype=[np.float64, np.float32]
        )
        with agree_on_errors(comm):
            local = np.array([np.sum(self._log_likelihood(X), dtype=np.float64)])
        total = allreduce(local, comm=comm)
        return float(total[0] / data.n_samples)
