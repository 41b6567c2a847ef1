"""SPMD-safe hyper-parameter search and cross-validation.

What each wrapper adds to sklearn's own, identically on every rank:

- ``n_jobs`` must be None or 1 (joblib workers would issue collectives in a
  different order on each rank);
- ``scoring`` is mapped to a global scorer (or ``None`` is accepted only when
  the estimator's own ``score`` is global), so every rank sees the same scores;
- the CV splits are computed on each rank's own rows (global fold k is the
  union of the local folds k), inside a collective error check, and the
  ranks must agree on their number;
- randomized candidates are drawn on rank 0 and broadcast;
- a stateful step that is not SPMD-aware gets a warning.
"""

import numpy as np
from sklearn import model_selection as skms
from sklearn.base import is_classifier

from .._comm import agree_on_errors, allgather_object, get_comm
from ..pipeline import warn_non_spmd_steps
from ._scorers import default_scorer, get_scorer

__all__ = [
    "GridSearchCV",
    "KFold",
    "RandomizedSearchCV",
    "cross_val_score",
    "cross_validate",
]


class KFold(skms.KFold):
    """K-fold splits of this rank's rows that tolerate fewer rows than folds.

    The same as :class:`sklearn.model_selection.KFold`, except that a rank
    with fewer rows than ``n_splits`` (or none) gets empty folds instead of an
    error; global fold k is the union of every rank's local fold k.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.model_selection import KFold
    >>> [test.tolist() for _, test in KFold(2).split(np.zeros((4, 1)))]  # as sklearn's
    [[0, 1], [2, 3]]
    >>> [test.tolist() for _, test in KFold(3).split(np.zeros((2, 1)))]  # sklearn's raises
    [[0], [1], []]
    """

    def split(self, X, y=None, groups=None):
        n = len(X) if not hasattr(X, "shape") else X.shape[0]
        if n >= self.n_splits:
            yield from super().split(X, y, groups)
            return
        indices = np.arange(n)
        if self.shuffle and n:
            from sklearn.utils import check_random_state

            check_random_state(self.random_state).shuffle(indices)
        for test in np.array_split(indices, self.n_splits):
            yield np.setdiff1d(indices, test), test


def _check_n_jobs(n_jobs):
    if n_jobs not in (None, 1):
        raise ValueError(
            f"n_jobs={n_jobs!r} is not supported under MPI: parallel workers would run "
            "collective fits in a different order on each rank. Use n_jobs=None (one "
            "process per rank; add ranks instead of workers)."
        )


def _global_scoring(scoring, estimator):
    if scoring is None:
        return default_scorer(estimator)
    if isinstance(scoring, (list, tuple, set)):
        return {name: get_scorer(name) for name in scoring}
    if isinstance(scoring, dict):
        return {key: get_scorer(value) for key, value in scoring.items()}
    return get_scorer(scoring)


def spmd_splits(cv, X, y=None, groups=None, classifier=False, comm=None):
    """Materialize this rank's CV splits, agreeing across ranks.

    An integer (or None, meaning 5) gives :class:`KFold` on the local rows; a
    splitter or iterable is used as is. Errors while splitting raise on every
    rank; different numbers of splits on different ranks are an error.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.model_selection import spmd_splits
    >>> [test.tolist() for _, test in spmd_splits(3, np.zeros((5, 1)))]  # this rank's folds
    [[0, 1], [2, 3], [4]]
    """
    comm = comm or get_comm()
    if isinstance(cv, skms.PredefinedSplit):
        return _predefined_splits(cv, comm)
    with agree_on_errors(comm) as step:
        if cv is None or isinstance(cv, (int, np.integer)):
            splitter = KFold(5 if cv is None else int(cv))
        else:
            splitter = skms.check_cv(cv, y, classifier=classifier)
        splits = [
            (np.asarray(train, dtype=np.intp), np.asarray(test, dtype=np.intp))
            for train, test in splitter.split(X, y, groups)
        ]
        step.payload = len(splits)
    counts = step.gathered
    if len(set(counts)) > 1:
        raise ValueError(
            "the CV splitter gave different numbers of splits on different ranks: "
            + ", ".join(f"rank {r}: {c}" for r, c in enumerate(counts))
        )
    return splits


def _predefined_splits(cv, comm):
    """PredefinedSplit over the union of every rank's fold ids (a rank may lack some)."""
    test_fold = np.asarray(cv.test_fold)
    fold_ids = np.unique(test_fold[test_fold != -1])
    everyone = allgather_object(fold_ids, comm)
    fold_ids = np.unique(np.concatenate(everyone)) if everyone else fold_ids
    indices = np.arange(len(test_fold))
    return [
        (indices[test_fold != k], indices[test_fold == k])  # -1: always in train
        for k in fold_ids
    ]


