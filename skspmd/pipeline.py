"""Pipelines under MPI: sklearn's Pipeline, plus a check for steps that are not SPMD-aware.

A stateful sklearn estimator inside a pipeline fitted on several ranks learns
from this rank's rows only, silently: its fitted state differs from rank to
rank. :func:`make_pipeline` / :class:`Pipeline` here are sklearn's, with a
warning naming such steps at ``fit`` when the job has more than one rank.
``skspmd.model_selection`` applies the same check to the estimators it fits.
"""

import warnings

from sklearn import pipeline as skpipeline
from sklearn.base import BaseEstimator

from ._comm import get_comm

__all__ = ["NotSPMDAwareWarning", "Pipeline", "make_pipeline", "warn_non_spmd_steps"]


class NotSPMDAwareWarning(UserWarning):
    """A stateful step would be fitted on this rank's rows only.

    Examples
    --------
    Turn the warning into an error (a job of size 1 never warns):

    >>> import warnings
    >>> import numpy as np
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skspmd import SPMDPCA
    >>> from skspmd.pipeline import NotSPMDAwareWarning, make_pipeline
    >>> X = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 2.0]])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", NotSPMDAwareWarning)
    ...     pipe = make_pipeline(MinMaxScaler(), SPMDPCA(n_components=1)).fit(X)
    """


def _is_spmd_aware(estimator):
    return type(estimator).__module__.split(".")[0] == "skspmd"


def _needs_fit(estimator):
    tags = getattr(estimator, "__sklearn_tags__", None)
    try:
        return bool(tags().requires_fit) if tags else True
    except Exception:
        return True


def _leaves(estimator, path):
    """(path, estimator) of every leaf step of nested pipelines and unions."""
    if isinstance(estimator, skpipeline.Pipeline):
        for name, step in estimator.steps:
            yield from _leaves(step, path + (name,))
    elif isinstance(estimator, skpipeline.FeatureUnion):
        for name, step in estimator.transformer_list:
            yield from _leaves(step, path + (name,))
    elif hasattr(estimator, "transformers") and isinstance(estimator, BaseEstimator):
        for name, step, _ in estimator.transformers:
            yield from _leaves(step, path + (name,))
    else:
        yield path, estimator


def non_spmd_steps(estimator):
    """Names (``outer__inner``) of stateful steps that are not skspmd estimators."""
    bad = []
    for path, leaf in _leaves(estimator, ()):
        if leaf is None or isinstance(leaf, str):  # "passthrough", "drop"
            continue
        if not _is_spmd_aware(leaf) and _needs_fit(leaf):
            bad.append(("__".join(path) or type(leaf).__name__, type(leaf).__name__))
    return bad


def warn_non_spmd_steps(estimator, comm=None):
    """Warn (on every rank) when a stateful step would learn from local rows only.

    Examples
    --------
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skspmd import SPMDPCA
    >>> from skspmd.pipeline import make_pipeline, warn_non_spmd_steps
    >>> warn_non_spmd_steps(make_pipeline(MinMaxScaler(), SPMDPCA()))  # silent at size 1

    On 2 ranks this warns that step ``'minmaxscaler'`` (MinMaxScaler) is not
    SPMD-aware.
    """
    comm = comm or get_comm()
    if comm.Get_size() == 1:
        return
    for name, cls in non_spmd_steps(estimator):
        warnings.warn(
            f"step {name!r} ({cls}) is not SPMD-aware: fitted on {comm.Get_size()} ranks it "
            "learns from each rank's own rows only and differs from rank to rank. Use its "
            "skspmd counterpart if there is one.",
            NotSPMDAwareWarning,
            stacklevel=3,
        )


class Pipeline(skpipeline.Pipeline):
    """sklearn's Pipeline that warns at ``fit`` about steps that are not SPMD-aware.

    See :class:`sklearn.pipeline.Pipeline` for parameters and attributes. The
    fit is collective exactly when the steps' fits are (skspmd estimators).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDRidge, SPMDStandardScaler
    >>> from skspmd.pipeline import Pipeline
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = X @ [1.0, 2.0, 0.0] + 0.5 * rng.standard_normal(40)
    >>> pipe = Pipeline([("scale", SPMDStandardScaler()), ("ridge", SPMDRidge())]).fit(X, y)
    >>> pipe.predict(X[:2]).round(4)
    array([-0.1537, -0.939 ])
    """

    def fit(self, X, y=None, **params):
        warn_non_spmd_steps(self)
        return super().fit(X, y, **params)

    def fit_transform(self, X, y=None, **params):
        warn_non_spmd_steps(self)
        return super().fit_transform(X, y, **params)

    def fit_predict(self, X, y=None, **params):
        warn_non_spmd_steps(self)
        return super().fit_predict(X, y, **params)


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """sklearn's ``make_pipeline``, returning a :class:`skspmd.pipeline.Pipeline`.

    Examples
    --------
    >>> from skspmd import SPMDPCA, SPMDStandardScaler
    >>> from skspmd.pipeline import make_pipeline
    >>> make_pipeline(SPMDStandardScaler(), SPMDPCA(n_components=1))
    Pipeline(steps=[('spmdstandardscaler', SPMDStandardScaler()),
                    ('spmdpca', SPMDPCA(n_components=1))])
    """
    named = skpipeline.make_pipeline(*steps).steps  # sklearn's step naming
    return Pipeline(
        named,
        memory=memory,
        transform_input=transform_input,
        verbose=verbose,
    )
