"""What every daal4py-style function shares: process functions, checks, results, errors.

An algorithm object (``pca(...)``, ``kmeans(...)``) checks its daal4py
parameters when it is built, so a misspelt method or an unsupported parameter
fails at once, on every rank, with a message that names it. ``compute(...)``
then reads its inputs (arrays, pandas DataFrames or per-rank CSV files) in one
collective step, so a missing file or a malformed row on any rank raises the
same exception on every rank instead of leaving the others waiting, and hands
the arrays to the skspmd estimator that does the work (the reading is in
:mod:`._inputs`). Nothing numerical happens here.
"""

import contextlib
import numbers

import numpy as np
from mpi4py import MPI

from .._comm import comm_context, get_comm
from .._threads import set_num_threads
from ._inputs import as_table, bind_args, read_rows  # noqa: F401 - as_table for _cluster

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
    ...     d4p.svm_training
    ... except d4p.UnsupportedError as exc:
    ...     print(exc)
    skspmd.daal4py does not provide daal4py's 'svm_training'; it provides ...
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
    _optional = ()  # row inputs that may be left out (after the others, in daal4py's order)
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
        values, fmt = bind_args(
            self._name, self._rows + self._optional + self._others, args, kwargs, self._optional
        )
        rank = get_comm().Get_rank()
        if self._collective and self.distributed:
            context = contextlib.nullcontext()
        else:
            context = comm_context(MPI.COMM_SELF)
        with context:
            comm = get_comm()
            rows = {
                name: values[name]
                for name in self._rows + self._optional
                if values.get(name) is not None
            }
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
