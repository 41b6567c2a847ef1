"""Local input validation (scikit-learn's own) plus the cross-rank checks.

Every rank validates its own block with sklearn's ``validate_data`` (accepting
zero rows), then one small ``allgather`` carries each rank's outcome and shape
metadata. From that identical list every rank derives the same verdict: the
same exception (naming the failing ranks) or the same agreed facts (global row
count, per-rank counts, common dtype).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_consistent_length, validate_data

from ._comm import agree_on_errors, get_comm

__all__ = ["SPMDData", "check_sample_weight", "global_classes", "validate_spmd_data"]


@dataclass(frozen=True)
class SPMDData:
    """What the ranks agreed on about the data of one collective call."""

    n_samples: int  # rows over all ranks
    counts: np.ndarray  # rows per rank, in rank order
    rank: int
    dtype: np.dtype
    sample_weight: object = None  # this rank's validated weights, when asked for

    @property
    def offset(self):
        """Global index of this rank's first row."""
        return int(self.counts[: self.rank].sum())

    @property
    def n_local(self):
        return int(self.counts[self.rank])


def check_sample_weight(sample_weight, n_samples, dtype=np.float64):
    """Validate this rank's ``sample_weight``: 1-D, right length, finite, non-negative."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if np.isscalar(sample_weight):
        return np.full(n_samples, sample_weight, dtype=dtype)
    sample_weight = np.asarray(sample_weight)
    if sample_weight.ndim != 1:
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got shape {sample_weight.shape}"
        )
    if sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},)!"
        )
    sample_weight = sample_weight.astype(dtype, copy=False)
    if not np.all(np.isfinite(sample_weight)):
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if np.any(sample_weight < 0):
        raise ValueError("Negative values in data passed to `sample_weight`")
    return sample_weight


def _absent(value):
    """The ``"no_validation"`` marker: the argument was not given."""
    return isinstance(value, str) and value == "no_validation"


def _describe_y(y):
    if y is None or _absent(y):
        return None
    y = np.asarray(y) if not hasattr(y, "shape") else y
    return tuple(y.shape[1:]) if y.ndim > 1 else ()


def _separate_multi_output(params):
    """``validate_data`` parameters checking ``X`` and a multi-output ``y`` separately."""
    x_params = {k: v for k, v in params.items() if k not in ("multi_output", "y_numeric")}
    y_params = dict(
        accept_sparse="csr",
        ensure_2d=False,
        ensure_min_samples=0,
        dtype="numeric" if params.get("y_numeric") else None,
    )
    return {"validate_separately": (x_params, y_params)}


def _with_length_check(local_check):
    """``local_check`` preceded by sklearn's check that ``X`` and ``y`` have equal length."""

    def check(X, y):
        check_consistent_length(X, y)
        if local_check is not None:
            local_check(X, y)

    return check


