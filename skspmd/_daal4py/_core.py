"""What every daal4py-style function shares: process functions, inputs, results, errors.

An algorithm object (``pca(...)``, ``kmeans(...)``) checks its daal4py
parameters when it is built, so a misspelt method or an unsupported parameter
fails at once, on every rank, with a message that names it. ``compute(...)``
then reads its inputs (arrays, pandas DataFrames or per-rank CSV files) in one
collective step, so a missing file or a malformed row on any rank raises the
same exception on every rank instead of leaving the others waiting, and hands
the arrays to the skspmd estimator that does the work. Nothing numerical
happens here.
"""

import contextlib
import numbers
import os

import numpy as np
from mpi4py import MPI

from .._comm import agree_on_errors, comm_context, get_comm
from .._csv import is_numeric_row, read_csv
from .._threads import set_num_threads

__all__ = [
    "Algorithm",
    "Result",
    "UnsupportedError",
    "check_bool",
    "check_choice",
    "check_model",
    "daalfini",
    "daalinit",
    "my_procid",
    "num_procs",
    "num_threads",
]


class UnsupportedError(NotImplementedError):
    """A daal4py function, method or parameter value that skspmd.daal4py does not provide.

    Examples
    --------
    >>> import skspmd.daal4py as d4p
    >>> try:
    ...     d4p.dbscan
    ... except d4p.UnsupportedError as exc:
    ...     print(exc)
    skspmd.daal4py does not provide daal4py's 'dbscan'; it provides ...
    """


# ---------------------------------------------------------------------------
# Process functions
# ---------------------------------------------------------------------------

_STATE = {"threads": None, "initialized": False}


def daalinit(nthreads=-1):
    """Start the distribution engine and set the number of threads of this rank.

    Parameters
    ----------
    nthreads : int, default=-1
        BLAS threads this rank uses from now on (a per-rank setting, applied
        with :func:`skspmd.set_num_threads`). A value ``<= 0`` leaves the
        setting unchanged: by default skspmd gives each rank the cores of its
        node divided by the ranks on it.

    Notes
    -----
    MPI is initialised when skspmd is imported (by mpi4py), so calling
    ``daalinit`` is optional; it is kept so daal4py scripts run unchanged.

    Examples
    --------
    >>> import skspmd.daal4py as d4p
    >>> d4p.daalinit()  # optional; keeps the default threads per rank
    >>> d4p.daalfini()
    """
    if not isinstance(nthreads, numbers.Integral) or isinstance(nthreads, bool):
        raise TypeError(f"daalinit: nthreads must be an int, got {nthreads!r}")
    if nthreads > 0:
        set_num_threads(int(nthreads))
        _STATE["threads"] = int(nthreads)
    _STATE["initialized"] = True


def daalfini():
    """Stop the distribution engine (kept for daal4py scripts; results stay readable).

    Results are plain NumPy arrays and remain usable after this call. MPI
    itself is finalised by mpi4py when the process exits, so later skspmd or
    mpi4py calls keep working (daal4py would finalise MPI here).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> res = d4p.low_order_moments().compute(np.array([[1.0], [3.0]]))
    >>> d4p.daalfini()
    >>> res.mean  # still readable
    array([[2.]])
    """
    _STATE["initialized"] = False


def my_procid():
    """Rank of this process in the communicator in use (0 outside MPI).

    Examples
    --------
    >>> import skspmd.daal4py as d4p
    >>> "part{}.csv".format(d4p.my_procid())  # this rank's file; rank 0 in a plain script
    'part0.csv'
    """
    return get_comm().Get_rank()


def num_procs():
    """Number of processes in the communicator in use (1 outside MPI).

    Examples
    --------
    >>> import skspmd.daal4py as d4p
    >>> d4p.num_procs()  # a plain ``python script.py``; n under ``mpiexec -n n``
    1
    """
    return get_comm().Get_size()


def num_threads():
    """Threads set with :func:`daalinit` on this rank, or the BLAS default in use.

    Examples
    --------
    >>> import skspmd.daal4py as d4p
    >>> d4p.num_threads() >= 1
    True
    """
    if _STATE["threads"] is not None:
        return _STATE["threads"]
    from threadpoolctl import threadpool_info

    blas = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(blas) if blas else 1


# ---------------------------------------------------------------------------
# Parameter checks (local: every rank builds the same object, so every rank raises)
# ---------------------------------------------------------------------------


def check_choice(algo, name, value, options, unsupported=()):
    """``value`` must be one of ``options``; a known daal4py value we lack is named as such."""
    if isinstance(value, str) and value in options:
        return value
    if isinstance(value, str) and value in unsupported:
        raise UnsupportedError(
            f"{algo}: {name}={value!r} is a daal4py option that skspmd.daal4py does not "
            f"provide; supported: {', '.join(map(repr, options))}"
        )
    raise ValueError(
        f"{algo}: {name}={value!r} is not valid; use one of {', '.join(map(repr, options))}"
    )


