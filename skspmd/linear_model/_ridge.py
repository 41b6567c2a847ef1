"""SPMDRidge: sklearn's Ridge with a collective ``fit``."""

import numpy as np
import scipy.linalg
from scipy import optimize
from sklearn.linear_model import Ridge

from .._base import LocalRowsMixin, spmd_fit
from .._comm import get_comm, replicate
from ._base import (
    _as_targets,
    _centered_gram,
    _centered_r,
    _GlobalR2Mixin,
    _set_coef_and_intercept,
    _validate_regression_data,
)
from ._incremental import RidgePartialFit

__all__ = ["SPMDRidge"]

# sklearn's solvers that have no distributed implementation here; the exact
# solvers below reach the same ridge solution.
_NO_DISTRIBUTED_PATH = ("lsqr", "sparse_cg", "sag", "saga")


def _ridge_cholesky(A, Xy, alphas):
    """Solve ``(A + alpha I) coef = Xy`` per target by Cholesky (``A = X^T X``).

    Returns ``coef`` of shape (n_targets, n_features), or None when the
    matrix is not numerically positive definite (sklearn then falls back to
    the SVD solver, and so do we).
    """
    n_features = A.shape[0]
    diag = np.arange(n_features)
    try:
        if np.all(alphas == alphas[0]):
            M = A.copy()
            M[diag, diag] += alphas[0]
            return scipy.linalg.solve(M, Xy, assume_a="pos", overwrite_a=True).T
        coef = np.empty((Xy.shape[1], n_features))
        for j, alpha in enumerate(alphas):
            M = A.copy()
            M[diag, diag] += alpha
            coef[j] = scipy.linalg.solve(M, Xy[:, j], assume_a="pos", overwrite_a=True)
        return coef
    except np.linalg.LinAlgError:
        return None


def _ridge_svd(R_xx, Z, alphas):
    """Ridge from the R factor: ``coef = V diag(s / (s^2 + alpha)) U^T Z`` with ``R_xx = U s V^T``.

    Singular values ``<= 1e-15`` are dropped, as sklearn's SVD solver does
    (they are the singular values of the centred ``X``).
    """
    U, s, Vt = scipy.linalg.svd(R_xx, full_matrices=False, check_finite=False)
    keep = s > 1e-15
    s_kept = s[keep][:, None]
    factors = np.zeros((s.shape[0], alphas.shape[0]))
    factors[keep] = s_kept / (s_kept**2 + alphas)
    return (Vt.T @ (factors * (U.T @ Z))).T


def _ridge_nnls(R_xx, Z, alphas):
    """Non-negative ridge, exactly: ``nnls([R_xx; sqrt(alpha) I], [z; 0])`` per target."""
    n_features = R_xx.shape[1]
    coef = np.empty((Z.shape[1], n_features))
    for j, alpha in enumerate(alphas):
        A = np.vstack((R_xx, np.sqrt(alpha) * np.eye(n_features)))
        b = np.concatenate((Z[:, j], np.zeros(n_features)))
        coef[j] = optimize.nnls(A, b)[0]
    return coef


