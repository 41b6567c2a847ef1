"""SPMDLogisticRegression: sklearn's LogisticRegression with a collective ``fit``."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils import compute_class_weight

from .._base import GlobalAccuracyMixin, LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allreduce, get_comm, replicate
from .._compat import HalfBinomialLoss, HalfMultinomialLoss
from .._linear_loss import (
    MergedLinearLoss,
    MergedNewtonCholesky,
    minimize_lbfgs,
    root_only_output,
)
from .._validation import global_classes, validate_spmd_data

__all__ = ["SPMDLogisticRegression"]

_SOLVERS = ("lbfgs", "newton-cholesky")

# sklearn's parameter resolution runs on this problem (see _sklearn_warnings)
_PROBE_X = np.array([[0.0], [1.0]])
_PROBE_Y = np.array([0, 1])


class SPMDLogisticRegression(LocalRowsMixin, GlobalAccuracyMixin, LogisticRegression):
    """Logistic regression (binary and multinomial) over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.linear_model.LogisticRegression`:
    same parameters, attributes and prediction methods; ``fit`` is
    collective and minimises scikit-learn's objective over the rows of every
    rank; ``score`` is global.

    Parameters
    ----------
    penalty : {'l2', None}, default='deprecated'
        Deprecated by scikit-learn (1.8) in favour of ``C`` and
        ``l1_ratio``; scikit-learn's deprecation warnings are passed on.
        ``'l1'`` and ``'elasticnet'`` raise a ``ValueError``.
    C : float, default=1.0
        Inverse of the regularization strength; ``np.inf`` for no penalty.
    l1_ratio : float, default=0.0
        Only 0 (the l2 penalty) is supported; 1 and values in between (the
        l1 and elastic-net penalties) raise a ``ValueError``.
    dual : bool, default=False
        Only False (the primal problem) is supported.
    tol : float, default=1e-4
        Tolerance of the solver, as in scikit-learn (for ``'lbfgs'``: on the
        largest component of the projected gradient).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    intercept_scaling : float, default=1
        Used by the 'liblinear' solver only; no effect here (as in
        scikit-learn with 'lbfgs' or 'newton-cholesky').
    class_weight : dict or 'balanced', default=None
        Weights of the classes; ``'balanced'`` uses the global class counts
        (weighted by ``sample_weight``), ``n_samples / (n_classes * count)``.
    random_state : int, RandomState instance or None, default=None
        Used by the 'sag', 'saga' and 'liblinear' solvers only; no effect here.
    solver : {'lbfgs', 'newton-cholesky'}, default='lbfgs'
        The other solvers of scikit-learn raise a ``ValueError``.
    max_iter : int, default=100
        Maximum number of solver iterations.
    verbose : int, default=0
        Verbosity of the solver (printed by rank 0).
    warm_start : bool, default=False
        Start from the previous solution (``coef_``, ``intercept_``).
    n_jobs : int, default=None
        Deprecated by scikit-learn (no effect); its warning is passed on.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The union of the labels of every rank.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients of the features; ``(1, n_features)`` for two classes.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    n_iter_ : ndarray of shape (1,)
        Number of solver iterations, as scikit-learn counts them.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The single-process estimator.

    Notes
    -----
    Distributed semantics: two classes give the binomial loss, more give
    scikit-learn's multinomial loss, minimised as scikit-learn does:
    ``mean_i s_i loss_i + ||w||^2 / (2 C sum_i s_i)``. Every rank runs the
    same optimizer (scipy's L-BFGS-B, or scikit-learn's Newton-Cholesky
    solver) on the merged objective. Each function evaluation computes the
    loss and gradient of this rank's rows (one read of the rows, block by
    block) and adds those of every rank with one reduction of
    ``n_coef + 1`` numbers, then adds the penalty once; a Newton step also
    merges the ``n_coef x n_coef`` Hessian (``n_coef = n_classes *
    (n_features + 1)``, or ``n_features + 1`` for two classes) and its
    solution is rank 0's. Every rank sees bitwise identical values, so all
    take the same steps and stop at the same iteration. Communication is
    independent of the number of rows. The classes are the union of every
    rank's labels (a rank may miss some classes, or hold no rows);
    ``class_weight='balanced'`` uses the global counts. ``predict``,
    ``predict_proba``, ``predict_log_proba`` and ``decision_function`` are
    local; ``score`` is the global accuracy. Dense and CSR input. Negative
    sample weights are rejected on every rank (scikit-learn accepts them).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skspmd.linear_model import SPMDLogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SPMDLogisticRegression(max_iter=1000).fit(X, y)
    >>> clf.predict(X[:2, :])
    array([0, 0])
    >>> round(clf.score(X, y), 2)
    0.97
    """

    @spmd_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the model on every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,)
            This rank's labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows (non-negative).

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        comm = get_comm()
        C = self._check_supported()
        X, y, data = validate_spmd_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
            sample_weight=sample_weight, comm=comm,
        )
        classes = global_classes(y, comm)
        if len(classes) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the "
                f"data contains only one class: {classes[0]!r}"
            )
        with agree_on_errors(comm):
            index = np.searchsorted(classes, y)
        sample_weight, sw_sum = self._sample_weight(data, index, classes, X.dtype, comm)
        binary = len(classes) == 2
        target = (index == 1) if binary else index
        target = target.astype(X.dtype)
        base_loss = HalfBinomialLoss() if binary else HalfMultinomialLoss(n_classes=len(classes))
        loss = MergedLinearLoss(base_loss, self.fit_intercept, sw_sum, comm)
        w0 = self._initial_coef(len(classes), X.shape[1], X.dtype)
        l2_reg_strength = 1.0 / (C * sw_sum)
        with root_only_output(comm, self.verbose):
            if self.solver == "lbfgs":
                coef, n_iter = minimize_lbfgs(
                    loss, w0, X, target, sample_weight, l2_reg_strength, self.max_iter,
                    self.tol, self.verbose,
                )
            else:
                solver = MergedNewtonCholesky(
                    coef=w0, linear_loss=loss, l2_reg_strength=l2_reg_strength, tol=self.tol,
                    max_iter=self.max_iter, verbose=self.verbose,
                )
                coef = solver.solve(X=X, y=target, sample_weight=sample_weight)
                n_iter = solver.iteration
        coef, n_iter = replicate([np.asarray(coef, dtype=X.dtype), np.int32(n_iter)], comm)
        self.classes_ = classes
        self._set_coef(coef, len(classes), X.shape[1], X.dtype)
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        return self

    def _check_supported(self):
        """The effective ``C``; raises for what has no distributed path here.

        Then runs scikit-learn's own resolution of ``penalty``, ``l1_ratio``,
        ``C`` and ``n_jobs`` (:meth:`_sklearn_warnings`) so its deprecation
        and consistency warnings are the user's.
        """
        if getattr(self, "_skl_callbacks", None):
            raise ValueError(f"{type(self).__name__} does not support callbacks")
        penalty = self.penalty
        if penalty == "deprecated":  # scikit-learn >= 1.8: C and l1_ratio decide
            ratio = self.l1_ratio
            penalty = "l2" if ratio is None or ratio == 0 else "l1" if ratio == 1 else "elasticnet"
            if self.C == np.inf:
                penalty = None
        multi_class = getattr(self, "multi_class", "auto")
        if (
            self.solver not in _SOLVERS
            or penalty not in ("l2", None)
            or self.dual
            or multi_class not in ("auto", "multinomial", "deprecated")
        ):
            raise ValueError(
                f"{type(self).__name__} supports solver='lbfgs' or 'newton-cholesky' with the "
                "l2 penalty (l1_ratio=0) or none (C=np.inf), in the primal (dual=False), "
                f"multinomial for more than two classes; got solver={self.solver!r}, "
                f"penalty={penalty!r} (penalty={self.penalty!r}, l1_ratio={self.l1_ratio!r}, "
                f"C={self.C!r}), dual={self.dual!r}. The other solvers and the l1 and "
                "elastic-net penalties have no distributed implementation."
            )
        self._sklearn_warnings()
        return np.inf if self.penalty is None else self.C

    def _sklearn_warnings(self):
        """Pass on the warnings of scikit-learn's own parameter resolution.

        scikit-learn's ``LogisticRegression`` with these parameters is fitted
        on a two-row problem without iterations (``max_iter=0``): it resolves
        the (deprecated) ``penalty``, ``l1_ratio``, ``C`` and ``n_jobs`` and
        warns as the installed version does. Those warnings are re-emitted;
        the convergence warning of the empty fit is not.
        """
        params = self.get_params(deep=False)
        params.update(class_weight=None, max_iter=0, verbose=0, warm_start=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            LogisticRegression(**params).fit(_PROBE_X, _PROBE_Y)
        for record in caught:
            if not issubclass(record.category, ConvergenceWarning):
                warnings.warn(record.message, stacklevel=4)

    def _sample_weight(self, data, index, classes, dtype, comm):
        """This rank's weights times the class weights, and their global sum."""
        sample_weight = data.sample_weight
        if self.class_weight is not None:
            if isinstance(self.class_weight, str):  # 'balanced': global class counts
                local = np.bincount(index, weights=sample_weight, minlength=len(classes))
                counts = allreduce(local.astype(np.float64), comm=comm)
                weights = compute_class_weight(
                    "balanced", classes=classes, y=classes, sample_weight=counts
                )
            else:
                weights = compute_class_weight(self.class_weight, classes=classes, y=classes)
            per_row = weights[index]
            sample_weight = per_row if sample_weight is None else sample_weight * per_row
        if sample_weight is None:
            return None, float(data.n_samples)
        sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
        sw_sum = float(allreduce(np.array([sample_weight.sum(dtype=np.float64)]), comm=comm)[0])
        if not sw_sum > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sample_weight, sw_sum

    def _initial_coef(self, n_classes, n_features, dtype):
        """Zeros, or the previous solution with ``warm_start`` (scikit-learn's layout)."""
        n_dof = n_features + int(self.fit_intercept)
        rows = 1 if n_classes == 2 else n_classes
        w0 = np.zeros((rows, n_dof), dtype=dtype, order="F")
        if self.warm_start and hasattr(self, "coef_"):
            previous = np.asarray(self.coef_)
            if self.fit_intercept:
                previous = np.hstack([previous, np.asarray(self.intercept_)[:, np.newaxis]])
            if previous.shape != w0.shape:
                raise ValueError(
                    f"Initialization coef is of shape {previous.shape}, expected shape "
                    f"{w0.shape}"
                )
            w0[...] = previous
        return w0[0].copy() if rows == 1 else w0.ravel(order="F")

    def _set_coef(self, coef, n_classes, n_features, dtype):
        rows = 1 if n_classes == 2 else n_classes
        W = np.reshape(coef, (rows, -1), order="F")
        self.coef_ = np.ascontiguousarray(W[:, :n_features], dtype=dtype)
        if self.fit_intercept:
            self.intercept_ = np.ascontiguousarray(W[:, n_features], dtype=dtype)
        else:
            self.intercept_ = np.zeros(rows, dtype=dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False
        return tags
