"""Linear and ridge regression training and prediction over SPMDLinearRegression / SPMDRidge."""

import numpy as np

from ._core import Algorithm, Result, check_bool, check_choice, check_model

__all__ = [
    "linear_regression_model",
    "linear_regression_prediction",
    "linear_regression_prediction_result",
    "linear_regression_training",
    "linear_regression_training_result",
    "ridge_regression_model",
    "ridge_regression_prediction",
    "ridge_regression_prediction_result",
    "ridge_regression_training",
    "ridge_regression_training_result",
]


class linear_regression_model(Result):
    """Trained linear regression: ``Beta`` (k, p + 1), intercepts in column 0.

    Also ``NumberOfBetas`` (p + 1), ``NumberOfFeatures`` (p),
    ``NumberOfResponses`` (k) and ``InterceptFlag``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> Y = X @ np.array([[1.0], [2.0]]) + 3
    >>> model = d4p.linear_regression_training(interceptFlag=True).compute(X, Y).model
    >>> model
    linear_regression_model(Beta=array(1, 3), InterceptFlag=True, NumberOfBetas=3,
                            NumberOfFeatures=2, NumberOfResponses=1)
    >>> model.Beta.round(8)  # intercept, then the coefficients
    array([[3., 1., 2.]])
    """


class ridge_regression_model(linear_regression_model):
    """Trained ridge regression (same fields as :class:`linear_regression_model`).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> Y = np.array([[0.0], [1.0], [2.0]])
    >>> training = d4p.ridge_regression_training(ridgeParameters=np.array([[1.25]]))
    >>> model = training.compute(X, Y).model
    >>> model
    ridge_regression_model(Beta=array(1, 2), InterceptFlag=False, NumberOfBetas=2,
                           NumberOfFeatures=1, NumberOfResponses=1)
    >>> model.Beta  # sklearn's Ridge(alpha=1.25, fit_intercept=False): coef_ 0.8
    array([[0. , 0.8]])
    """


class linear_regression_training_result(Result):
    """Result of :class:`linear_regression_training`: ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> Y = X @ np.array([[1.0], [2.0]]) + 3
    >>> d4p.linear_regression_training().compute(X, Y)
    linear_regression_training_result(model=linear_regression_model(Beta=array(1, 3), ...))
    """


class ridge_regression_training_result(Result):
    """Result of :class:`ridge_regression_training`: ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> Y = np.array([[0.0], [1.0], [2.0]])
    >>> training = d4p.ridge_regression_training(ridgeParameters=np.array([[1.25]]))
    >>> training.compute(X, Y)
    ridge_regression_training_result(model=ridge_regression_model(Beta=array(1, 2), ...))
    """


class linear_regression_prediction_result(Result):
    """Result of :class:`linear_regression_prediction`: ``prediction`` (n_local, k).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> Y = X @ np.array([[1.0], [2.0]]) + 3
    >>> model = d4p.linear_regression_training(interceptFlag=True).compute(X, Y).model
    >>> d4p.linear_regression_prediction().compute(X, model)
    linear_regression_prediction_result(prediction=array(4, 1))
    """


class ridge_regression_prediction_result(Result):
    """Result of :class:`ridge_regression_prediction`: ``prediction`` (n_local, k).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> Y = np.array([[0.0], [1.0], [2.0]])
    >>> training = d4p.ridge_regression_training(ridgeParameters=np.array([[1.25]]))
    >>> model = training.compute(X, Y).model
    >>> d4p.ridge_regression_prediction().compute(X, model)
    ridge_regression_prediction_result(prediction=array(3, 1))
    """


def _model(cls, est, n_features, n_responses, intercept_flag):
    coef = np.atleast_2d(est.coef_)
    if intercept_flag:
        intercept = np.asarray(est.intercept_, dtype=coef.dtype).reshape(-1, 1)
    else:
        intercept = np.zeros((n_responses, 1), dtype=coef.dtype)
    return cls(
        Beta=np.ascontiguousarray(np.hstack((intercept, coef))),
        NumberOfBetas=n_features + 1,
        NumberOfFeatures=n_features,
        NumberOfResponses=n_responses,
        InterceptFlag=intercept_flag,
        _estimator=est,
    )


