"""Multinomial naive Bayes training and prediction over SPMDMultinomialNB.

daal4py 2026 removed these two functions; they follow the last daal4py release
that had them (2025.x).
"""

import numpy as np

from .._comm import agree_on_errors
from ._core import (
    Algorithm,
    Result,
    UnsupportedError,
    check_choice,
    check_int,
    check_model,
    parse_flags,
)

__all__ = [
    "multinomial_naive_bayes_model",
    "multinomial_naive_bayes_prediction",
    "multinomial_naive_bayes_prediction_result",
    "multinomial_naive_bayes_training",
    "multinomial_naive_bayes_training_result",
]

_LABEL_FLAGS = ("computeClassLabels", "computeClassProbabilities", "computeClassLogProbabilities")


class multinomial_naive_bayes_model(Result):
    """Trained multinomial naive Bayes model.

    ``LogP`` (nClasses, 1): log prior of each class; ``LogTheta``
    (nClasses, p): log probability of each feature given the class
    (scikit-learn's ``feature_log_prob_``); ``AuxTable`` (nClasses, p):
    ``LogTheta + LogP`` (what daal4py 2025 stores there); ``NFeatures`` and
    ``NumberOfFeatures``: p.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[2.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    >>> y = np.array([[0], [0], [1]])
    >>> model = d4p.multinomial_naive_bayes_training(2).compute(X, y).model
    >>> model
    multinomial_naive_bayes_model(AuxTable=array(2, 2), LogP=array(2, 1), LogTheta=array(2, 2),
                                  NFeatures=2, NumberOfFeatures=2)
    >>> np.exp(model.LogP)  # uniform priors
    array([[0.5],
           [0.5]])
    """


class multinomial_naive_bayes_training_result(Result):
    """Result of :class:`multinomial_naive_bayes_training`: ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[2.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    >>> y = np.array([[0], [0], [1]])
    >>> d4p.multinomial_naive_bayes_training(2).compute(X, y)
    multinomial_naive_bayes_training_result(model=multinomial_naive_bayes_model(...))
    """


class multinomial_naive_bayes_prediction_result(Result):
    """Result of :class:`multinomial_naive_bayes_prediction`.

    ``prediction`` (n_local, 1) class labels as floats of the ``fptype``
    (float64 by default); ``probabilities`` and ``logProbabilities``
    (n_local, nClasses) when asked for, else None.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[2.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    >>> y = np.array([[0], [0], [1]])
    >>> model = d4p.multinomial_naive_bayes_training(2).compute(X, y).model
    >>> d4p.multinomial_naive_bayes_prediction(2).compute(X, model)
    multinomial_naive_bayes_prediction_result(logProbabilities=None, prediction=array(3, 1),
                                              probabilities=None)
    """


def _priors(algo, value, n_classes):
    if value is None:
        return None
    priors = np.asarray(value, dtype=np.float64).ravel()
    if priors.size != n_classes:
        raise ValueError(
            f"{algo}: priorClassEstimates must have nClasses={n_classes} values "
            f"(shape (nClasses, 1)), got {priors.size}"
        )
    if not np.all(np.isfinite(priors)) or np.any(priors < 0):
        raise ValueError(f"{algo}: priorClassEstimates must be finite and >= 0")
    return priors


def _alpha(algo, value):
    if value is None:
        return None
    alpha = np.asarray(value, dtype=np.float64).ravel()
    if alpha.size == 0 or not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
        raise ValueError(f"{algo}: alpha must be finite and >= 0, shape (1, n_features)")
    return alpha


class _NaiveBayes(Algorithm):
    """What training and prediction share: the model's parameters, checked alike."""

    def _model_params(self, nClasses, method, priorClassEstimates, alpha):
        self.nClasses = check_int(self._name, "nClasses", nClasses, minimum=1)
        self.method = check_choice(self._name, "method", method, ("defaultDense",), ("fastCSR",))
        self.priorClassEstimates = priorClassEstimates
        self._priors = _priors(self._name, priorClassEstimates, self.nClasses)
        self.alpha = alpha
        self._alpha = _alpha(self._name, alpha)