def validate_spmd_data(
    estimator,
    X,
    y="no_validation",
    *,
    reset=True,
    min_samples=1,
    comm=None,
    local_check=None,
    sample_weight="no_validation",
    **check_params,
):
    """Validate this rank's rows and agree with the other ranks.

    Parameters
    ----------
    estimator : estimator instance or None
        Passed to sklearn's ``validate_data`` (sets ``n_features_in_`` when
        ``reset``). None for a function's input (sklearn's ``check_array``,
        without ``y``).
    X, y : array-like
        This rank's rows. A rank may hold zero rows, with shape ``(0, n_features)``.
    reset : bool
        As in ``validate_data``.
    min_samples : int
        Minimum number of rows over all ranks.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.
    local_check : callable, optional
        ``local_check(X, y)`` run on this rank inside the same agreement step
        (e.g. negative counts); it raises to report bad input.
    sample_weight : array-like, None or "no_validation"
        When given (even as None), validated into ``data.sample_weight``
        (``None`` stays ``None``).
    **check_params
        Passed to ``validate_data`` (``dtype``, ``accept_sparse``, ...).
        With ``multi_output=True``, ``X`` and ``y`` are checked separately
        (then for equal length), because sklearn's joint check rejects a
        multi-output ``y`` with zero rows, which an empty rank legitimately
        has; ``y_numeric=True`` then checks ``y`` with ``dtype="numeric"``.

    Returns
    -------
    X, y : validated local arrays (``y`` omitted when not given)
    data : SPMDData
    """
    comm = comm or get_comm()
    check_params.setdefault("ensure_min_samples", 0)
    no_y = _absent(y)
    if not no_y and check_params.get("multi_output"):
        check_params = _separate_multi_output(check_params)
        local_check = _with_length_check(local_check)
    with agree_on_errors(comm) as step:
        if estimator is None:
            X = check_array(X, **check_params)
        elif no_y:
            X = validate_data(estimator, X, reset=reset, **check_params)
        else:
            X, y = validate_data(estimator, X, y, reset=reset, **check_params)
        if local_check is not None:
            local_check(X, None if no_y else y)
        weights = None
        if sample_weight is not None and not _absent(sample_weight):
            weights = check_sample_weight(sample_weight, X.shape[0])
        step.payload = (
            X.shape[0],
            X.shape[1] if X.ndim > 1 else None,
            X.dtype.str,
            None if no_y else _describe_y(y),
        )
    counts, dtype = _agree(step.gathered, no_y, min_samples, comm)
    if X.dtype != dtype:
        X = X.astype(dtype)
    data = SPMDData(
        n_samples=int(counts.sum()),
        counts=counts,
        rank=comm.Get_rank(),
        dtype=dtype,
        sample_weight=weights,
    )
    if no_y:
        return X, data
    return X, y, data


def _agree(metas, no_y, min_samples, comm):
    """The cross-rank checks on every rank's ``(rows, n_features, dtype, y shape)``.

    Returns the rows per rank and the common dtype, or raises the same error
    on every rank (the metadata are identical everywhere).
    """
    counts = np.array([m[0] for m in metas], dtype=np.int64)
    n_features = [m[1] for m in metas]
    if len(set(n_features)) > 1:
        ref = n_features[0]
        bad = [r for r, nf in enumerate(n_features) if nf != ref]
        raise ValueError(
            "X has a different number of features on different ranks: "
            + ", ".join(f"rank {r}: {nf}" for r, nf in enumerate(n_features))
            + f" (ranks {', '.join(map(str, bad))} differ from rank 0)"
        )
    if not no_y:
        y_shapes = [m[3] for m in metas]
        if len(set(y_shapes)) > 1:
            raise ValueError(
                "y has a different shape per row on different ranks: "
                + ", ".join(
                    f"rank {r}: {'1-D' if s == () else f'(n, {s[0]})'}"
                    for r, s in enumerate(y_shapes)
                )
            )
    total = int(counts.sum())
    if total < min_samples:
        raise ValueError(
            f"Found array with {total} sample(s) in total over {comm.Get_size()} "
            f"rank(s) (rows per rank: {counts.tolist()}) while a minimum of "
            f"{min_samples} is required."
        )
    return counts, np.result_type(*[np.dtype(m[2]) for m in metas])



def global_classes(y, comm=None):
    """The sorted union of every rank's class labels, as ``np.unique`` of all rows (collective).

    Each rank checks its labels as scikit-learn's classifiers do
    (``check_classification_targets``) and sends its distinct labels in one
    small ``allgather``; a rank without rows sends none. Labels of different
    kinds on different ranks (strings on one, numbers on another) raise
    scikit-learn's ``unique_labels`` error, the same on every rank.
    """
    comm = comm or get_comm()
    with agree_on_errors(comm) as step:
        if len(y):
            check_classification_targets(y)
            step.payload = np.unique(y)
    parts = [labels for labels in step.gathered if labels is not None]
    if not parts:
        return np.empty(0)
    unique_labels(*parts)  # the same parts everywhere: the same verdict everywhere
    return np.unique(np.concatenate(parts))