class SPMDRidge(LocalRowsMixin, _GlobalR2Mixin, RidgePartialFit, Ridge):
    """Linear least squares with l2 regularization over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.Ridge`: same
    parameters, attributes and ``predict``; ``fit`` is collective and learns
    from the rows of every rank; ``score`` is global.

    Parameters
    ----------
    alpha : {float, ndarray of shape (n_targets,)}, default=1.0
        Regularization strength, a non-negative float, or one per target.
    fit_intercept : bool, default=True
        Whether to fit the intercept (the data are then centred on their
        weighted means, as sklearn does).
    copy_X : bool, default=True
        Kept for compatibility: ``fit`` never modifies ``X``.
    max_iter : int, default=None
        Used by sklearn's iterative solvers only, none of which runs here.
    tol : float, default=1e-4
        Used by sklearn's iterative solvers only, none of which runs here.
    solver : {'auto', 'svd', 'cholesky', 'lbfgs'}, default='auto'
        - 'auto' uses 'cholesky' (or the non-negative solver when
          ``positive=True``), as sklearn does for dense data.
        - 'cholesky' solves ``(X^T X + alpha I) coef = X^T y`` on the merged,
          centred Gram matrix; if it is not numerically positive definite the
          fit falls back to 'svd' (``solver_`` then says 'svd'), as sklearn.
        - 'svd' uses the SVD of the R factor of the distributed QR (TSQR)
          of the centred ``X``: more stable for ill-conditioned ``X``.
        - 'lbfgs' only with ``positive=True`` (sklearn's rule).

        sklearn's 'lsqr', 'sparse_cg', 'sag' and 'saga' have no distributed
        path and raise a ValueError on every rank.
    positive : bool, default=False
        When True, forces the coefficients to be non-negative.
    random_state : int, RandomState instance, default=None
        Used by sklearn's 'sag'/'saga' only, none of which runs here.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weight vector(s).
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` when ``fit_intercept=False``.
    n_iter_ : None
        Always None: the solvers used are direct (as sklearn's 'cholesky' and
        'svd').
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    solver_ : str
        The solver used: 'cholesky', 'svd', or 'lbfgs' (sklearn's name for
        the ``positive=True`` path; see Notes).

    See Also
    --------
    sklearn.linear_model.Ridge : The single-process estimator.
    SPMDLinearRegression : Ordinary least squares over MPI ranks.

    Notes
    -----
    Distributed semantics: with 'cholesky', each rank accumulates the
    weighted mean and centred cross-product matrix of ``[X | y]`` over
    cache-sized row blocks (one BLAS-3 product per block); an ``Allgather``
    of the ``(n, mean)`` pairs and one reduction of the
    ``(n_features + n_targets)^2`` matrix merge them, and every rank solves
    the same small system. With 'svd' (and ``positive=True``), one pass
    computes the global weighted means (an ``Allgather`` of
    ``n_features + n_targets + 1`` doubles per rank) and a second runs a
    blocked Householder QR of the centred, weighted ``[X | y]`` (TSQR); one
    ``Allgather`` of the local R factors gives the global R, from which
    ``coef = V diag(s / (s^2 + alpha)) U^T Q^T y``. Communication is
    independent of the number of rows. ``positive=True`` is solved exactly,
    as the non-negative least-squares problem
    ``min ||[R; sqrt(alpha) I] coef - [Q^T y; 0]||`` (``scipy.optimize.nnls``),
    instead of by sklearn's L-BFGS-B: the coefficients agree with sklearn's
    to its solver tolerance ``tol``, not to round-off. ``predict`` is local;
    ``score`` is the global R^2. Sparse ``X`` is not supported.

    ``partial_fit`` (an skspmd extension) keeps the merged cross-products
    across calls: after any number of calls the model is ``fit`` on every
    row seen, every solver working from the Gram matrix. ``fit`` keeps them
    too, so ``partial_fit`` after ``fit`` continues from the rows ``fit`` saw.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDRidge
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(10, 5), rng.randn(10)
    >>> reg = SPMDRidge(alpha=1.0).fit(X, y)
    >>> reg.coef_.shape, reg.solver_
    ((5,), 'cholesky')
    """

    def _resolve_solver(self):
        """sklearn's solver rules for dense data; raises on every rank (same parameters)."""
        solver = self.solver
        if solver == "lbfgs" and not self.positive:
            raise ValueError(
                "'lbfgs' solver can be used only when positive=True. "
                "Please use another solver."
            )
        if self.positive:
            if solver not in ("auto", "lbfgs"):
                raise ValueError(
                    f"solver='{solver}' does not support positive fitting. Please"
                    " set the solver to 'auto' or 'lbfgs', or set `positive=False`"
                )
            return "lbfgs"
        if solver in _NO_DISTRIBUTED_PATH:
            raise ValueError(
                f"solver='{solver}' has no distributed implementation in SPMDRidge. "
                "Use solver='auto' or 'cholesky' (merged Gram matrix) or 'svd' "
                "(distributed QR); they give the exact ridge solution."
            )
        return "cholesky" if solver == "auto" else solver

    def _alphas(self, n_targets):
        alpha = np.asarray(self.alpha, dtype=np.float64).ravel()
        if alpha.shape[0] not in (1, n_targets):
            raise ValueError(
                "Number of targets and number of penalties do not correspond: "
                f"{alpha.shape[0]} != {n_targets}"
            )
        if alpha.shape[0] == 1 and n_targets > 1:
            alpha = np.full(n_targets, alpha[0])
        return alpha

    @spmd_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the ridge model on every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of this rank's rows.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weights of this rank's rows (a float gives every row that weight).

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        solver = self._resolve_solver()
        comm = get_comm()
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm)
        Y = _as_targets(y)
        n_features = X.shape[1]
        alphas = self._alphas(Y.shape[1])
        weights = data.sample_weight

        coef = None
        if solver == "cholesky":
            mean, C, cp = _centered_gram(X, Y, weights, self.fit_intercept, comm)
            A, Xy = C[:n_features, :n_features], C[:n_features, n_features:]
            coef = _ridge_cholesky(A, Xy, alphas)
            failed = coef is None
            if failed:
                coef = np.zeros((Y.shape[1], n_features))
            failed, coef = replicate([failed, coef], comm)  # rank 0 decides
            if failed:
                solver = "svd"  # not positive definite: sklearn's fallback
                coef = None
        if coef is None:
            mean, R, cp = _centered_r(X, Y, weights, self.fit_intercept, data.counts, comm)
            R_xx, Z = R[:n_features, :n_features], R[:n_features, n_features:]
            if solver == "lbfgs":
                coef = _ridge_nnls(R_xx, Z, alphas)
            else:
                coef = _ridge_svd(R_xx, Z, alphas)
            (coef,) = replicate([coef], comm)

        self.n_iter_ = None
        self.solver_ = solver
        _set_coef_and_intercept(self, coef, mean, n_features, np.ndim(y), X.dtype)
        self._keep_cross_products(cp, data.n_samples, Y.shape[1])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.array_api_support = False
        return tags
