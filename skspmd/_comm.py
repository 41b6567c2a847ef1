"""The communicator in use, the few collectives skspmd needs, and error agreement.

Everything that talks to MPI goes through this module. Large arrays travel with
mpi4py's buffer methods (capitalised); only tiny metadata (error reports, shapes,
dtypes) uses the pickle-based lowercase calls. On a communicator of size 1 every
helper short-circuits, so a plain ``python script.py`` never pays for MPI.
"""

import contextlib
import functools
import importlib
import time

import numpy as np
from mpi4py import MPI

__all__ = [
    "SPMDError",
    "agree_on_errors",
    "all_agree",
    "allgather_array",
    "allgather_arrays",
    "allgather_object",
    "allgatherv_array",
    "allreduce",
    "bcast_array",
    "comm_context",
    "get_comm",
    "raise_on_any",
    "replicate",
    "ring_blocks",
]

_COMM_STACK = []

# Seconds spent inside skspmd's collectives in this process (including waiting
# for slower ranks), and their number: read by the benchmarks to split a fit's
# time into local compute and communication.
COMM_STATS = {"seconds": 0.0, "calls": 0}

# The blocks passed around the ring by :func:`ring_blocks`: bytes received by
# this process, and seconds spent waiting for them (the transfer time that the
# consumer's work did not hide). Read by the neighbour benchmarks.
RING_STATS = {"seconds": 0.0, "bytes": 0, "steps": 0}


# The runtime checks of skspmd._runtime (a launcher mismatch to report,
# SKSPMD_TIMEOUT) install themselves here, called as hook(collective, args,
# kwargs) before every collective; None (the usual case) costs one test.
_before_collective = None


def _timed(collective):
    @functools.wraps(collective)
    def wrapper(*args, **kwargs):
        if _before_collective is not None:
            _before_collective(collective, args, kwargs)
        start = time.perf_counter()
        try:
            return collective(*args, **kwargs)
        finally:
            COMM_STATS["seconds"] += time.perf_counter() - start
            COMM_STATS["calls"] += 1

    return wrapper


def get_comm():
    """Return the communicator skspmd estimators use.

    Returns
    -------
    comm : mpi4py.MPI.Comm
        The innermost communicator set with :func:`comm_context`, or
        ``MPI.COMM_WORLD``. A plain ``python script.py`` is a job of size 1.

    Examples
    --------
    >>> import skspmd
    >>> comm = skspmd.get_comm()
    >>> comm.Get_rank(), comm.Get_size()  # a plain ``python script.py``
    (0, 1)
    """
    return _COMM_STACK[-1] if _COMM_STACK else MPI.COMM_WORLD


@contextlib.contextmanager
def comm_context(comm):
    """Run the enclosed code with ``comm`` as the communicator in use.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        An intra-communicator this process belongs to. Every rank of ``comm``
        must enter the context and call the same collective methods in it.

    Examples
    --------
    >>> from mpi4py import MPI
    >>> import skspmd
    >>> with skspmd.comm_context(MPI.COMM_SELF):
    ...     skspmd.get_comm().Get_size()
    1
    """
    if not isinstance(comm, MPI.Comm) or comm == MPI.COMM_NULL:
        raise TypeError(f"comm_context expects an mpi4py communicator, got {comm!r}")
    _COMM_STACK.append(comm)
    try:
        yield comm
    finally:
        _COMM_STACK.pop()


# ---------------------------------------------------------------------------
# Buffer collectives on NumPy arrays
# ---------------------------------------------------------------------------


@_timed
def allreduce(array, op=MPI.SUM, comm=None):
    """Reduce ``array`` over the ranks; the result is bitwise identical everywhere.

    MPI does not promise that ``Allreduce`` hands every rank the same bits for
    floating-point sums, so this reduces to rank 0 and broadcasts: the same two
    messages of the array's size, and a replicated model by construction.
    """
    comm = comm or get_comm()
    array = np.ascontiguousarray(array)
    if comm.Get_size() == 1:
        return array.copy()
    out = np.empty_like(array)
    comm.Reduce(array, out, op=op, root=0)
    comm.Bcast(out, root=0)
    return out


@_timed
def allgather_array(array, comm=None):
    """Gather one same-shaped array per rank; returns shape ``(size, *array.shape)``."""
    comm = comm or get_comm()
    array = np.ascontiguousarray(array)
    if comm.Get_size() == 1:
        return array[np.newaxis].copy()
    out = np.empty((comm.Get_size(),) + array.shape, dtype=array.dtype)
    comm.Allgather(array, out)
    return out


