"""What every skspmd estimator shares: the collective fit preamble, row-wise
methods that accept zero rows, and the global accuracy of classifiers.

:func:`spmd_fit` decorates every collective ``fit``/``partial_fit``: it is
scikit-learn's own fit context (parameter validation that honours
``sklearn.set_config(skip_parameter_validation=True)``, skipped nested
validation, the partial_fit rule), followed by the BLAS threads of this rank
for the communicator in use.

A rank may hold zero rows (contract point 1). scikit-learn's row-wise methods
reject an empty array, which in a pipeline would make one rank fail while the
others go on to the next collective ``fit`` and wait there forever. The mixin
below makes the inherited row-wise methods return an empty result of the right
shape and type for a ``(0, n_features)`` input instead.
"""

import functools

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_is_fitted

from . import _comm
from ._comm import agree_on_errors, allreduce, get_comm
from ._compat import _fit_context
from ._runtime import before_fit
from ._threads import ensure_threads

__all__ = ["GlobalAccuracyMixin", "LocalRowsMixin", "spmd_fit"]


def spmd_fit(fit_method=None, *, prefer_skip_nested_validation=True):
    """Decorate a collective ``fit``/``partial_fit``/``fit_transform``.

    The method runs inside scikit-learn's fit context (``_fit_context``):
    the parameters are validated against ``_parameter_constraints`` unless
    ``skip_parameter_validation`` is set, or the method is a ``partial_fit``
    of a fitted estimator; nested validation is skipped as in scikit-learn's
    estimators. Then the runtime checks run when one is on (a launcher of
    another MPI, ``SKSPMD_TIMEOUT``: :mod:`skspmd._runtime`), and the
    default BLAS threads of this rank are applied for
    the communicator in use (:func:`skspmd._threads.ensure_threads`, a
    collective on its first call for a communicator). The decorated method
    reads the communicator with :func:`skspmd.get_comm`.

    Usable bare (``@spmd_fit``) or with the option
    (``@spmd_fit(prefer_skip_nested_validation=False)``, for estimators that
    take another estimator as a parameter).
    """

    def decorate(method):
        @functools.wraps(method)
        def with_threads(estimator, *args, **kwargs):
            comm = get_comm()
            if _comm._before_collective is not None:  # a runtime check is on
                before_fit(estimator, method.__name__, comm)
            ensure_threads(comm)
            return method(estimator, *args, **kwargs)

        return _fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)(
            with_threads
        )

    return decorate if fit_method is None else decorate(fit_method)

ROW_WISE_METHODS = (
    "decision_function",
    "inverse_transform",
    "mahalanobis",
    "predict",
    "predict_joint_log_proba",
    "predict_log_proba",
    "predict_proba",
    "score_samples",
    "transform",
)


def _one_zero_row(X):
    """A single all-zero row shaped and typed like ``X``."""
    if sp.issparse(X):
        return type(X)((1, X.shape[1]), dtype=X.dtype)
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # pandas-like DataFrame
        return X.reindex(range(1)).fillna(0).infer_objects()
    X = np.asarray(X)
    return np.zeros((1,) + X.shape[1:], dtype=X.dtype if X.dtype.kind in "fiub" else float)


def _first_rows_none(out):
    if isinstance(out, tuple):
        return tuple(_first_rows_none(o) for o in out)
    if hasattr(out, "iloc"):
        return out.iloc[:0]
    return out[:0]


def _accept_zero_rows(method):
    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) == 2 and shape[0] == 0:
            return _first_rows_none(method(self, _one_zero_row(X), *args, **kwargs))
        return method(self, X, *args, **kwargs)

    wrapper._skspmd_zero_rows = True
    return wrapper


class LocalRowsMixin:
    """Make the row-wise methods of an estimator accept a ``(0, n_features)`` block.

    Put it first among the bases: ``class SPMDPCA(LocalRowsMixin, PCA)``.
    Methods that are plain functions on the class (not ``available_if``
    descriptors) among ``ROW_WISE_METHODS`` are wrapped once, at class
    creation.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ROW_WISE_METHODS:
            for klass in cls.__mro__:
                if name in klass.__dict__:
                    raw = klass.__dict__[name]
                    if callable(raw) and not getattr(raw, "_skspmd_zero_rows", False):
                        if isinstance(raw, type(_accept_zero_rows)):
                            setattr(cls, name, _accept_zero_rows(raw))
                    break


class GlobalAccuracyMixin:
    """Collective ``score`` of a classifier: the accuracy over every rank's rows."""

    def score(self, X, y, sample_weight=None):
        """Global mean accuracy on every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's test rows; may have zero rows.
        y : array-like of shape (n_samples,)
            This rank's true labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        score : float
            Accuracy over the rows of every rank (weighted when
            ``sample_weight`` is given); the same value on every rank. Each
            rank predicts its own rows; one ``Allreduce`` of three numbers
            adds the (weighted) counts of correct and of all rows. Raises
            ``ValueError`` on every rank when no rank has a test row, as
            :func:`sklearn.metrics.accuracy_score` does on empty input.
        """
        check_is_fitted(self)
        comm = get_comm()
        with agree_on_errors(comm):
            local = np.zeros(3)
            predicted = self.predict(X)
            if len(predicted) or len(y):
                local[0] = accuracy_score(
                    y, predicted, normalize=False, sample_weight=sample_weight
                )
                local[1] = len(y) if sample_weight is None else np.sum(sample_weight)
                local[2] = len(y)
        correct, total, n_rows = allreduce(local, comm=comm)
        if n_rows == 0:
            raise ValueError(
                "Found empty input array on every rank: score needs at least one "
                "test row over all ranks."
            )
        return float(correct / total)