def check_bool(algo, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{algo}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_int(algo, name, value, minimum=None):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{algo}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{algo}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(algo, name, value, minimum=None):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{algo}: {name} must be a number, got {value!r}")
    value = float(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{algo}: {name} must be >= {minimum}, got {value}")
    return value


def parse_flags(algo, name, value, options):
    """daal4py's ``"a|b|c"`` flag strings; ``""`` is the empty set."""
    if not isinstance(value, str):
        raise TypeError(f"{algo}: {name} must be a string like {'|'.join(options)!r}")
    flags = [f.strip() for f in value.split("|") if f.strip()]
    bad = [f for f in flags if f not in options]
    if bad:
        raise ValueError(
            f"{algo}: {name}={value!r}: unknown flag(s) {', '.join(map(repr, bad))}; "
            f"use {' | '.join(map(repr, options))}"
        )
    return set(flags)


# ---------------------------------------------------------------------------
# Inputs: arrays, DataFrames, per-rank CSV files
# ---------------------------------------------------------------------------


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


def bind_args(algo, names, args, kwargs):
    """Split ``compute``'s arguments into inputs (by daal4py name) and format arguments.

    Integer positional arguments are format arguments for file-name patterns
    (``compute("file{}.csv", my_procid())``); the others are the inputs, in
    daal4py's order.
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
    missing = [n for n in names if n not in values]
    if missing:
        raise TypeError(f"{algo}.compute is missing input(s): {', '.join(missing)}")
    return values, fmt


# ---------------------------------------------------------------------------
# Algorithms and results
# ---------------------------------------------------------------------------

_FPTYPES = {"double": np.float64, "float": np.float32}


class Algorithm:
    """Base of the daal4py-style algorithm objects.

    Subclasses set ``_name``, ``_rows`` (row-distributed inputs) and
    ``_others`` (other inputs, e.g. a model or initial centroids), call
    :meth:`_common` from ``__init__`` and implement ``_run(inputs, **others)``.
    """

    _name = "algorithm"
    _rows = ("data",)
    _others = ()
    _one_d = ()  # row inputs that may be given as 1-D arrays
    _collective = True  # prediction is local

    def _common(self, fptype="double", distributed=False, streaming=False):
        self.fptype = check_choice(self._name, "fptype", fptype, tuple(_FPTYPES))
        self.distributed = check_bool(self._name, "distributed", distributed)
        if check_bool(self._name, "streaming", streaming):
            raise UnsupportedError(
                f"{self._name}: streaming=True is not provided by skspmd.daal4py; read "
                "the data in one call (or use the partial_fit of the skspmd estimators)"
            )
        self._dtype = _FPTYPES[self.fptype]

    def compute(self, *args, **kwargs):
        """Run the algorithm on this rank's inputs (collective when ``distributed``).

        Inputs are NumPy arrays, pandas DataFrames or CSV file names (numeric,
        no header). A file name may hold ``{}``: it is formatted with the
        integer arguments given after the inputs (``compute("part{}.csv",
        my_procid())``), or with this rank when none are given.
        """
        values, fmt = bind_args(self._name, self._rows + self._others, args, kwargs)
        rank = get_comm().Get_rank()
        if self._collective and self.distributed:
            context = contextlib.nullcontext()
        else:
            context = comm_context(MPI.COMM_SELF)
        with context:
            comm = get_comm()
            rows = {name: values[name] for name in self._rows}
            inputs = read_rows(self._name, rows, fmt, rank, self._dtype, comm, self._one_d)
            others = {name: values[name] for name in self._others}
            return self._run(inputs, fmt=fmt, rank=rank, **others)

    def _run(self, inputs, **others):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        params = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_")
        )
        return f"{self._name}({params})"


class Result:
    """Base of result and model objects: plain attributes, readable after ``daalfini``.

    Attributes that were not asked for raise an ``AttributeError`` that says
    why (daal4py returns uninitialised tables for them).
    """

    def __init__(self, not_computed=None, **fields):
        self.__dict__["_not_computed"] = dict(not_computed or {})
        self.__dict__.update(fields)

    def __getattr__(self, name):
        missing = self.__dict__.get("_not_computed", {})
        if name in missing:
            raise AttributeError(
                f"{type(self).__name__}.{name} was not computed: {missing[name]}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self):
        return sorted(k for k in self.__dict__ if not k.startswith("_"))

    def __repr__(self):
        parts = []
        for key in self.__dir__():
            value = self.__dict__[key]
            shown = f"array{value.shape}" if isinstance(value, np.ndarray) else repr(value)
            parts.append(f"{key}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


def check_model(algo, model, model_class, n_columns):
    """A prediction's ``model``: the ``.model`` of its training result, with as many features.

    ``algo`` names the prediction (``..._prediction``); its training is the
    same name with ``_training``. Local (every rank checks its own call).
    """
    if not isinstance(model, model_class):
        raise TypeError(
            f"{algo}: model must be the .model of a "
            f"{algo.replace('prediction', 'training')} result, got {type(model).__name__}"
        )
    if n_columns != model.NumberOfFeatures:
        raise ValueError(
            f"{algo}: data has {n_columns} columns but the model was trained "
            f"with {model.NumberOfFeatures} features"
        )


def row(values, dtype=None):
    """A 1-D array as daal4py's ``(1, n)`` table."""
    values = np.asarray(values)
    if dtype is not None:
        values = values.astype(dtype, copy=False)
    return np.ascontiguousarray(values.reshape(1, -1))
