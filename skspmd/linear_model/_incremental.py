"""``partial_fit`` for SPMDLinearRegression and SPMDRidge (an skspmd extension).

A least-squares or ridge model is a function of the merged, weighted
cross-products of ``[X | y]`` (count, means, centred Gram matrix), and those
merge exactly: each ``partial_fit`` computes the batch's merged cross-products
(one pass over this rank's batch rows, an ``Allgather`` of
``n_features + n_targets + 1`` doubles per rank and one reduction of the
``(n_features + n_targets)^2`` matrix), adds them to the running ones with
the pairwise update, and solves the small system again. After any number of
calls the model is ``fit`` on every row seen. ``fit`` keeps its merged
cross-products as well (the Gram route has them; the TSQR route gives them
as ``R^T R``), so ``partial_fit`` after ``fit`` continues from the rows ``fit``
saw, and ``fit`` starts over.

Accuracy: the rows are gone, so the system is solved from the Gram matrix:
by Cholesky while the estimated condition number of the centred ``X`` stays
below 1e4 (as ``fit`` does), otherwise from its eigendecomposition (an
``R`` with ``R^T R = X^T X``), which also handles a rank-deficient ``X``.
That route loses about ``eps * cond(X)^2`` relative accuracy, where ``fit``
(TSQR on the rows) loses ``eps * cond(X)``; a RuntimeWarning says when the
kept singular values span more than 1e4.
"""

import warnings

import numpy as np
import scipy.linalg

from .._base import spmd_fit
from .._comm import get_comm, replicate
from .._stats import CrossProducts

__all__ = ["LeastSquaresPartialFit", "RidgePartialFit"]

_WARN_COND = 1e4


def _eigen_system(C, n_features):
    """``(R, Z)`` with ``R^T R = C_xx`` and ``R^T Z = C_xy``, from the eigenvectors of ``C_xx``.

    ``R = diag(s) V^T`` (``s`` the square roots of the eigenvalues, largest
    first). Directions with ``s`` at round-off level get ``Z = 0``.
    """
    A, Xy = C[:n_features, :n_features], C[:n_features, n_features:]
    w, V = np.linalg.eigh(A)
    w, V = np.clip(w[::-1], 0.0, None), V[:, ::-1]
    s = np.sqrt(w)
    floor = s[0] * n_features * np.finfo(np.float64).eps if s.size else 0.0
    keep = s > floor
    Z = np.zeros((n_features, Xy.shape[1]))
    Z[keep] = (V[:, keep].T @ Xy) / s[keep, np.newaxis]
    return s[:, np.newaxis] * V.T, Z


def _gram_system(C, n_features, tol):
    """The small system ``min ||R b - Z||`` from the Gram matrix: Cholesky, else eigen."""
    from ._base import _r_from_gram

    gram = _r_from_gram(C, n_features)
    if gram is not None:
        factor, Z = gram
        return factor.R, Z
    R, Z = _eigen_system(C, n_features)
    s = np.sqrt(np.clip(np.diag(R @ R.T), 0.0, None))
    kept = s[s > tol * s[0]] if s.size and s[0] > 0 else s[:0]
    if kept.size and kept[0] > _WARN_COND * kept[-1]:
        warnings.warn(
            f"partial_fit solves from the merged cross-products, and the centred X is "
            f"ill-conditioned (condition number about {kept[0] / kept[-1]:.1e}): the "
            "coefficients may lose digits that fit() on all rows (TSQR) keeps.",
            RuntimeWarning,
            stacklevel=4,
        )
    return R, Z


