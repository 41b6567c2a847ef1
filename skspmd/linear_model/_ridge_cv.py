"""SPMDRidgeCV: leave-one-out ridge from the merged Gram matrix, or the SPMD grid search.

With ``cv=None`` this is sklearn's efficient leave-one-out (generalised
cross-validation) on the eigendecomposition of ``C = Xc^T Xc`` (sklearn's
``n_samples > n_features`` route, which it calls "cov"), with ``Xc`` the
centred rows scaled by ``sqrt(w)``:

- one pass builds the merged cross-products of ``[X | y]``; every rank then
  has ``C = V diag(l) V^T`` and ``Xc^T yc`` (model-sized, broadcast from
  rank 0);
- for each alpha, with ``D = 1 / (l + alpha)``, the coefficients are
  ``V D V^T Xc^T yc`` and row i's leave-one-out error is
  ``(yc_i - z_i D V^T Xc^T yc) / (1 - z_i D z_i^T - w_i / sum(w))`` with
  ``z_i = xc_i V`` (the last term only with an intercept). A second pass over
  this rank's rows computes its ``z_i`` block by block (one GEMM with ``V``)
  and the errors for every alpha at once; the sums of squared errors are
  reduced over the ranks.
"""

import numpy as np
import scipy.linalg
from sklearn.linear_model import RidgeCV
from sklearn.utils import check_scalar

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allreduce, get_comm, replicate
from .._stats import block_rows
from ..model_selection import GridSearchCV, get_scorer
from ._base import _as_targets, _GlobalR2Mixin, _validate_regression_data
from ._coordinate_descent import MAX_GRAM_FEATURES, merged_cross_products
from ._ridge import SPMDRidge

__all__ = ["SPMDRidgeCV"]


class _Identity:
    """A "regressor" whose predictions are its input: scores given predictions."""

    def predict(self, X):
        return X


class _Eigen:
    """The replicated eigendecomposition of ``C_xx`` and what every alpha needs."""

    def __init__(self, cp, n_features, comm):
        p = n_features
        with agree_on_errors(comm):
            values, vectors = scipy.linalg.eigh(cp.C[:p, :p], check_finite=False)
        self.values, self.V = replicate([values, vectors], comm)
        self.Vt_xy = self.V.T @ cp.C[:p, p:]  # (p, n_targets)

    def filters(self, alphas):
        """``D = 1 / (l + alpha)``, shape (n_features, n_alphas)."""
        return 1.0 / (self.values[:, None] + np.asarray(alphas)[None, :])

    def coef(self, alpha):
        """Ridge coefficients ``V D V^T Xc^T yc``, shape (n_features, n_targets)."""
        return self.V @ (self.filters([alpha])[:, :1] * self.Vt_xy)


def _loo_errors(X, Y, weights, cp, eig, alphas, fit_intercept):
    """This rank's leave-one-out errors (scaled by ``sqrt(w)``), shape (n, n_alphas, n_targets).

    Cache-sized row blocks: centre and scale, one GEMM with ``V``, then the
    leverages and the residual correction for every alpha with two more
    GEMMs of the block by model-sized matrices.
    """
    n, p = X.shape
    k = Y.shape[1]
    D = eig.filters(alphas)
    B = (D[:, :, None] * eig.Vt_xy[:, None, :]).reshape(p, -1)
    mean = cp.mean if fit_intercept else np.zeros_like(cp.mean)
    out = np.empty((n, len(alphas), k))
    step = block_rows(p, target_bytes=1 << 21)
    for start in range(0, n, step):
        stop = min(start + step, n)
        Xc = np.asarray(X[start:stop], dtype=np.float64) - mean[:p]
        yc = np.asarray(Y[start:stop], dtype=np.float64) - mean[p:]
        if weights is not None:
            root = np.sqrt(weights[start:stop])[:, None]
            Xc *= root
            yc *= root
        Z = Xc @ eig.V
        residual = yc[:, None, :] - (Z @ B).reshape(stop - start, len(alphas), k)
        leverage = 1.0 - (Z * Z) @ D
        if fit_intercept:
            w = np.ones(stop - start) if weights is None else weights[start:stop]
            leverage -= (w / cp.n)[:, None]
        out[start:stop] = residual / leverage[:, :, None]
    return out


