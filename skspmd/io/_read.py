"""Read this rank's rows: per-rank files, a block of one shared file, or a scatter.

Every reader is collective: a missing or malformed file on any rank raises the
same exception on every rank (naming the rank and the file) instead of leaving
the other ranks waiting.
"""

import os

import numpy as np
from mpi4py.util.dtlib import from_numpy_dtype

from .._comm import agree_on_errors, get_comm
from .._csv import CsvLayout, parse_range, rank_range, read_csv
from ._tables import Selection, file_kind, open_table, to_frame

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
    return block(n_rows, comm.Get_size(), comm.Get_rank())


def block(n_rows, size, rank):
    """``(start, stop)`` of ``rank``'s block of ``n_rows`` over ``size`` ranks."""
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _check_exists(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}")


def _check_mmap(path, kind, columns, as_frame):
    if kind != "npy":
        raise ValueError(f"mmap=True maps a .npy file; {path!r} is a {kind} file")
    if columns is not None or as_frame:
        raise ValueError("mmap=True returns whole rows as a memory map: no columns= or as_frame")


def _read_table(path, start_stop, columns, key, mmap, as_frame):
    """Rows of a binary table; ``start_stop(n_rows)`` gives the row range. Returns (X, start)."""
    table = open_table(path, columns, key)
    try:
        if mmap and table.fields:
            raise ValueError(f"{path}: mmap=True needs a plain (not structured) array")
        start, stop = start_stop(table.n_rows)
        if mmap:
            return table.memmap(start, stop), start
        if as_frame and hasattr(table, "read_frame"):
            return table.read_frame(start, stop), start
        X = table.read(start, stop)
        return (to_frame(X, table.names, start) if as_frame else X), start
    finally:
        table.close()