@_timed
def bcast_array(array, root=0, comm=None):
    """Broadcast ``array`` from ``root``; other ranks pass an array of the same shape and dtype."""
    comm = comm or get_comm()
    array = np.ascontiguousarray(array)
    if comm.Get_size() > 1:
        comm.Bcast(array, root=root)
    return array


@_timed
def allgather_object(obj, comm=None):
    """Pickle-based allgather for tiny metadata."""
    comm = comm or get_comm()
    if comm.Get_size() == 1:
        return [obj]
    return comm.allgather(obj)


def _pack(arrays):
    """The arrays' bytes, one after the other, as one uint8 buffer."""
    return np.concatenate(
        [np.ascontiguousarray(a).reshape(-1).view(np.uint8) for a in arrays]
        + [np.empty(0, np.uint8)]
    )


def _unpack(flat, like):
    """Arrays shaped and typed as ``like`` from a buffer made by :func:`_pack`."""
    out, start = [], 0
    for a in like:
        out.append(flat[start : start + a.nbytes].view(a.dtype).reshape(a.shape))
        start += a.nbytes
    return out


@_timed
def allgatherv_array(array, comm=None):
    """Every rank's ``array`` concatenated along axis 0 in rank order (``Allgatherv``).

    The arrays may have different numbers of rows; their other dimensions and
    their dtype must agree on every rank. Returns ``(concatenated, rows per rank)``.
    """
    comm = comm or get_comm()
    array = np.ascontiguousarray(array)
    if comm.Get_size() == 1:
        return array.copy(), np.array([array.shape[0]], dtype=np.int64)
    counts = np.empty(comm.Get_size(), dtype=np.int64)
    comm.Allgather(np.array([array.shape[0]], dtype=np.int64), counts)
    row = int(np.prod(array.shape[1:], dtype=np.int64))
    out = np.empty((int(counts.sum()),) + array.shape[1:], dtype=array.dtype)
    comm.Allgatherv(array, [out, counts * row])
    return out, counts


def replicate(arrays, comm=None):
    """Rank 0's values of ``arrays`` on every rank, dtypes kept (one ``Bcast``).

    Every rank finishes a model from bitwise identical merged statistics;
    broadcasting the few finished numbers from rank 0 keeps the model
    identical even where LAPACK might round differently (another CPU kind or
    thread count on another node). The arrays travel as one byte buffer, so
    an integer (a rank, an iteration count) stays an integer. Shapes and
    dtypes must agree on every rank. Returns a list of arrays.
    """
    comm = comm or get_comm()
    arrays = [np.asarray(a) for a in arrays]
    if comm.Get_size() == 1:
        return arrays
    return _unpack(bcast_array(_pack(arrays), root=0, comm=comm), arrays)


def allgather_arrays(arrays, comm=None):
    """Every rank's ``arrays``, dtypes kept (one ``Allgather`` of their bytes).

    Shapes and dtypes must agree on every rank. Returns one list of arrays
    per rank, in rank order; like :func:`replicate`, integers and floats
    travel together without either being converted.
    """
    comm = comm or get_comm()
    arrays = [np.asarray(a) for a in arrays]
    if comm.Get_size() == 1:
        return [arrays]
    return [_unpack(row, arrays) for row in allgather_array(_pack(arrays), comm)]


def all_agree(ok, comm=None):
    """True on every rank iff ``ok`` holds on every rank (one ``Allreduce`` of an int)."""
    comm = comm or get_comm()
    if comm.Get_size() == 1:
        return bool(ok)
    flag = allreduce(np.array([1 if ok else 0], dtype=np.int32), op=MPI.MIN, comm=comm)
    return bool(flag[0])


# ---------------------------------------------------------------------------
# Collective error agreement
# ---------------------------------------------------------------------------


class SPMDError(RuntimeError):
    """Raised on every rank when ranks failed with exceptions of no common, rebuildable type.

    Examples
    --------
    Every rank raises the exception type of the lowest failing rank
    (``ValueError`` here, as scikit-learn raises), and ``SPMDError`` only when
    that type cannot be rebuilt from a message on the other ranks:

    >>> import numpy as np
    >>> import skspmd
    >>> try:
    ...     skspmd.SPMDPCA(n_components=1).fit(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    ... except (ValueError, skspmd.SPMDError) as exc:
    ...     print(type(exc).__name__)
    ValueError
    """