class linear_regression_training(Algorithm):
    """Least-squares linear regression: daal4py's ``linear_regression_training``.

    Built on :class:`skspmd.linear_model.SPMDLinearRegression`.
    ``compute(data, dependentVariables)``: ``data`` (n, p), responses (n, k).

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'normEqDense', 'qrDense'}, default='normEqDense'
        Both give the least-squares solution of
        :class:`~skspmd.linear_model.SPMDLinearRegression`: the normal
        equations while the centred ``X`` is well conditioned (estimated
        condition number below 1e4), otherwise TSQR of the centred
        ``[X | Y]``, which does not square the condition number; the
        minimum-norm solution when ``X`` is rank deficient.
    interceptFlag : bool, default=False
        Whether to fit an intercept. With False the fit goes through the
        origin and ``Beta[:, 0]`` is 0 (daal4py's documented meaning; its
        distributed mode has returned the slopes of a fit with an intercept).
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    Distributed semantics: one pass for the merged centred cross-products of
    ``[X | Y]`` (an ``Allgather`` of the means and one reduction of a
    ``(p + k) x (p + k)`` matrix); only for an ill-conditioned ``X``, then the
    global column means, a blocked TSQR of this rank's centred rows and one
    ``Allgather`` of a ``(p + k) x (p + k)`` triangle per rank. The model is
    identical on every rank.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> Y = X @ np.array([[1.0], [2.0]]) + 3
    >>> model = d4p.linear_regression_training(interceptFlag=True).compute(X, Y).model
    >>> model.Beta.round(8)
    array([[3., 1., 2.]])
    """

    _name = "linear_regression_training"
    _rows = ("data", "dependentVariables")
    _one_d = ("dependentVariables",)

    def __init__(
        self,
        fptype="double",
        method="normEqDense",
        interceptFlag=False,
        distributed=False,
        streaming=False,
    ):
        self._common(fptype, distributed, streaming)
        self.method = check_choice(self._name, "method", method, ("normEqDense", "qrDense"))
        self.interceptFlag = check_bool(self._name, "interceptFlag", interceptFlag)

    def _run(self, inputs, **_):
        from ..linear_model import SPMDLinearRegression

        X, Y = inputs["data"], inputs["dependentVariables"]
        est = SPMDLinearRegression(fit_intercept=self.interceptFlag).fit(X, Y)
        model = _model(linear_regression_model, est, X.shape[1], Y.shape[1], self.interceptFlag)
        return linear_regression_training_result(model=model)


