"""Read this rank's rows: per-rank files, a block of one shared file, or a scatter.

Every reader is collective: a missing or malformed file on any rank raises the
same exception on every rank (naming the rank and the file) instead of leaving
the other ranks waiting.
"""

import os

import numpy as np
from mpi4py.util.dtlib import from_numpy_dtype

from ._comm import agree_on_errors, get_comm
from ._csv import has_header, parse_lines, read_csv

__all__ = ["partition", "read_csv", "read_local", "read_rows", "scatter"]


def partition(n_rows, comm=None):
    """This rank's ``(start, stop)`` block of ``n_rows`` rows split over the ranks.

    Blocks are contiguous, in rank order, and differ in size by at most one row
    (the first ``n_rows % size`` ranks get one more), like ``numpy.array_split``.

    Parameters
    ----------
    n_rows : int
        Global number of rows.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.

    Returns
    -------
    start, stop : int

    Examples
    --------
    >>> from skspmd.io import partition
    >>> partition(10)  # a job of size 1 holds every row
    (0, 10)

    On 3 ranks the blocks are ``(0, 4)``, ``(4, 7)`` and ``(7, 10)``.
    """
    comm = comm or get_comm()
    n_rows = int(n_rows)
    if n_rows < 0:
        raise ValueError(f"n_rows must be non-negative, got {n_rows}")
    return _block(n_rows, comm.Get_size(), comm.Get_rank())


def _block(n_rows, size, rank):
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _read_one(path, delimiter, header):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}")
    if path.endswith(".npy"):
        X = np.load(path)
    else:
        X = read_csv(path, delimiter=delimiter, header=header)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    return X


def read_local(source, delimiter=",", header="infer", comm=None):
    """This rank's rows (collective).

    Parameters
    ----------
    source : str, os.PathLike or array-like
        A file name pattern in which ``{}`` is replaced by the rank
        (``"data/part{}.csv"``, ``"part{}.npy"``), a plain file name read by
        every rank, or an array (passed through as a NumPy array).
        CSV files are numeric, with or without a header row.
    delimiter : str, default=","
        CSV field separator.
    header : "infer" or bool, default="infer"
        Whether CSV files start with a header row.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.

    Returns
    -------
    X : ndarray of shape (n_local_rows, n_columns)

    Raises
    ------
    FileNotFoundError, ValueError
        On every rank if any rank's file is missing or malformed.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from skspmd.io import read_local
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     np.save(os.path.join(folder, "part0.npy"), np.arange(6.0).reshape(3, 2))
    ...     read_local(os.path.join(folder, "part{}.npy"))  # rank 0 reads part0.npy
    array([[0., 1.],
           [2., 3.],
           [4., 5.]])
    """
    comm = comm or get_comm()
    with agree_on_errors(comm):
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if "{}" in path:
                path = path.format(comm.Get_rank())
            X = _read_one(path, delimiter, header)
        else:
            X = np.asarray(source)
    return X


def _csv_byte_block(path, delimiter, header):
    """Rows of a CSV whose first byte falls in this rank's byte range."""
    comm = get_comm()
    size_bytes = os.path.getsize(path)
    with open(path, "rb") as f:
        first = f.readline()
        header_bytes = len(first)
        skip = has_header(first.decode(), delimiter) if header == "infer" else bool(header)
        body_start = header_bytes if skip else 0
        body = size_bytes - body_start
        rank, nranks = comm.Get_rank(), comm.Get_size()
        lo = body_start + body * rank // nranks
        hi = body_start + body * (rank + 1) // nranks
        # a line belongs to the rank whose range holds its first byte
        if lo > body_start:
            f.seek(lo - 1)
            if f.read(1) != b"\n":
                f.readline()
        else:
            f.seek(lo)
        lines = []
        while f.tell() < hi:
            line = f.readline()
            if not line:
                break
            lines.append(line.decode())
    return parse_lines(lines, path, delimiter, first_line_number=1)


def read_rows(path, delimiter=",", header="infer", comm=None):
    """This rank's contiguous block of rows of one shared file (collective).

    No rank loads the whole file: a ``.npy`` file is memory-mapped and sliced
    with :func:`partition`; a CSV file is split by byte ranges, each rank
    reading the lines that start in its range (blocks are balanced by bytes,
    and consecutive in rank order).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` or numeric CSV file visible to every rank.
    delimiter, header : see :func:`read_local`.
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    X : ndarray of shape (n_block_rows, n_columns)

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from skspmd.io import read_rows
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "all.npy")
    ...     np.save(path, np.arange(8.0).reshape(4, 2))
    ...     read_rows(path)  # size 1: every row; on 2 ranks, rank r gets rows 2r, 2r + 1
    array([[0., 1.],
           [2., 3.],
           [4., 5.],
           [6., 7.]])
    """
    comm = comm or get_comm()
    path = os.fspath(path)
    with agree_on_errors(comm) as step:
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: {path!r}")
        if path.endswith(".npy"):
            whole = np.load(path, mmap_mode="r")
            if whole.ndim == 1:
                whole = whole.reshape(-1, 1)
            start, stop = partition(whole.shape[0], comm)
            X = np.array(whole[start:stop])
        else:
            X = _csv_byte_block(path, delimiter, header)
        step.payload = X.shape[1] if X.shape[0] else None
    widths = {w for w in step.gathered if w is not None}
    if len(widths) > 1:
        raise ValueError(f"{path}: rows have different numbers of columns: {sorted(widths)}")
    if X.shape[0] == 0 and widths:
        X = np.empty((0, widths.pop()))
    return X


def scatter(X, root=0, comm=None):
    """Split an array that starts on ``root`` into contiguous row blocks, one per rank.

    Parameters
    ----------
    X : array-like or None
        The whole array on ``root``; ignored (may be None) elsewhere.
    root : int, default=0
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    X_local : ndarray
        This rank's :func:`partition` block of rows.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd
    >>> from skspmd.io import scatter
    >>> X = np.arange(6).reshape(3, 2) if skspmd.get_comm().Get_rank() == 0 else None
    >>> scatter(X)  # a job of size 1 keeps every row
    array([[0, 1],
           [2, 3],
           [4, 5]])
    """
    comm = comm or get_comm()
    rank = comm.Get_rank()
    with agree_on_errors(comm) as step:
        if rank == root:
            X = np.ascontiguousarray(X)
            if X.ndim == 0:
                raise ValueError("scatter needs an array with at least one dimension")
            step.payload = (X.shape, X.dtype.str)
    shape, dtype = step.gathered[root]
    start, stop = partition(shape[0], comm)
    local = np.empty((stop - start,) + tuple(shape[1:]), dtype=np.dtype(dtype))
    if comm.Get_size() == 1:
        local[...] = X
        return local
    row = int(np.prod(shape[1:], dtype=np.int64))
    blocks = [_block(shape[0], comm.Get_size(), r) for r in range(comm.Get_size())]
    counts = [(b - a) * row for a, b in blocks]
    displs = [a * row for a, _ in blocks]
    mpitype = from_numpy_dtype(np.dtype(dtype))
    send = [X, counts, displs, mpitype] if rank == root else None
    comm.Scatterv(send, [local, mpitype], root=root)
    return local
