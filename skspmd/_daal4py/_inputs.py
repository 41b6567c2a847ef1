"""The inputs of a daal4py-style ``compute``: arrays, DataFrames, per-rank CSV files.

:func:`bind_args` splits ``compute``'s arguments into named inputs and
file-name format arguments; :func:`read_rows` reads every rank's inputs in
one collective step (a missing file, a header row, ragged rows or a different
number of columns on any rank raises the same exception on every rank) and
returns them as :class:`Inputs`.
"""

import numbers
import os

import numpy as np

from .._comm import agree_on_errors
from .._csv import is_numeric_row, read_csv

__all__ = ["Inputs", "as_table", "bind_args", "read_rows", "resolve_path"]


def _read_csv(path, what):
    """This rank's CSV file (no header; one trailing comma per line tolerated).

    Returns None for a file without rows (its width is agreed with the other ranks).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: no such file: {path!r}")
    first = None
    with open(path) as f:
        for line in f:
            if line.strip():
                first = line.strip()
                break
    if first is None:
        return None
    if not is_numeric_row(first, ","):
        raise ValueError(
            f"{what}: the first line of {path!r} is not numeric ({first[:80]!r}): "
            "a header row? CSV input of daal4py functions has no header; remove it, or "
            "read the file with skspmd.io.read_local(path) (which detects headers) and "
            "pass the array"
        )
    try:
        return read_csv(path, header=False)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _from_dataframe(obj, what):
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if obj.ndim == 1:
        obj = obj.to_frame()
    bad = [
        str(c)
        for c, dt in obj.dtypes.items()
        if not (is_numeric_dtype(dt) or is_bool_dtype(dt))
    ]
    if bad:
        raise ValueError(
            f"{what}: DataFrame columns {', '.join(bad[:5])} are not numeric; "
            "daal4py functions take numeric tables only"
        )
    return obj.to_numpy(dtype=np.float64)


def resolve_path(path, fmt, rank):
    """``path.format(*fmt)`` when format arguments are given, else ``{}`` -> this rank."""
    try:
        if fmt:
            return path.format(*fmt)
        if "{}" in path:
            return path.format(rank)
    except (IndexError, KeyError, ValueError) as exc:
        raise ValueError(
            f"cannot format the file name {path!r} with {list(fmt) or [rank]}: {exc!r}"
        ) from None
    return path


def as_table(obj, what, fmt, rank, dtype, allow_1d=False):
    """One input as a 2-D array of ``dtype``; ``(array or None, read_from_file)``."""
    if isinstance(obj, (str, os.PathLike)):
        X = _read_csv(resolve_path(os.fspath(obj), fmt, rank), what)
        if X is None:
            return None, True
        owned = True
    elif type(obj).__module__.startswith("pandas") and hasattr(obj, "dtypes"):
        X, owned = _from_dataframe(obj, what), False  # may be a view of the frame
    elif hasattr(obj, "toarray") or hasattr(obj, "tocsr"):
        raise TypeError(f"{what}: sparse input is not supported by skspmd.daal4py")
    elif obj is None:
        raise TypeError(f"{what}: an array, a DataFrame or a CSV file name is required")
    else:
        X = np.asarray(obj)
        if X.dtype.kind not in "biuf":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{what}: numeric data expected, got an array of dtype {X.dtype}"
                ) from None
        owned = False
        if X.size == 0 and (X.ndim < 2 or (X.ndim == 2 and X.shape[1] == 0)):
            return None, True  # no rows, no width: the width is agreed with the other ranks
    if X.ndim == 1 and allow_1d:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(
            f"{what}: a 2-D table (n_rows, n_columns) is expected, got shape {X.shape}"
            + ("; use X.reshape(-1, 1) for one column" if X.ndim == 1 else "")
        )
    if X.dtype != dtype:
        X = X.astype(dtype)
        owned = True
    return np.ascontiguousarray(X), owned


class Inputs:
    """The inputs of one ``compute`` call, read and agreed over the ranks."""

    def __init__(self, tables, owned, counts, comm):
        self.tables = tables  # name -> local 2-D array
        self.owned = owned  # names whose array is a private copy (safe to modify)
        self.counts = counts  # rows per rank of the row-distributed inputs
        self.comm = comm

    @property
    def n_samples(self):
        return int(self.counts.sum())

    @property
    def offset(self):
        return int(self.counts[: self.comm.Get_rank()].sum())

    def __getitem__(self, name):
        return self.tables[name]


def read_rows(algo, items, fmt, rank, dtype, comm, one_d=()):
    """Read the row-distributed inputs of one call (collective over ``comm``).

    ``items`` maps input names to what the user passed. Each rank reads its
    own; one ``allgather`` of the shapes then checks that every input has the
    same number of columns on every rank (a rank whose file has no rows gets a
    ``(0, n_columns)`` array) and gives the rows per rank.
    """
    with agree_on_errors(comm) as step:
        tables, owned = {}, set()
        for name, obj in items.items():
            X, mine = as_table(obj, f"{algo}: {name}", fmt, rank, dtype, name in one_d)
            tables[name] = X
            if mine:
                owned.add(name)
        rows = {name: X.shape[0] for name, X in tables.items() if X is not None}
        if len(set(rows.values())) > 1:
            raise ValueError(
                f"{algo}: inputs have different numbers of rows on this rank: "
                + ", ".join(f"{k}: {v}" for k, v in rows.items())
            )
        step.payload = {name: None if X is None else X.shape for name, X in tables.items()}
    gathered = step.gathered
    given = [sorted(g) for g in gathered]
    if any(names != given[0] for names in given):
        raise ValueError(
            f"{algo}: the ranks were given different inputs: "
            + ", ".join(f"rank {r}: {', '.join(names)}" for r, names in enumerate(given))
        )
    for name in items:
        widths = {r: g[name][1] for r, g in enumerate(gathered) if g[name] is not None}
        if not widths:
            raise ValueError(f"{algo}: {name}: no rows on any rank (every file is empty)")
        if len(set(widths.values())) > 1:
            raise ValueError(
                f"{algo}: {name} has a different number of columns on different ranks: "
                + ", ".join(f"rank {r}: {w}" for r, w in widths.items())
            )
        if tables[name] is None:
            tables[name] = np.empty((0, next(iter(widths.values()))), dtype=dtype)
            owned.add(name)
    first = next(iter(items))
    counts = np.array(
        [0 if g[first] is None else g[first][0] for g in gathered], dtype=np.int64
    )
    return Inputs(tables, owned, counts, comm)


def bind_args(algo, names, args, kwargs, optional=()):
    """Split ``compute``'s arguments into inputs (by daal4py name) and format arguments.

    Integer positional arguments are format arguments for file-name patterns
    (``compute("file{}.csv", my_procid())``); the others are the inputs, in
    daal4py's order. Inputs named in ``optional`` may be left out.
    """
    def is_format(a):
        return isinstance(a, numbers.Integral) and not isinstance(a, bool)

    fmt = [a for a in args if is_format(a)]
    positional = [a for a in args if not is_format(a)]
    if len(positional) > len(names):
        raise TypeError(
            f"{algo}.compute takes {len(names)} input(s) ({', '.join(names)}) plus integer "
            f"format arguments for file-name patterns; got {len(positional)} inputs"
        )
    values = dict(zip(names, positional))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(
                f"{algo}.compute got an unexpected input {key!r}; its inputs are "
                f"{', '.join(names)}"
            )
        if key in values:
            raise TypeError(f"{algo}.compute got input {key!r} twice")
        values[key] = value
    missing = [n for n in names if n not in values and n not in optional]
    if missing:
        raise TypeError(f"{algo}.compute is missing input(s): {', '.join(missing)}")
    return values, fmt