def _exception_class(module, qualname):
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    if isinstance(obj, type) and issubclass(obj, Exception):
        return obj
    return None


def _describe(failures):
    """``rank 1: msg`` lines, grouping ranks that failed with the same message."""
    groups = {}
    for rank, (_, _, message) in failures:
        groups.setdefault(message, []).append(rank)
    parts = []
    for message, ranks in groups.items():
        label = "rank" if len(ranks) == 1 else "ranks"
        parts.append(f"{label} {', '.join(map(str, ranks))}: {message}")
    return "; ".join(parts)


class agree_on_errors:
    """Make an exception raised on some ranks raise on every rank.

    Wrap each local step (validation, local partial computation, reading a
    file) in ``with agree_on_errors():``. On exit every rank takes part in one
    small ``allgather`` of "did it fail, and why". If any rank failed, every
    rank raises an exception of the lowest failing rank's type whose message
    names the failing rank(s) and their reasons; ranks that did not fail never
    block in a later collective. On a communicator of size 1 the original
    exception propagates unchanged, exactly as in scikit-learn.

    A rank may attach a small picklable ``payload`` to the step; after a
    successful step ``gathered`` holds every rank's payload, in rank order,
    so metadata agreement costs no extra collective.
    """

    def __init__(self, comm=None):
        self.comm = comm or get_comm()
        self.payload = None
        self.gathered = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, Exception):
            return False  # KeyboardInterrupt, SystemExit: let them through
        if self.comm.Get_size() == 1:
            self.gathered = [self.payload]
            return False
        local = None
        if exc is not None:
            cls = type(exc)
            local = (cls.__module__, cls.__qualname__, str(exc) or cls.__name__)
        reports = _timed(self.comm.allgather)((local, self.payload if exc is None else None))
        failures = [(rank, err) for rank, (err, _) in enumerate(reports) if err is not None]
        if not failures:
            self.gathered = [payload for _, payload in reports]
            return False
        message = _describe(failures)
        cls = _exception_class(*failures[0][1][:2]) or SPMDError
        try:
            error = cls(message)
        except Exception:
            error = SPMDError(message)
        raise error from exc


def raise_on_any(condition, message, exc_type=ValueError, comm=None):
    """Collective check: raise ``exc_type(message)`` on every rank if ``condition`` holds on any."""
    with agree_on_errors(comm):
        if condition:
            raise exc_type(message)


# ---------------------------------------------------------------------------
# Passing row blocks around the ranks
# ---------------------------------------------------------------------------


def ring_blocks(arrays, counts, comm=None):
    """Visit every rank's block of ``arrays``, one block at a time (collective generator).

    ``arrays`` are this rank's row-aligned arrays (the same number of arrays,
    trailing shapes and dtypes on every rank); ``counts`` the rows of every
    rank (known to all, e.g. from fit). Yields ``(owner, block)`` for every
    rank, starting with this rank's own arrays; ``block`` is the owner's list
    of arrays. Blocks travel around a ring (rank r receives from r - 1 and
    sends to r + 1): while the consumer works on one block, the next one is
    already on its way (``Isend``/``Irecv``), so communication overlaps
    computation. Two blocks are in memory besides this rank's own.

    Every rank must consume the whole generator (or close it at the same
    step); the consumer should agree on errors at each step. Communication
    per rank is every other rank's rows once, in ``size - 1`` steps.
    """
    comm = comm or get_comm()
    size, rank = comm.Get_size(), comm.Get_rank()
    current = [np.ascontiguousarray(a) for a in arrays]
    if size == 1:
        yield rank, current
        return
    right, left = (rank + 1) % size, (rank - 1) % size
    for step in range(size):
        owner = (rank - step) % size
        requests, following = [], None
        if step < size - 1:
            incoming = int(counts[(owner - 1) % size])
            following = [np.empty((incoming,) + a.shape[1:], dtype=a.dtype) for a in current]
            for sent, received in zip(current, following):
                requests.append(comm.Irecv(received, source=left, tag=step))
                requests.append(comm.Isend(sent, dest=right, tag=step))
        try:
            yield owner, current
        finally:
            if requests:
                start = time.perf_counter()
                MPI.Request.Waitall(requests)
                waited = time.perf_counter() - start
                RING_STATS["seconds"] += waited
                COMM_STATS["seconds"] += waited
                RING_STATS["bytes"] += sum(b.nbytes for b in following)
                RING_STATS["steps"] += 1
        current = following