class multinomial_naive_bayes_training(_NaiveBayes):
    """Multinomial naive Bayes: daal4py's ``multinomial_naive_bayes_training``.

    Built on :class:`skspmd.naive_bayes.SPMDMultinomialNB` (its collective
    ``partial_fit`` with ``classes=range(nClasses)``).
    ``compute(data, labels)``: non-negative counts (n, p); labels (n, 1),
    integers ``0 .. nClasses - 1``.

    Parameters
    ----------
    nClasses : int
        Number of classes.
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense'}, default='defaultDense'
    priorClassEstimates : array-like of shape (nClasses, 1), default=None
        Prior probabilities of the classes; None: uniform ``1 / nClasses``
        (daal's default; scikit-learn's ``fit_prior=False``). They are not
        adjusted to the data (scikit-learn's ``class_prior``).
    alpha : array-like of shape (1, p), default=None
        Additive smoothing per feature; None: 1 for every feature.
    resultsToEvaluate : {''}, default=''
        Used by the prediction only.
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    A class with no rows gets ``LogTheta = log(1 / p)``, as in daal4py.
    Labels outside ``0 .. nClasses - 1``, non-integer labels and negative
    counts raise on every rank (daal4py accepts them silently).

    Distributed semantics: one ``Allreduce`` of the per-class counts
    (``nClasses * (p + 1) + 1`` numbers) plus a tiny label exchange.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[2.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    >>> y = np.array([[0], [0], [1]])
    >>> model = d4p.multinomial_naive_bayes_training(2).compute(X, y).model
    >>> np.exp(model.LogTheta).round(3)
    array([[0.75 , 0.25 ],
           [0.167, 0.833]])
    """

    _name = "multinomial_naive_bayes_training"
    _rows = ("data", "labels")
    _one_d = ("labels",)

    def __init__(
        self,
        nClasses,
        fptype="double",
        method="defaultDense",
        priorClassEstimates=None,
        alpha=None,
        resultsToEvaluate="",
        distributed=False,
        streaming=False,
    ):
        self._common(fptype, distributed, streaming)
        self._model_params(nClasses, method, priorClassEstimates, alpha)
        if resultsToEvaluate not in ("", None):
            parse_flags(self._name, "resultsToEvaluate", resultsToEvaluate, _LABEL_FLAGS)
            raise UnsupportedError(
                f"{self._name}: resultsToEvaluate applies to "
                "multinomial_naive_bayes_prediction; leave it empty in training"
            )
        self.resultsToEvaluate = ""

    def _run(self, inputs, **_):
        from ..naive_bayes import SPMDMultinomialNB

        X, labels = inputs["data"], inputs["labels"]
        comm = inputs.comm
        with agree_on_errors(comm):
            if labels.shape[1] != 1:
                raise ValueError(
                    f"{self._name}: labels must have one column, got {labels.shape[1]}"
                )
            y = labels[:, 0]
            bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= self.nClasses)
            if np.any(bad):
                raise ValueError(
                    f"{self._name}: labels must be integers in 0..{self.nClasses - 1}; "
                    f"found {y[bad][0]!r}"
                )
            if self._alpha is not None and self._alpha.size not in (1, X.shape[1]):
                raise ValueError(
                    f"{self._name}: alpha has {self._alpha.size} values; give one per "
                    f"feature ({X.shape[1]})"
                )
        y = y.astype(np.int64)
        if self._alpha is None:
            alpha = 1.0
        elif self._alpha.size == 1:
            alpha = float(self._alpha[0])
        else:
            alpha = self._alpha
        est = SPMDMultinomialNB(alpha=alpha, fit_prior=False, class_prior=self._priors)
        est.partial_fit(X, y, classes=np.arange(self.nClasses))
        log_p = est.class_log_prior_.reshape(-1, 1).astype(self._dtype)
        log_theta = np.ascontiguousarray(est.feature_log_prob_, dtype=self._dtype)
        model = multinomial_naive_bayes_model(
            LogP=log_p,
            LogTheta=log_theta,
            AuxTable=log_theta + log_p,
            NFeatures=X.shape[1],
            NumberOfFeatures=X.shape[1],
            _estimator=est,
            _nClasses=self.nClasses,
            _priors=self._priors,
            _alpha=self._alpha,
        )
        return multinomial_naive_bayes_training_result(model=model)


