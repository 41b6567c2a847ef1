"""Logistic regression training and prediction over SPMDLogisticRegression.

daal4py's own ``logistic_regression_training`` runs on one process only; here
``distributed=True`` fits it over the rows of every rank.
"""

import math
import numbers

import numpy as np

from .._comm import agree_on_errors, allreduce
from ._core import (
    Algorithm,
    Result,
    UnsupportedError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_model,
    parse_flags,
)

__all__ = [
    "logistic_regression_model",
    "logistic_regression_prediction",
    "logistic_regression_prediction_result",
    "logistic_regression_training",
    "logistic_regression_training_result",
    "optimization_solver_lbfgs",
]

_LABEL_FLAGS = ("computeClassLabels", "computeClassProbabilities", "computeClassLogProbabilities")


class logistic_regression_model(Result):
    """Trained logistic regression.

    ``Beta`` (1, p + 1) for two classes, (nClasses, p + 1) for more: the
    intercepts in column 0 (zeros with ``interceptFlag=False``), then the
    coefficients; ``NumberOfBetas`` (p + 1), ``NumberOfFeatures`` and
    ``NFeatures`` (p), ``InterceptFlag``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0], [0], [1], [1]])
    >>> algo = d4p.logistic_regression_training(2, interceptFlag=True, penaltyL2=0.1)
    >>> model = algo.compute(X, y).model
    >>> model
    logistic_regression_model(Beta=array(1, 2), InterceptFlag=True, NFeatures=1,
                              NumberOfBetas=2, NumberOfFeatures=1)
    """


class logistic_regression_training_result(Result):
    """Result of :class:`logistic_regression_training`: ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0], [0], [1], [1]])
    >>> d4p.logistic_regression_training(2).compute(X, y)
    logistic_regression_training_result(model=logistic_regression_model(...))
    """


class logistic_regression_prediction_result(Result):
    """Result of :class:`logistic_regression_prediction`.

    ``prediction`` (n_local, 1) float64 class labels, ``probabilities`` and
    ``logProbabilities`` (n_local, nClasses), each None unless asked for.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0], [0], [1], [1]])
    >>> model = d4p.logistic_regression_training(2).compute(X, y).model
    >>> d4p.logistic_regression_prediction(2).compute(X, model)
    logistic_regression_prediction_result(logProbabilities=None, prediction=array(4, 1),
                                          probabilities=None)
    """


class optimization_solver_lbfgs:
    """The L-BFGS solver option of :class:`logistic_regression_training`.

    Only its stopping rule maps onto skspmd's solver (scipy's full-batch
    L-BFGS-B, as scikit-learn runs it): ``nIterations`` is the iteration
    limit (-1: 100) and ``accuracyThreshold`` the tolerance on the largest
    gradient component (nan: 1e-4). daal4py's stochastic options (batches,
    engine, step lengths, ``m``, ``L``) and an explicit objective
    ``function`` raise :class:`UnsupportedError`; the training sets its own
    objective.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0], [0], [1], [1]])
    >>> solver = d4p.optimization_solver_lbfgs(nIterations=500, accuracyThreshold=1e-8)
    >>> solver
    optimization_solver_lbfgs(nIterations=500, accuracyThreshold=1e-08)
    >>> algo = d4p.logistic_regression_training(
    ...     2, interceptFlag=True, penaltyL2=0.1, optimizationSolver=solver)
    >>> algo.compute(X, y).model.Beta.round(4)
    array([[-1.6198,  1.0799]])
    """

    _name = "optimization_solver_lbfgs"

    def __init__(self, function=None, fptype="double", method="defaultDense", m=-1, L=-1,
                 engine=None, batchIndices=None, correctionPairBatchSize=-1,
                 correctionPairBatchIndices=None, stepLengthSequence=None, nIterations=-1,
                 accuracyThreshold=math.nan, optionalResultRequired=False, batchSize=-1):
        check_choice(self._name, "fptype", fptype, ("double", "float"))
        check_choice(self._name, "method", method, ("defaultDense",))
        stochastic = dict(
            function=function is not None, m=m != -1, L=L != -1, engine=engine is not None,
            batchIndices=batchIndices is not None,
            correctionPairBatchSize=correctionPairBatchSize != -1,
            correctionPairBatchIndices=correctionPairBatchIndices is not None,
            stepLengthSequence=stepLengthSequence is not None,
            optionalResultRequired=bool(optionalResultRequired), batchSize=batchSize != -1,
        )
        given = [name for name, set_ in stochastic.items() if set_]
        if given:
            raise UnsupportedError(
                f"{self._name}: {', '.join(given)} not provided by skspmd.daal4py: its "
                "solver is the full-batch L-BFGS-B of scikit-learn; only nIterations and "
                "accuracyThreshold apply"
            )
        nIterations = check_int(self._name, "nIterations", nIterations, minimum=-1)
        self.nIterations = 100 if nIterations == -1 else nIterations
        tol = check_float(self._name, "accuracyThreshold", accuracyThreshold)
        self.accuracyThreshold = 1e-4 if math.isnan(tol) else tol
        if self.accuracyThreshold < 0:
            raise ValueError(f"{self._name}: accuracyThreshold must be >= 0")

    def __repr__(self):
        return (
            f"{self._name}(nIterations={self.nIterations}, "
            f"accuracyThreshold={self.accuracyThreshold})"
        )