def read_local(
    source,
    delimiter=",",
    header="infer",
    comm=None,
    *,
    columns=None,
    key=None,
    mmap=False,
    as_frame=False,
):
    """This rank's rows from its own file (collective).

    Parameters
    ----------
    source : str, os.PathLike or array-like
        A file name pattern in which ``{}`` is replaced by the rank
        (``"data/part{}.csv"``, ``"part{}.npy"``), a plain file name read by
        every rank, or an array (passed through as a NumPy array). Formats
        by extension: ``.npy``; ``.parquet``/``.pq`` (needs
        ``skspmd[parquet]``); ``.h5``/``.hdf5`` (needs ``skspmd[hdf5]``);
        anything else is a numeric CSV file, with or without a header row.
    delimiter : str, default=","
        CSV field separator.
    header : "infer" or bool, default="infer"
        Whether CSV files start with a header row.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.
    columns : str, int or list of them, optional
        Columns to return, by name (CSV header, Parquet column, HDF5
        compound field or ``columns`` attribute) or position. One name or
        position gives a 1-D array (a target ``y``); a list gives 2-D.
    key : str, optional
        The HDF5 dataset to read (default: the file's only dataset).
    mmap : bool, default=False
        Memory-map a ``.npy`` file instead of reading it (read-only, no copy).
    as_frame : bool, default=False
        Return a pandas DataFrame (a Series for one column) with the file's
        column names.

    Returns
    -------
    X : ndarray of shape (n_local_rows, n_columns) or (n_local_rows,)
        A 1-D file (or one selected column) gives a 1-D array.

    Raises
    ------
    FileNotFoundError, KeyError, ValueError, ImportError
        On every rank if any rank's file is missing or malformed, a column
        is unknown, or the optional reader for the format is not installed.

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
    empty_csv = False
    with agree_on_errors(comm) as step:
        if not isinstance(source, (str, os.PathLike)):
            X = np.asarray(source)
        else:
            path = os.fspath(source)
            if "{}" in path:
                path = path.format(comm.Get_rank())
            _check_exists(path)
            kind = file_kind(path)
            if mmap:
                _check_mmap(path, kind, columns, as_frame)
            if kind == "csv":
                if key is not None:
                    raise ValueError(f"{path}: key= names an HDF5 dataset; this is a csv file")
                lay = CsvLayout(path, delimiter, header)
                sel = Selection(columns, lay.names, lay.width, path)
                X = sel.apply(parse_range(lay, lay.body_start, lay.size))
                empty_csv = lay.width == 0
                if as_frame:
                    X = to_frame(X, sel.names, 0)
            else:
                X, _ = _read_table(path, lambda n: (0, n), columns, key, mmap, as_frame)
        shape = getattr(X, "shape", ())
        step.payload = shape[1] if len(shape) == 2 and shape[0] else None
    if empty_csv:  # a CSV file without a line: the width of the others' rows
        widths = {w for w in step.gathered if w is not None}
        if len(widths) == 1:
            X = np.empty((0, widths.pop()))
    return X


def _move_rows(X, counts, comm):
    """Redistribute rows held in rank order (``counts`` per rank) into :func:`partition` blocks.

    One ``Alltoallv`` of whole rows (a contiguous row datatype, so counts are
    in rows); the counts every rank needs were already gathered.
    """
    size, rank = comm.Get_size(), comm.Get_rank()
    n = int(sum(counts))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    start, stop = block(n, size, rank)
    if size == 1:
        return X
    width = X.shape[1]
    out = np.empty((stop - start, width), dtype=X.dtype)
    if width == 0:
        return out
    mine = (offsets[rank], offsets[rank + 1])
    send = np.zeros(size, dtype=np.int64)
    recv = np.zeros(size, dtype=np.int64)
    for t in range(size):
        s_t, e_t = block(n, size, t)
        send[t] = max(0, min(mine[1], e_t) - max(mine[0], s_t))
        recv[t] = max(0, min(offsets[t + 1], stop) - max(offsets[t], start))
    sdispl = np.concatenate(([0], np.cumsum(send)[:-1]))
    rdispl = np.concatenate(([0], np.cumsum(recv)[:-1]))
    rowtype = from_numpy_dtype(X.dtype).Create_contiguous(width).Commit()
    try:
        X = np.ascontiguousarray(X)
        comm.Alltoallv([X, (send, sdispl), rowtype], [out, (recv, rdispl), rowtype])
    finally:
        rowtype.Free()
    return out


def _read_csv_block(path, delimiter, header, columns, key, comm):
    """This rank's :func:`partition` block of a shared CSV file (collective).

    Every rank parses the lines that start in its byte range (in parallel),
    the row counts are gathered, and boundary rows move to their rank.
    """
    with agree_on_errors(comm) as step:
        _check_exists(path)
        if key is not None:
            raise ValueError(f"{path}: key= names an HDF5 dataset; this is a csv file")
        lay = CsvLayout(path, delimiter, header)
        sel = Selection(columns, lay.names, lay.width, path)
        lo, hi = rank_range(lay, comm.Get_rank(), comm.Get_size())
        X = parse_range(lay, lo, hi)
        if sel.indices is not None:
            X = X[:, sel.indices]
        step.payload = X.shape[0]
    X = _move_rows(X, step.gathered, comm)
    start = block(int(sum(step.gathered)), comm.Get_size(), comm.Get_rank())[0]
    return (X[:, 0] if sel.squeeze else X), sel.names, start


def read_rows(
    path,
    delimiter=",",
    header="infer",
    comm=None,
    *,
    columns=None,
    key=None,
    mmap=False,
    as_frame=False,
):
    """This rank's :func:`partition` block of the rows of one shared file (collective).

    Every format gives rank ``r`` exactly rows ``partition(n_rows)[r]``, so
    ``X`` and ``y`` read from two files line up. No rank reads the whole
    file: a ``.npy`` file is read (or memory-mapped) at this rank's rows; a
    Parquet file by the row groups that overlap them; an HDF5 dataset by a
    hyperslab; a CSV file is parsed in parallel by byte ranges (each rank
    parses the lines that start in its range), then the rows at the block
    boundaries move to their rank (one ``Alltoallv`` after the row counts
    are gathered).

    Parameters
    ----------
    path : str or os.PathLike
        A file visible to every rank: ``.npy``, ``.parquet``/``.pq``,
        ``.h5``/``.hdf5``, or a numeric CSV file (any other extension).
    delimiter, header : see :func:`read_local`.
    comm : mpi4py.MPI.Comm, optional
    columns, key, as_frame : see :func:`read_local`.
    mmap : bool, default=False
        ``.npy`` only: return this rank's block as a read-only
        :class:`numpy.memmap` (nothing is read until used, no copy), for
        fits that pass over the data several times.

    Returns
    -------
    X : ndarray of shape (n_block_rows, n_columns) or (n_block_rows,)
        With ``as_frame=True`` a DataFrame indexed by global row numbers.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skspmd
    >>> path = os.path.join(tempfile.mkdtemp(), "xy.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,label\\n1,2,0\\n3,4,1\\n5,6,0\\n")
    >>> X = skspmd.io.read_rows(path, columns=["a", "b"])
    >>> y = skspmd.io.read_rows(path, columns="label")
    >>> X.shape, y.shape
    ((3, 2), (3,))
    """
    comm = comm or get_comm()
    path = os.fspath(path)
    kind = file_kind(path)
    if kind == "csv" and not mmap:
        X, names, start = _read_csv_block(path, delimiter, header, columns, key, comm)
        return to_frame(X, names, start) if as_frame else X
    with agree_on_errors(comm):
        _check_exists(path)
        if mmap:
            _check_mmap(path, kind, columns, as_frame)
        X, _ = _read_table(path, lambda n: partition(n, comm), columns, key, mmap, as_frame)
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
    blocks = [block(shape[0], comm.Get_size(), r) for r in range(comm.Get_size())]
    counts = [(b - a) * row for a, b in blocks]
    displs = [a * row for a, _ in blocks]
    mpitype = from_numpy_dtype(np.dtype(dtype))
    send = [X, counts, displs, mpitype] if rank == root else None
    comm.Scatterv(send, [local, mpitype], root=root)
    return local