class SPMDRidgeCV(LocalRowsMixin, _GlobalR2Mixin, RidgeCV):
    """Ridge regression with the penalty chosen by cross-validation over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.RidgeCV`: same
    parameters, attributes and ``predict``; ``fit`` is collective and learns
    from the rows of every rank; ``score`` is global.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        The penalties to try (positive with ``cv=None``).
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    scoring : str, callable, default=None
        None: the mean squared leave-one-out error (``cv=None``) or the
        global R^2 (``cv`` given). A string is one of
        :func:`skspmd.model_selection.get_scorer_names`; a callable must be a
        global scorer (:class:`skspmd.model_selection.GlobalScorer`).
    cv : int, cross-validation generator or iterable, default=None
        None: efficient leave-one-out. Otherwise folds of each rank's rows,
        searched with :class:`skspmd.model_selection.GridSearchCV` over
        :class:`SPMDRidge`.
    gcv_mode : {'auto', 'svd', 'eigen'}, default=None
        Accepted for compatibility: the eigendecomposition of the merged
        ``X^T X`` is always used (see Notes).
    store_cv_results : bool, default=False
        Keep the leave-one-out values of this rank's rows in ``cv_results_``.
    alpha_per_target : bool, default=False
        Choose one alpha per target (``cv=None`` only).

    Attributes
    ----------
    cv_results_ : ndarray of shape (n_samples, n_alphas) or (n_samples, n_targets, n_alphas)
        With ``store_cv_results=True``: this rank's rows' squared
        leave-one-out errors (``scoring=None``) or predictions, in its local
        row order.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weight vector(s).
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term.
    alpha_ : float or ndarray of shape (n_targets,)
        The chosen penalty (per target with ``alpha_per_target``).
    best_score_ : float or ndarray of shape (n_targets,)
        Score of the chosen penalty over all ranks' rows.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.RidgeCV : The single-process estimator.
    SPMDRidge : Ridge for a given penalty, over MPI ranks.

    Notes
    -----
    Distributed semantics, ``cv=None``: one pass over this rank's rows
    builds the weighted, centred cross-products of ``[X | y]``, merged with
    an ``Allgather`` of ``n_features + n_targets + 1`` doubles per rank and a
    reduction of the ``(n_features + n_targets)^2`` matrix. The
    eigendecomposition of the merged ``X^T X`` (sklearn's route for more rows
    than features, here for every shape: ``gcv_mode`` is ignored; sklearn's
    other routes give the same values to round-off) is broadcast from rank 0.
    A second pass computes the leave-one-out errors of this rank's rows for
    every alpha at once (one GEMM of each row block with the eigenvectors);
    the sums of squared errors (``n_alphas x n_targets`` doubles) are
    reduced over the ranks. ``alpha_``, ``best_score_``, ``coef_`` and
    ``intercept_`` equal sklearn's on all rows to round-off, with
    ``sample_weight``, several targets and ``alpha_per_target``.
    ``cv_results_`` holds this rank's rows only. A ``scoring`` is evaluated
    with the global scorer on every rank's leave-one-out predictions (one
    collective per alpha); global scorers take no ``sample_weight``. The
    features must not exceed ``MAX_GRAM_FEATURES`` (5,000).

    ``cv`` given: the SPMD :class:`skspmd.model_selection.GridSearchCV`
    over :class:`SPMDRidge` (each rank splits its own rows; global scores),
    as sklearn runs its ``GridSearchCV`` over ``Ridge``. ``predict`` is
    local; ``score`` is the global R^2. Sparse ``X`` is not supported.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linear_model import SPMDRidgeCV
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(60, 5)
    >>> y = X @ np.arange(5.0) + rng.randn(60)
    >>> reg = SPMDRidgeCV(alphas=[0.1, 1.0, 10.0]).fit(X, y)
    >>> reg.alpha_
    0.1
    >>> reg.coef_.round(1)
    array([-0.2,  1.1,  2.1,  3.1,  3.9])
    """

    @spmd_fit
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the ridge model and choose its penalty (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of this rank's rows.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weights of this rank's rows.
        **params : dict
            With ``cv`` given, passed to the search's ``fit`` (``groups``).

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        low = "neither" if self.cv is None else "left"
        for index, alpha in enumerate(alphas):
            check_scalar(float(alpha), f"alphas[{index}]" if alphas.size > 1 else "alphas",
                         target_type=float, min_val=0.0, include_boundaries=low)
        if self.cv is not None:
            return self._fit_search(X, y, sample_weight, alphas, params)
        if params:
            raise ValueError(f"SPMDRidgeCV.fit got unexpected parameters {set(params)}")
        scorer = self._global_scorer()
        comm = get_comm()
        X, y, data = _validate_regression_data(self, X, y, sample_weight, comm)
        n_features = X.shape[1]
        if n_features > MAX_GRAM_FEATURES:
            raise ValueError(
                f"SPMDRidgeCV decomposes the merged {n_features} x {n_features} Gram matrix, "
                f"above the limit of {MAX_GRAM_FEATURES} features."
            )
        Y = _as_targets(y)
        cp = merged_cross_products(X, Y, data.sample_weight, self.fit_intercept, comm)
        eig = _Eigen(cp, n_features, comm)
        with agree_on_errors(comm):
            looe = _loo_errors(X, Y, data.sample_weight, cp, eig, alphas, self.fit_intercept)
        if scorer is None:
            scores, stored = self._squared_error_scores(looe, data.n_samples, np.ndim(y), comm)
        else:
            scores, stored = self._scorer_scores(scorer, looe, Y, cp, data, sample_weight)
        best = self._choose(alphas, scores, Y.shape[1])
        coef = self._best_coef(eig, alphas, best, Y.shape[1])
        (coef,) = replicate([coef], comm)
        self._set_fitted(coef, cp, n_features, np.ndim(y), X.dtype, stored)
        return self

    def _global_scorer(self):
        if self.scoring is None:
            return None
        if isinstance(self.scoring, str):
            return get_scorer(self.scoring)
        if getattr(self.scoring, "_skspmd_global", False):
            return self.scoring
        raise ValueError(
            "SPMDRidgeCV needs a global scorer: a name from "
            "skspmd.model_selection.get_scorer_names() or a GlobalScorer; a plain "
            "callable would score only this rank's rows."
        )

    def _squared_error_scores(self, looe, n_samples, y_ndim, comm):
        """Negative mean squared leave-one-out error per alpha (per target with ``alpha_per_target``)."""
        squared = looe * looe
        sums = allreduce(squared.sum(axis=0), comm=comm)  # (n_alphas, n_targets)
        if self.alpha_per_target:
            scores = [-s / n_samples if y_ndim == 2 else -s[0] / n_samples for s in sums]
        else:
            scores = [-s.sum() / (n_samples * s.size) for s in sums]
        return scores, squared

    def _scorer_scores(self, scorer, looe, Y, cp, data, sample_weight):
        """The global scorer on the leave-one-out predictions, one collective per alpha."""
        p = cp.C.shape[0] - Y.shape[1]
        predictions = -looe
        root = 1.0 if data.sample_weight is None else np.sqrt(data.sample_weight)[:, None, None]
        yc = Y - (cp.mean[p:] if self.fit_intercept else 0.0)
        predictions += (yc[:, None, :] * root)
        if data.sample_weight is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                predictions /= root
        if self.fit_intercept:
            predictions += cp.mean[p:]
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        scores = []
        for a in range(predictions.shape[1]):
            pred = predictions[:, a, :]
            if self.alpha_per_target:
                scores.append(np.array([
                    scorer(_Identity(), pred[:, j], Y[:, j], **extra) for j in range(Y.shape[1])
                ]))
            else:
                y_true = Y[:, 0] if Y.shape[1] == 1 else Y
                scores.append(scorer(_Identity(), pred[:, 0] if Y.shape[1] == 1 else pred,
                                     y_true, **extra))
        return scores, predictions

    def _choose(self, alphas, scores, n_targets):
        """sklearn's choice: the first alpha of the best score (per target with ``alpha_per_target``)."""
        per_target = self.alpha_per_target and n_targets > 1
        best_score = best_alpha = None
        best = np.zeros(n_targets if per_target else 1, dtype=np.intp)
        for i, (alpha, score) in enumerate(zip(alphas, scores)):
            if best_score is None:
                best_score = np.array(score, dtype=np.float64).reshape(-1) if per_target else score
                best_alpha = np.full(n_targets, alpha) if per_target else float(alpha)
            elif per_target:
                update = score > best_score
                best_score[update], best_alpha[update], best[update] = score[update], alpha, i
            elif score > best_score:
                best_score, best_alpha, best[:] = score, float(alpha), i
        self.alpha_, self.best_score_ = best_alpha, best_score
        return best

    def _best_coef(self, eig, alphas, best, n_targets):
        """Coefficients (n_features, n_targets) of the chosen alpha(s)."""
        coef = np.empty((eig.V.shape[0], n_targets))
        for j in range(n_targets):
            i = best[j] if best.size > 1 else best[0]
            coef[:, j] = eig.coef(alphas[i])[:, j]
        return coef

    def _set_fitted(self, coef, cp, n_features, y_ndim, dtype, stored):
        coef = coef.T if y_ndim == 2 else coef[:, 0]
        if y_ndim == 1 or coef.shape[0] == 1:
            coef = coef.ravel()
        if self.fit_intercept:
            x_offset, y_offset = cp.mean[:n_features], cp.mean[n_features:]
            if y_ndim == 1:
                y_offset = y_offset[0]
            self.intercept_ = (y_offset - x_offset @ coef.T).astype(dtype)
        else:
            self.intercept_ = 0.0
        self.coef_ = coef.astype(dtype)
        if self.store_cv_results:
            results = np.moveaxis(stored, 1, 2)  # (n, n_targets, n_alphas)
            self.cv_results_ = (results[:, 0] if y_ndim == 1 else results).astype(dtype)

    def _fit_search(self, X, y, sample_weight, alphas, params):
        """sklearn's route for ``cv`` given, on the SPMD grid search over SPMDRidge."""
        if self.store_cv_results:
            raise ValueError("cv!=None and store_cv_results=True are incompatible")
        if self.alpha_per_target:
            raise ValueError("cv!=None and alpha_per_target=True are incompatible")
        search = GridSearchCV(
            SPMDRidge(fit_intercept=self.fit_intercept),
            {"alpha": alphas},
            cv=self.cv,
            scoring=self.scoring,
        )
        if sample_weight is not None:
            params = dict(params, sample_weight=sample_weight)
        search.fit(X, y, **params)
        best = search.best_estimator_
        self.alpha_ = best.alpha
        self.best_score_ = search.best_score_
        self.coef_ = best.coef_
        self.intercept_ = best.intercept_
        self.n_features_in_ = best.n_features_in_
        if hasattr(best, "feature_names_in_"):
            self.feature_names_in_ = best.feature_names_in_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.array_api_support = False
        return tags