class _SPMDSearchMixin:
    def fit(self, X, y=None, **params):
        """Run the search collectively; every rank gets the same ``cv_results_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            This rank's targets.
        **params : dict
            Passed to sklearn's ``fit`` (``groups`` is used for the local splits).

        Returns
        -------
        self : object
        """
        comm = get_comm()
        _check_n_jobs(self.n_jobs)
        scoring = _global_scoring(self.scoring, self.estimator)
        warn_non_spmd_steps(self.estimator, comm)
        splits = spmd_splits(
            self.cv, X, y, params.get("groups"), is_classifier(self.estimator), comm
        )
        saved = self.scoring, self.cv
        self.scoring = self.scoring if scoring is None else scoring
        self.cv = splits
        try:
            return super().fit(X, y, **params)
        finally:
            self.scoring, self.cv = saved


class GridSearchCV(_SPMDSearchMixin, skms.GridSearchCV):
    """sklearn's GridSearchCV, made safe and global under MPI.

    Same parameters and attributes as :class:`sklearn.model_selection.GridSearchCV`.
    ``fit`` is collective: each rank passes its own rows; global fold k is the
    union of the ranks' local folds k; every candidate fit is collective and
    every score global, so ``cv_results_``, ``best_params_`` and
    ``best_estimator_`` are the same on every rank.

    Differences from sklearn: ``n_jobs`` must be None or 1; ``scoring`` must be
    a name from :func:`skspmd.model_selection.get_scorer_names` (or ``None``
    with an skspmd estimator, whose ``score`` is global); ``cv=int`` uses
    :class:`skspmd.model_selection.KFold` on each rank's rows (also for
    classifiers), which accepts ranks with fewer rows than folds.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.model_selection import GridSearchCV
    >>> from skspmd import SPMDEmpiricalCovariance
    >>> X = np.random.default_rng(0).standard_normal((40, 2))
    >>> search = GridSearchCV(SPMDEmpiricalCovariance(), {"assume_centered": [False, True]}, cv=4)
    >>> search.fit(X).best_params_
    {'assume_centered': True}
    """


class RandomizedSearchCV(_SPMDSearchMixin, skms.RandomizedSearchCV):
    """sklearn's RandomizedSearchCV, made safe and global under MPI.

    As :class:`GridSearchCV`; in addition the candidates are drawn on rank 0
    and broadcast, so ranks agree even with ``random_state=None``.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDRidge
    >>> from skspmd.model_selection import RandomizedSearchCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = X @ [1.0, 2.0, 0.0] + 0.5 * rng.standard_normal(40)
    >>> alphas = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}
    >>> search = RandomizedSearchCV(SPMDRidge(), alphas, n_iter=3, cv=4, random_state=0)
    >>> search.fit(X, y).best_params_
    {'alpha': 0.01}
    """

    def _run_search(self, evaluate_candidates):
        comm = get_comm()
        candidates = None
        if comm.Get_rank() == 0:
            candidates = list(
                skms.ParameterSampler(
                    self.param_distributions, self.n_iter, random_state=self.random_state
                )
            )
        if comm.Get_size() > 1:
            candidates = comm.bcast(candidates, root=0)
        evaluate_candidates(candidates)


def cross_validate(estimator, X, y=None, *, groups=None, scoring=None, cv=None, n_jobs=None,
                   **kwargs):
    """sklearn's ``cross_validate`` with global scores (collective).

    Parameters as :func:`sklearn.model_selection.cross_validate`; ``scoring``,
    ``cv`` and ``n_jobs`` follow :class:`GridSearchCV`'s rules. The returned
    test (and train) scores are the same on every rank.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDRidge
    >>> from skspmd.model_selection import cross_validate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = X @ [1.0, 2.0, 0.0] + 0.5 * rng.standard_normal(40)
    >>> result = cross_validate(SPMDRidge(), X, y, cv=3, scoring=["r2", "neg_mean_squared_error"])
    >>> sorted(result)
    ['fit_time', 'score_time', 'test_neg_mean_squared_error', 'test_r2']
    >>> result["test_r2"].round(4)
    array([0.9571, 0.9411, 0.8591])
    """
    comm = get_comm()
    _check_n_jobs(n_jobs)
    global_scoring = _global_scoring(scoring, estimator)
    warn_non_spmd_steps(estimator, comm)
    splits = spmd_splits(cv, X, y, groups, is_classifier(estimator), comm)
    return skms.cross_validate(
        estimator, X, y, groups=groups, scoring=global_scoring, cv=splits, n_jobs=None,
        **kwargs,
    )


def cross_val_score(estimator, X, y=None, *, groups=None, scoring=None, cv=None, n_jobs=None,
                    **kwargs):
    """sklearn's ``cross_val_score`` with global scores (collective).

    Returns
    -------
    scores : ndarray of shape (n_splits,)
        The same on every rank.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDLinearRegression
    >>> from skspmd.model_selection import cross_val_score
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = X @ [1.0, 2.0, 0.0] + 0.5 * rng.standard_normal(40)
    >>> cross_val_score(SPMDLinearRegression(), X, y, cv=3).round(4)
    array([0.9582, 0.9526, 0.8617])
    """
    result = cross_validate(
        estimator, X, y, groups=groups, scoring=scoring, cv=cv, n_jobs=n_jobs, **kwargs
    )
    return result["test_score"]
