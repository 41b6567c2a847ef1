"""Global scorers: metrics over every rank's rows, reduced with collectives.

sklearn's scorers compute a metric on the rows they are given, which under MPI
is one rank's test rows: every rank would get a different score and pick a
different model. A global scorer predicts locally, reduces a small sufficient
statistic of the metric (a confusion matrix, sums of squares, a contingency
table) over the ranks, and finalizes the same number on every rank. No
predictions are gathered.
"""

import numpy as np
from sklearn.base import is_classifier

from .._comm import agree_on_errors, allgather_object, allreduce, get_comm
from .._stats import Moments, ratio_score

__all__ = ["GlobalScorer", "SCORERS", "get_scorer", "get_scorer_names"]


def _union_labels(*arrays, comm):
    """Sorted union of the label values of every rank (tiny pickle allgather)."""
    local = [np.unique(np.asarray(a)) for a in arrays if a is not None and len(a)]
    local = np.unique(np.concatenate(local)) if local else np.array([])
    parts = [p for p in allgather_object(local, comm) if len(p)]
    return np.unique(np.concatenate(parts)) if parts else np.array([])


def _confusion(y_true, y_pred, comm):
    """Global confusion matrix over the union of all ranks' labels."""
    labels = _union_labels(y_true, y_pred, comm=comm)
    k = len(labels)
    counts = np.zeros(k * k, dtype=np.int64)
    if len(y_true):
        i = np.searchsorted(labels, np.asarray(y_true))
        j = np.searchsorted(labels, np.asarray(y_pred))
        counts += np.bincount(i * k + j, minlength=k * k)
    return labels, allreduce(counts, comm=comm).reshape(k, k)