def _penalty(algo, name, value):
    if value is None or (isinstance(value, numbers.Real) and math.isnan(value)):
        return 0.0
    value = check_float(algo, name, value)
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"{algo}: {name} must be finite and >= 0, got {value}")
    return value


class logistic_regression_training(Algorithm):
    """Logistic regression: daal4py's ``logistic_regression_training``.

    Built on :class:`skspmd.linear_model.SPMDLogisticRegression` (the
    binomial loss for ``nClasses=2``, the multinomial loss for more).
    ``compute(data, labels, weights=None)``: ``data`` (n, p); ``labels``
    (n, 1), integers ``0 .. nClasses - 1``; optional ``weights`` (n, 1).

    Parameters
    ----------
    nClasses : int
        Number of classes (at least 2); every class must have rows.
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense'}, default='defaultDense'
    interceptFlag : bool, default=False
        Whether to fit an (unpenalised) intercept; ``Beta[:, 0]`` is 0 without.
    penaltyL1 : float, default=nan
        Only 0 or nan (no l1 penalty) is supported.
    penaltyL2 : float, default=nan
        ``lambda`` of the objective ``mean_i loss_i + lambda * ||beta||^2``
        (the intercepts not penalised); nan or 0: no penalty. This is
        scikit-learn's ``C = 1 / (2 * lambda * n)``.
    optimizationSolver : optimization_solver_lbfgs, default=None
        Its ``nIterations`` and ``accuracyThreshold``; None: 100 iterations,
        tolerance 1e-4 (scikit-learn's defaults). The solver is always
        L-BFGS-B (daal4py's default is stochastic gradient descent).
    resultsToEvaluate : {''}, default=''
        Used by the prediction only.
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    With weights, the mean loss is the weighted mean (``sum_i w_i loss_i /
    sum_i w_i``). Labels outside ``0 .. nClasses - 1``, non-integer labels
    and a class without rows raise on every rank.

    Distributed semantics: see
    :class:`~skspmd.linear_model.SPMDLogisticRegression` (one reduction of
    ``nClasses * (p + 1) + 1`` numbers per function evaluation).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0], [0], [1], [1]])
    >>> algo = d4p.logistic_regression_training(2, interceptFlag=True, penaltyL2=0.1)
    >>> algo.compute(X, y).model.Beta.round(3)
    array([[-1.62,  1.08]])
    """

    _name = "logistic_regression_training"
    _rows = ("data", "labels")
    _optional = ("weights",)
    _one_d = ("labels", "weights")

    def __init__(self, nClasses, fptype="double", method="defaultDense", interceptFlag=False,
                 penaltyL1=math.nan, penaltyL2=math.nan, optimizationSolver=None,
                 resultsToEvaluate="", distributed=False, streaming=False):
        self._common(fptype, distributed, streaming)
        self.nClasses = check_int(self._name, "nClasses", nClasses, minimum=2)
        self.method = check_choice(self._name, "method", method, ("defaultDense",))
        self.interceptFlag = check_bool(self._name, "interceptFlag", interceptFlag)
        self.penaltyL1 = penaltyL1
        if _penalty(self._name, "penaltyL1", penaltyL1) > 0:
            raise UnsupportedError(
                f"{self._name}: penaltyL1 > 0 is not provided by skspmd.daal4py; supported: "
                "penaltyL2 (the l2 penalty) or no penalty"
            )
        self.penaltyL2 = penaltyL2
        self._lambda = _penalty(self._name, "penaltyL2", penaltyL2)
        if optimizationSolver is not None and not isinstance(
            optimizationSolver, optimization_solver_lbfgs
        ):
            raise UnsupportedError(
                f"{self._name}: optimizationSolver={type(optimizationSolver).__name__} is not "
                "provided by skspmd.daal4py; use None or optimization_solver_lbfgs()"
            )
        self.optimizationSolver = optimizationSolver
        if resultsToEvaluate not in ("", None):
            parse_flags(self._name, "resultsToEvaluate", resultsToEvaluate, _LABEL_FLAGS)
            raise UnsupportedError(
                f"{self._name}: resultsToEvaluate applies to "
                "logistic_regression_prediction; leave it empty in training"
            )
        self.resultsToEvaluate = ""

    def _labels(self, inputs):
        """This rank's labels as integers, and its weights or None (checked everywhere)."""
        labels, weights = inputs["labels"], inputs.tables.get("weights")
        with agree_on_errors(inputs.comm):
            for name, table in (("labels", labels), ("weights", weights)):
                if table is not None and table.shape[1] != 1:
                    raise ValueError(
                        f"{self._name}: {name} must have one column, got {table.shape[1]}"
                    )
            y = labels[:, 0]
            bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= self.nClasses)
            if np.any(bad):
                raise ValueError(
                    f"{self._name}: labels must be integers in 0..{self.nClasses - 1}; "
                    f"found {y[bad][0]!r}"
                )
        return y.astype(np.int64), None if weights is None else weights[:, 0]

    def _run(self, inputs, **_):
        from ..linear_model import SPMDLogisticRegression

        X = inputs["data"]
        y, w = self._labels(inputs)
        C = np.inf
        if self._lambda > 0:  # lambda ||beta||^2 is scikit-learn's ||beta||^2 / (2 C sum(w))
            total = inputs.n_samples
            if w is not None:
                total = float(allreduce(np.array([w.sum(dtype=np.float64)]), comm=inputs.comm)[0])
            C = 1.0 / (2.0 * self._lambda * total) if total > 0 else 1.0
        solver = self.optimizationSolver or optimization_solver_lbfgs()
        est = SPMDLogisticRegression(
            C=C, fit_intercept=self.interceptFlag, max_iter=solver.nIterations,
            tol=solver.accuracyThreshold,
        ).fit(X, y, sample_weight=w)
        missing = sorted(set(range(self.nClasses)) - set(est.classes_.tolist()))
        if missing:  # classes_ is the same on every rank: so is this error
            raise ValueError(
                f"{self._name}: class(es) {missing} have no rows on any rank; every class "
                f"0..{self.nClasses - 1} needs rows"
            )
        coef = np.asarray(est.coef_, dtype=self._dtype)
        intercept = np.asarray(est.intercept_, dtype=self._dtype).reshape(-1, 1)
        p = X.shape[1]
        model = logistic_regression_model(
            Beta=np.ascontiguousarray(np.hstack((intercept, coef))),
            NumberOfBetas=p + 1,
            NumberOfFeatures=p,
            NFeatures=p,
            InterceptFlag=self.interceptFlag,
            _estimator=est,
            _nClasses=self.nClasses,
        )
        return logistic_regression_training_result(model=model)


