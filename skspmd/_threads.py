"""BLAS and OpenMP threads per rank: the one home for thread control.

With several ranks on one node, each rank's BLAS defaults to the node's cores
divided by its ranks (oversubscription is the most common way MPI + NumPy code
becomes slow). :func:`ensure_threads` applies that default once per
communicator; :func:`set_num_threads` or ``SKSPMD_NUM_THREADS`` override it;
:func:`num_threads` is what compiled kernels with their own pool (OpenMP) use;
:func:`one_blas_thread` limits BLAS to one thread around loops of small
BLAS/LAPACK calls.
"""

import os

from mpi4py import MPI

from ._comm import get_comm

__all__ = [
    "ensure_threads",
    "num_threads",
    "one_blas_thread",
    "openmp_threads",
    "set_num_threads",
]


_THREADS = {"explicit": None, "configured": set(), "derived": None}


def set_num_threads(n_threads):
    """Set the number of BLAS threads this process uses (a local, per-rank setting).

    Parameters
    ----------
    n_threads : int or None
        Threads for BLAS/LAPACK on this rank. ``None`` returns to the default:
        the cores of the node divided by the ranks of the communicator on it
        (or ``SKSPMD_NUM_THREADS`` if set).

    Examples
    --------
    >>> import skspmd
    >>> skspmd.set_num_threads(1)  # one BLAS thread on this rank from now on
    >>> skspmd.set_num_threads(None)  # back to the default
    """
    from threadpoolctl import threadpool_limits

    if n_threads is not None:
        n_threads = int(n_threads)
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        threadpool_limits(limits=n_threads, user_api="blas")
    _THREADS["explicit"] = n_threads
    _THREADS["configured"].clear()
    _THREADS["derived"] = None


def num_threads():
    """Threads this rank should use, or None for the library default.

    The :func:`set_num_threads` value, else the per-rank count the last
    :func:`ensure_threads` applied (``SKSPMD_NUM_THREADS``, or the node's
    cores divided by its ranks). None in a size-1 job without either, where
    libraries keep their own default (all cores), as with scikit-learn.
    Compiled kernels with their own thread pool (OpenMP) take their thread
    count from here.
    """
    if _THREADS["explicit"] is not None:
        return _THREADS["explicit"]
    return _THREADS["derived"]


def _node_cores():
    try:
        return len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def ensure_threads(comm=None):
    """Apply the default BLAS threads per rank, once per communicator.

    Called at the start of every collective fit. The node is found with a
    shared-memory split of the communicator (``MPI.COMM_TYPE_SHARED``), a
    collective that every rank of ``comm`` reaches in its first fit on that
    communicator. An explicit :func:`set_num_threads` or ``SKSPMD_NUM_THREADS``
    takes precedence. Size-1 jobs keep the library default, as sklearn does.
    """
    comm = comm or get_comm()
    key = comm.py2f()
    if key in _THREADS["configured"]:
        return
    _THREADS["configured"].add(key)
    if comm.Get_size() == 1:
        local_ranks = 1
    else:
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        local_ranks = node.Get_size()
        node.Free()
    if _THREADS["explicit"] is not None:
        return
    env = os.environ.get("SKSPMD_NUM_THREADS")
    if env:
        n_threads = int(env)
    elif local_ranks > 1:
        n_threads = max(1, (os.cpu_count() or 1) // local_ranks)
        n_threads = min(n_threads, _node_cores())
    else:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n_threads, user_api="blas")
    _THREADS["derived"] = n_threads


_CONTROLLER = []


def one_blas_thread():
    """Context limiting BLAS to one thread, for loops of small BLAS/LAPACK calls.

    On such calls (a ``tpqrt`` per 1024-row block in the local TSQR, the
    per-block distance products of k-means) a second OpenBLAS thread made the
    loop 7-25x slower on the reference machine.
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def openmp_threads():
    """Context limiting OpenMP to :func:`num_threads` threads (no limit when it is None).

    For scikit-learn's compiled kernels that size their OpenMP pool
    themselves (the pairwise-distance reductions of the neighbour searches):
    with several ranks on a node they would otherwise each start one thread
    per core.
    """
    import contextlib

    n_threads = num_threads()
    if n_threads is None:
        return contextlib.nullcontext()
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=n_threads, user_api="openmp")