def _prf(cm, labels, metric, average, pos_label=1):
    """Precision, recall or F1 from a global confusion matrix, as sklearn averages them."""
    tp = np.diag(cm).astype(float)
    pred = cm.sum(axis=0).astype(float)
    true = cm.sum(axis=1).astype(float)
    if average == "binary":
        if len(labels) > 2:
            raise ValueError(
                "Target is multiclass but average='binary'. Please choose another "
                "average setting, one of [None, 'micro', 'macro', 'weighted']."
            )
        if pos_label not in labels:
            if len(labels) == 2:
                raise ValueError(
                    f"pos_label={pos_label} is not a valid label. It should be one of "
                    f"{labels.tolist()}"
                )
            # only the negative class present: every statistic is 0
            return 0.0
        idx = np.flatnonzero(labels == pos_label)
        tp, pred, true = tp[idx], pred[idx], true[idx]
    elif average == "micro":
        tp, pred, true = tp.sum(keepdims=True), pred.sum(keepdims=True), true.sum(keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(true > 0, tp / true, 0.0)
        if metric == "precision":
            value = precision
        elif metric == "recall":
            value = recall
        else:
            denom = pred + true
            value = np.where(denom > 0, 2 * tp / denom, 0.0)
    if average == "weighted":
        weights = true
        return float(np.average(value, weights=weights)) if weights.sum() > 0 else 0.0
    return float(value.mean())


class GlobalScorer:
    """A scorer ``scorer(estimator, X, y)`` whose value covers every rank's rows.

    Collective: every rank calls it with its own (possibly empty) test rows and
    gets the same value, equal to sklearn's scorer on all ranks' rows
    concatenated. Like sklearn's scorers, greater is better (losses are negated).

    Parameters
    ----------
    name : str
        The sklearn scoring name (``"accuracy"``, ``"r2"``, ...).
    response : {"predict", "predict_proba"}
        The estimator method the metric needs.
    statistic : callable
        ``statistic(y_true, response, estimator, comm) -> float``; collective.
    sign : {1, -1}
        -1 for losses.

    Examples
    --------
    A global "max error" scorer: each rank's largest error, then the maximum
    over the ranks (scikit-learn's ``"neg_max_error"`` on all rows):

    >>> import numpy as np
    >>> from mpi4py import MPI
    >>> from skspmd import SPMDLinearRegression
    >>> from skspmd.model_selection import GlobalScorer
    >>> def max_error(y_true, y_pred, estimator, comm):
    ...     local = float(np.max(np.abs(y_true - y_pred), initial=0.0))
    ...     return comm.allreduce(local, op=MPI.MAX)
    >>> scorer = GlobalScorer("neg_max_error", "predict", max_error, sign=-1)
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 1.0, 2.0, 4.0])
    >>> round(scorer(SPMDLinearRegression().fit(X, y), X, y), 6)
    -0.4
    """

    _skspmd_global = True

    def __init__(self, name, response, statistic, sign=1):
        self.name = name
        self.response = response
        self.statistic = statistic
        self.sign = sign

    def __call__(self, estimator, X, y_true, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f"the global scorer {self.name!r} does not take sample_weight")
        comm = get_comm()
        with agree_on_errors(comm):
            y_true = np.asarray(y_true)
            if getattr(X, "shape", (None,))[0] == 0:
                # a rank without test rows: no need to ask the estimator
                if self.response == "predict_proba":
                    response = np.empty((0, len(estimator.classes_)))
                else:
                    response = np.empty(y_true.shape, dtype=y_true.dtype)
            else:
                response = getattr(estimator, self.response)(X)
        return self.sign * self.statistic(y_true, response, estimator, comm)

    def __repr__(self):
        return f"GlobalScorer({self.name!r})"


# -- classification ------------------------------------------------------


def _accuracy(y, pred, est, comm):
    counts = allreduce(
        np.array([np.sum(np.asarray(y) == np.asarray(pred)), len(y)], dtype=np.int64),
        comm=comm,
    )
    if counts[1] == 0:
        raise ValueError("accuracy needs at least one test row over all ranks")
    return counts[0] / counts[1]


def _balanced_accuracy(y, pred, est, comm):
    labels, cm = _confusion(y, pred, comm)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def _prf_statistic(metric, average):
    def statistic(y, pred, est, comm):
        labels, cm = _confusion(y, pred, comm)
        return _prf(cm, labels, metric, average)

    return statistic


def _log_loss(y, proba, est, comm):
    classes = est.classes_
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(f"y_true contains labels not in classes_: {np.unique(y[unknown])}")
    eps = np.finfo(proba.dtype).eps
    proba = np.clip(proba, eps, 1 - eps)
    proba = proba / proba.sum(axis=1, keepdims=True)
    idx = np.searchsorted(classes, y) if len(y) else np.array([], dtype=int)
    local = -np.log(proba[np.arange(len(y)), idx]).sum() if len(y) else 0.0
    total, n = allreduce(np.array([local, float(len(y))]), comm=comm)
    return total / n


def _adjusted_rand(y, pred, est, comm):
    true_labels = _union_labels(y, comm=comm)
    pred_labels = _union_labels(pred, comm=comm)
    kt, kp = len(true_labels), len(pred_labels)
    table = np.zeros(kt * kp, dtype=np.int64)
    if len(y):
        i = np.searchsorted(true_labels, y)
        j = np.searchsorted(pred_labels, pred)
        table += np.bincount(i * kp + j, minlength=kt * kp)
    table = allreduce(table, comm=comm).reshape(kt, kp).astype(np.float64)
    n = table.sum()
    # pairs counted by the contingency table (Hubert and Arabie, 1985)
    same_both = (table * table).sum() - n
    same_true = (table.sum(axis=1) ** 2).sum() - n
    same_pred = (table.sum(axis=0) ** 2).sum() - n
    if same_true == same_pred == same_both:
        return 1.0  # identical partitions (including the trivial ones)
    total_pairs = n * (n - 1)
    expected = same_true * same_pred / total_pairs
    maximum = (same_true + same_pred) / 2
    return float((same_both - expected) / (maximum - expected))


# -- regression ----------------------------------------------------------


def _as_2d(a):
    a = np.asarray(a, dtype=np.float64)
    return a[:, np.newaxis] if a.ndim == 1 else a


def _regression_partials(y, pred, comm):
    y2, p2 = _as_2d(y), _as_2d(pred)
    resid = y2 - p2
    sums = allreduce(
        np.concatenate([(resid**2).sum(0), np.abs(resid).sum(0), [float(len(y2))]]),
        comm=comm,
    )
    k = y2.shape[1]
    y_moments = Moments.from_rows(y2).allreduce(comm)
    r_moments = Moments.from_rows(resid).allreduce(comm)
    if sums[-1] == 0:
        raise ValueError("a regression score needs at least one test row over all ranks")
    return sums[:k], sums[k : 2 * k], sums[-1], y_moments, r_moments


def _r2(y, pred, est, comm):
    sse, _, _, y_m, _ = _regression_partials(y, pred, comm)
    return ratio_score(sse, y_m.m2)


def _explained_variance(y, pred, est, comm):
    _, _, _, y_m, r_m = _regression_partials(y, pred, comm)
    return ratio_score(r_m.m2, y_m.m2)


def _mse(y, pred, est, comm):
    sse, _, n, _, _ = _regression_partials(y, pred, comm)
    return float((sse / n).mean())


def _mae(y, pred, est, comm):
    _, sae, n, _, _ = _regression_partials(y, pred, comm)
    return float((sae / n).mean())


SCORERS = {
    "accuracy": GlobalScorer("accuracy", "predict", _accuracy),
    "balanced_accuracy": GlobalScorer("balanced_accuracy", "predict", _balanced_accuracy),
    "neg_log_loss": GlobalScorer("neg_log_loss", "predict_proba", _log_loss, sign=-1),
    "adjusted_rand_score": GlobalScorer("adjusted_rand_score", "predict", _adjusted_rand),
    "r2": GlobalScorer("r2", "predict", _r2),
    "explained_variance": GlobalScorer("explained_variance", "predict", _explained_variance),
    "neg_mean_squared_error": GlobalScorer("neg_mean_squared_error", "predict", _mse, sign=-1),
    "neg_mean_absolute_error": GlobalScorer(
        "neg_mean_absolute_error", "predict", _mae, sign=-1
    ),
}
for _metric in ("precision", "recall", "f1"):
    SCORERS[_metric] = GlobalScorer(_metric, "predict", _prf_statistic(_metric, "binary"))
    for _avg in ("micro", "macro", "weighted"):
        _name = f"{_metric}_{_avg}"
        SCORERS[_name] = GlobalScorer(_name, "predict", _prf_statistic(_metric, _avg))


def get_scorer_names():
    """Names of the scorers with a global (collective) implementation.

    Examples
    --------
    >>> from skspmd.model_selection import get_scorer_names
    >>> "r2" in get_scorer_names()
    True
    """
    return sorted(SCORERS)


def get_scorer(scoring):
    """The global scorer for a sklearn scoring name.

    Parameters
    ----------
    scoring : str or GlobalScorer
        One of :func:`get_scorer_names`, or a scorer already global.

    Returns
    -------
    scorer : GlobalScorer

    Raises
    ------
    ValueError
        For a name whose sklearn scorer would be computed on local rows only.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDLinearRegression
    >>> from skspmd.model_selection import get_scorer
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 1.0, 2.0, 4.0])
    >>> scorer = get_scorer("r2")
    >>> scorer
    GlobalScorer('r2')
    >>> round(scorer(SPMDLinearRegression().fit(X, y), X, y), 6)  # r2 over every rank's rows
    0.965714
    """
    if getattr(scoring, "_skspmd_global", False):
        return scoring
    if isinstance(scoring, str) and scoring in SCORERS:
        return SCORERS[scoring]
    raise ValueError(
        f"scoring={scoring!r} has no global implementation in skspmd: under MPI it "
        f"would be computed on each rank's rows only. Use one of {get_scorer_names()}, "
        "or a callable marked global (an object with `_skspmd_global = True`)."
    )


def default_scorer(estimator):
    """``estimator.score`` when it is global (an skspmd estimator or a pipeline ending in one)."""
    final = estimator
    while hasattr(final, "steps"):
        final = final.steps[-1][1]
    if type(final).__module__.startswith("skspmd."):
        return None  # sklearn will call estimator.score, which is collective
    kind = "classifier" if is_classifier(final) else "estimator"
    raise ValueError(
        f"scoring=None would use {type(final).__name__}.score, which is computed on each "
        f"rank's rows only (it is not an skspmd {kind}); pass a global scoring name, "
        f"one of {get_scorer_names()}"
    )