class ridge_regression_training(Algorithm):
    """Ridge regression: daal4py's ``ridge_regression_training``.

    Built on :class:`skspmd.linear_model.SPMDRidge`.
    ``compute(data, dependentVariables)``: ``data`` (n, p), responses (n, k).

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'normEqDense'}, default='normEqDense'
    ridgeParameters : array-like of shape (1, 1) or (1, k), default=None
        The penalty, one for all responses or one per response; None means
        1.0. Per-response penalties are honoured (daal4py 2025 uses the first
        one for every response).
    interceptFlag : bool, default=False
        Whether to fit an intercept; the intercept is not penalised. With
        False the fit goes through the origin and ``Beta[:, 0]`` is 0.
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    Minimises ``||Y - X B - b||^2 + alpha ||B||^2`` per response: scikit-learn's
    ``Ridge(alpha)``. Distributed semantics: see
    :class:`skspmd.linear_model.SPMDRidge` (a reduction of the ``p x p``
    Gram matrix and ``X^T Y``).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> Y = np.array([[0.0], [1.0], [2.0]])
    >>> algo = d4p.ridge_regression_training(ridgeParameters=np.array([[1.25]]))
    >>> model = algo.compute(X, Y).model
    >>> model.Beta
    array([[0. , 0.8]])
    """

    _name = "ridge_regression_training"
    _rows = ("data", "dependentVariables")
    _one_d = ("dependentVariables",)

    def __init__(
        self,
        fptype="double",
        method="normEqDense",
        ridgeParameters=None,
        interceptFlag=False,
        distributed=False,
        streaming=False,
    ):
        self._common(fptype, distributed, streaming)
        self.method = check_choice(self._name, "method", method, ("normEqDense",))
        self.interceptFlag = check_bool(self._name, "interceptFlag", interceptFlag)
        if ridgeParameters is None:
            alphas = np.ones(1)
        else:
            try:
                alphas = np.asarray(ridgeParameters, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{self._name}: ridgeParameters must be a numeric array of shape (1, 1) "
                    f"or (1, n_responses), got {ridgeParameters!r}"
                ) from None
            if alphas.ndim > 2 or (alphas.ndim == 2 and alphas.shape[0] != 1) or alphas.size == 0:
                raise ValueError(
                    f"{self._name}: ridgeParameters must have shape (1, 1) or (1, n_responses), "
                    f"got shape {alphas.shape}"
                )
            alphas = alphas.ravel()
            if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
                raise ValueError(f"{self._name}: ridgeParameters must be finite and >= 0")
        self.ridgeParameters = ridgeParameters
        self._alphas = alphas

    def _run(self, inputs, **_):
        from ..linear_model import SPMDRidge

        X, Y = inputs["data"], inputs["dependentVariables"]
        k = Y.shape[1]
        alphas = self._alphas
        if alphas.size not in (1, k):
            raise ValueError(
                f"{self._name}: ridgeParameters has {alphas.size} values; give 1 or one per "
                f"response ({k})"
            )
        alpha = float(alphas[0]) if alphas.size == 1 else alphas
        est = SPMDRidge(alpha=alpha, fit_intercept=self.interceptFlag).fit(X, Y)
        model = _model(ridge_regression_model, est, X.shape[1], k, self.interceptFlag)
        return ridge_regression_training_result(model=model)


class _Prediction(Algorithm):
    _rows = ("data",)
    _others = ("model",)
    _collective = False
    _model_class = linear_regression_model
    _result_class = linear_regression_prediction_result

    def __init__(self, fptype="double", method="defaultDense"):
        self._common(fptype)
        self.method = check_choice(self._name, "method", method, ("defaultDense",))

    def _run(self, inputs, model, **_):
        X = inputs["data"]
        check_model(self._name, model, self._model_class, X.shape[1])
        prediction = model._estimator.predict(X)
        return self._result_class(
            prediction=prediction.reshape(X.shape[0], model.NumberOfResponses)
        )


class linear_regression_prediction(_Prediction):
    """Predict with a linear regression model: daal4py's ``linear_regression_prediction``.

    ``compute(data, model)`` returns ``prediction`` (n_local, k). Local: no
    communication (every rank predicts its own rows).

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
    method : {'defaultDense'}, default='defaultDense'

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> Y = X @ np.array([[1.0], [2.0]]) + 3
    >>> model = d4p.linear_regression_training(interceptFlag=True).compute(X, Y).model
    >>> res = d4p.linear_regression_prediction().compute(np.array([[0.0, 0.0], [1.0, 1.0]]), model)
    >>> res.prediction.round(8)
    array([[3.],
           [6.]])
    """

    _name = "linear_regression_prediction"


class ridge_regression_prediction(_Prediction):
    """Predict with a ridge regression model: daal4py's ``ridge_regression_prediction``.

    ``compute(data, model)`` returns ``prediction`` (n_local, k). Local: no
    communication.

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
    method : {'defaultDense'}, default='defaultDense'

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> Y = np.array([[0.0], [1.0], [2.0]])
    >>> training = d4p.ridge_regression_training(ridgeParameters=np.array([[1.25]]))
    >>> model = training.compute(X, Y).model
    >>> d4p.ridge_regression_prediction().compute(np.array([[1.0], [3.0]]), model).prediction
    array([[0.8],
           [2.4]])
    """

    _name = "ridge_regression_prediction"
    _model_class = ridge_regression_model
    _result_class = ridge_regression_prediction_result