class logistic_regression_prediction(Algorithm):
    """Predict with a logistic regression model: daal4py's ``logistic_regression_prediction``.

    ``compute(data, model)``. Local: no communication.

    Parameters
    ----------
    nClasses : int
        Must be the model's.
    fptype : {'double', 'float'}, default='double'
    method : {'defaultDense'}, default='defaultDense'
    resultsToEvaluate : str, default='computeClassLabels'
        ``'|'``-separated flags among ``'computeClassLabels'``,
        ``'computeClassProbabilities'``, ``'computeClassLogProbabilities'``
        (``''`` means the labels).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([[0], [0], [1], [1]])
    >>> model = d4p.logistic_regression_training(
    ...     2, interceptFlag=True, penaltyL2=0.1).compute(X, y).model
    >>> flags = "computeClassLabels|computeClassProbabilities"
    >>> predict = d4p.logistic_regression_prediction(2, resultsToEvaluate=flags)
    >>> res = predict.compute(np.array([[0.5], [2.5]]), model)
    >>> res.prediction
    array([[0.],
           [1.]])
    >>> res.probabilities.round(4)  # scikit-learn's predict_proba
    array([[0.7465, 0.2535],
           [0.2535, 0.7465]])
    """

    _name = "logistic_regression_prediction"
    _others = ("model",)
    _collective = False

    def __init__(self, nClasses, fptype="double", method="defaultDense",
                 resultsToEvaluate="computeClassLabels"):
        self._common(fptype)
        self.nClasses = check_int(self._name, "nClasses", nClasses, minimum=2)
        self.method = check_choice(self._name, "method", method, ("defaultDense",))
        self.resultsToEvaluate = resultsToEvaluate
        self._flags = parse_flags(self._name, "resultsToEvaluate", resultsToEvaluate, _LABEL_FLAGS)
        if not self._flags:
            self._flags = {"computeClassLabels"}

    def _run(self, inputs, model, **_):
        X = inputs["data"]
        check_model(self._name, model, logistic_regression_model, X.shape[1])
        if model._nClasses != self.nClasses:
            raise ValueError(
                f"{self._name}: nClasses={self.nClasses} but the model has "
                f"{model._nClasses} classes"
            )
        est = model._estimator
        fields = {"prediction": None, "probabilities": None, "logProbabilities": None}
        if "computeClassLabels" in self._flags:
            fields["prediction"] = est.predict(X).astype(np.float64).reshape(-1, 1)
        if "computeClassProbabilities" in self._flags:
            fields["probabilities"] = est.predict_proba(X).astype(self._dtype)
        if "computeClassLogProbabilities" in self._flags:
            fields["logProbabilities"] = est.predict_log_proba(X).astype(self._dtype)
        return logistic_regression_prediction_result(**fields)