class multinomial_naive_bayes_prediction(_NaiveBayes):
    """Predict with a naive Bayes model: daal4py's ``multinomial_naive_bayes_prediction``.

    ``compute(data, model)``. Local: no communication.

    Parameters
    ----------
    nClasses : int
        Must be the model's.
    fptype : {'double', 'float'}, default='double'
    method : {'defaultDense'}, default='defaultDense'
    priorClassEstimates, alpha : array-like, default=None
        The model carries its own; if given here they must equal the ones
        used in training (daal4py ignores them at prediction).
    resultsToEvaluate : str, default='computeClassLabels'
        ``'|'``-separated flags among ``'computeClassLabels'``,
        ``'computeClassProbabilities'``, ``'computeClassLogProbabilities'``
        (daal4py 2025 returns zeros for the last two; here they are
        scikit-learn's ``predict_proba`` and ``predict_log_proba``).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[2.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    >>> y = np.array([[0], [0], [1]])
    >>> model = d4p.multinomial_naive_bayes_training(2).compute(X, y).model
    >>> flags = "computeClassLabels|computeClassProbabilities"
    >>> predict = d4p.multinomial_naive_bayes_prediction(2, resultsToEvaluate=flags)
    >>> res = predict.compute(np.array([[1.0, 1.0], [0.0, 2.0]]), model)
    >>> res.prediction
    array([[0.],
           [1.]])
    >>> res.probabilities.round(4)  # sklearn's MultinomialNB(fit_prior=False).predict_proba
    array([[0.5745, 0.4255],
           [0.0826, 0.9174]])
    """

    _name = "multinomial_naive_bayes_prediction"
    _others = ("model",)
    _collective = False

    def __init__(
        self,
        nClasses,
        fptype="double",
        method="defaultDense",
        priorClassEstimates=None,
        alpha=None,
        resultsToEvaluate="computeClassLabels",
    ):
        self._common(fptype)
        self._model_params(nClasses, method, priorClassEstimates, alpha)
        self.resultsToEvaluate = resultsToEvaluate
        self._flags = parse_flags(self._name, "resultsToEvaluate", resultsToEvaluate, _LABEL_FLAGS)
        if not self._flags:
            self._flags = {"computeClassLabels"}

    def _run(self, inputs, model, **_):
        X = inputs["data"]
        check_model(self._name, model, multinomial_naive_bayes_model, X.shape[1])
        if model._nClasses != self.nClasses:
            raise ValueError(
                f"{self._name}: nClasses={self.nClasses} but the model has "
                f"{model._nClasses} classes"
            )
        for name, mine, theirs in (
            ("priorClassEstimates", self._priors, model._priors),
            ("alpha", self._alpha, model._alpha),
        ):
            if mine is not None and (theirs is None or not np.array_equal(mine, theirs)):
                raise ValueError(
                    f"{self._name}: {name} differs from the one the model was trained with; "
                    "the model carries its own, so omit it here"
                )
        est = model._estimator
        fields = {"prediction": None, "probabilities": None, "logProbabilities": None}
        if "computeClassLabels" in self._flags:
            fields["prediction"] = est.predict(X).astype(self._dtype).reshape(-1, 1)
        if "computeClassProbabilities" in self._flags:
            fields["probabilities"] = est.predict_proba(X).astype(self._dtype, copy=False)
        if "computeClassLogProbabilities" in self._flags:
            fields["logProbabilities"] = est.predict_log_proba(X).astype(self._dtype, copy=False)
        return multinomial_naive_bayes_prediction_result(**fields)