class _CrossProductsPartialFit:
    """Collective ``partial_fit`` keeping the merged cross-products of ``[X | y]`` across calls."""

    @spmd_fit
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one collective batch (skspmd extension).

        After any number of calls the model equals ``fit`` on every row
        seen by ``partial_fit``. Each call merges the batch's weighted,
        centred cross-products of ``[X | y]`` into the running ones and
        solves the small system from them: by Cholesky while the centred
        ``X`` is well conditioned (estimated condition number below 1e4,
        as ``fit``), otherwise from the eigendecomposition of the Gram
        matrix, which loses about ``eps * cond(X)**2`` relative accuracy
        where ``fit`` (TSQR on the rows) loses ``eps * cond(X)``; a
        RuntimeWarning says so. ``fit`` keeps its merged cross-products
        too, so ``partial_fit`` after ``fit`` continues from the rows
        ``fit`` saw (as scikit-learn's ``partial_fit`` after ``fit`` does in
        StandardScaler, IncrementalPCA or SGDRegressor); ``fit`` starts over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows of the batch; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of this rank's rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        from ._base import _as_targets, _RowBlocks, _validate_regression_data

        comm = get_comm()
        state = getattr(self, "_partial_state", None)
        first = state is None
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm, reset=first)
        Y = _as_targets(y)
        if not first and Y.shape[1] != state["n_targets"]:
            raise ValueError(
                f"y has {Y.shape[1]} target(s); earlier partial_fit calls had {state['n_targets']}."
            )
        cp = CrossProducts.merged(
            _RowBlocks(X, Y, order="C"),
            data.sample_weight,
            centered=self.fit_intercept,
            comm=comm,
        )
        rows = data.n_samples
        if not first:
            cp, rows = state["cp"].merge(cp), state["rows"] + rows
        if not cp.n > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        self._solve_cross_products(cp, X.shape[1], rows, np.ndim(y), X.dtype, comm)
        self._keep_cross_products(cp, rows, Y.shape[1])
        return self

    def _keep_cross_products(self, cp, n_rows, n_targets):
        """Keep the merged cross-products of every row seen (``fit`` calls it too)."""
        self._partial_state = {"cp": cp, "rows": n_rows, "n_targets": n_targets}

    def _finish(self, coef, cp, n_features, y_ndim, dtype):
        from ._base import _set_coef_and_intercept

        mean = cp.mean if self.fit_intercept else np.zeros_like(cp.mean)
        _set_coef_and_intercept(self, coef, mean, n_features, y_ndim, dtype)


class LeastSquaresPartialFit(_CrossProductsPartialFit):
    """``partial_fit`` of SPMDLinearRegression."""

    def _solve_cross_products(self, cp, n_features, n_rows, y_ndim, dtype, comm):
        from ._base import _lstsq_from_svd, _nnls_columns

        R, Z = _gram_system(cp.C, n_features, self.tol)
        if self.positive:
            (coef,) = replicate([_nnls_columns(R, Z, self.n_jobs)], comm)
            for name in ("rank_", "singular_"):
                if hasattr(self, name):
                    delattr(self, name)
        else:
            U, s, Vt = scipy.linalg.svd(R, full_matrices=False, check_finite=False)
            coef, rank = _lstsq_from_svd(U, s, Vt, Z, self.tol)
            coef, rank, s = replicate([coef.T, rank, s], comm)
            self.rank_ = int(rank)
            self.singular_ = s[: min(n_rows, n_features)].astype(dtype)
        self._finish(coef, cp, n_features, y_ndim, dtype)


class RidgePartialFit(_CrossProductsPartialFit):
    """``partial_fit`` of SPMDRidge."""

    def _solve_cross_products(self, cp, n_features, n_rows, y_ndim, dtype, comm):
        from ._ridge import _ridge_cholesky, _ridge_nnls, _ridge_svd

        solver = self._resolve_solver()
        alphas = self._alphas(cp.C.shape[0] - n_features)
        coef = None
        if solver == "cholesky":
            A, Xy = cp.C[:n_features, :n_features], cp.C[:n_features, n_features:]
            coef = _ridge_cholesky(A, Xy, alphas)
            failed, coef = replicate(
                [coef is None, np.zeros((Xy.shape[1], n_features)) if coef is None else coef],
                comm,
            )
            if failed:
                solver, coef = "svd", None
        if coef is None:
            R, Z = _gram_system(cp.C, n_features, 1e-15)
            coef = _ridge_nnls(R, Z, alphas) if solver == "lbfgs" else _ridge_svd(R, Z, alphas)
            (coef,) = replicate([coef], comm)
        self.n_iter_ = None
        self.solver_ = solver
        self._finish(coef, cp, n_features, y_ndim, dtype)
