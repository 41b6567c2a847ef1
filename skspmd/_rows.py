"""Rows that a fit reads but must neither copy nor modify: a memory map, a read-only array.

scikit-learn centres dense data with ``X - mean`` (a copy) or ``X -= mean`` (in
place) before KMeans and the truncated PCA solvers. For a memory-mapped ``X``
(``skspmd.io.read_rows(path, mmap=True)``), a copy is the whole block in memory
and in place writes to the file; :class:`CentredRows` gives the same centred
values block by block as the passes read them instead.
"""

import mmap

import numpy as np

from ._stats import BLOCK_BYTES, block_rows

__all__ = ["CentredRows", "keep_unmodified", "memory_mapped"]


def memory_mapped(X):
    """Whether ``X`` is (a view of) a memory map, such as ``read_rows(path, mmap=True)``."""
    while isinstance(X, np.ndarray):
        if isinstance(X, np.memmap):
            return True
        X = X.base
    return isinstance(X, mmap.mmap)


def keep_unmodified(X, copy):
    """Whether a fit must centre validated dense ``X`` by blocks instead of copy or in place.

    A memory-mapped ``X`` always (whatever ``copy``: a copy would load the
    block, in place would write the file); a read-only ``X`` when the
    estimator's ``copy`` parameter is False.
    """
    return memory_mapped(X) or (not copy and not X.flags.writeable)


class CentredRows:
    """Dense rows minus their mean, centred block by block as they are read.

    ``rows[a:b]`` and ``rows[idx]`` return ``X[...] - mean``: a new array in
    X's dtype holding, bit for bit, the values that ``X - mean`` (or
    ``X -= mean``) gives. ``rows @ B``, ``A @ rows`` and ``rows.T @ Y`` are
    computed block by block in float64, as the SVD solvers use them. The
    extra memory is one chunk of about 1 MiB (and the products' outputs).
    """

    ndim = 2
    __array_ufunc__ = None  # ``ndarray @ rows`` defers to :meth:`__rmatmul__`

    def __init__(self, X, mean):
        self.X = X
        self.mean = np.asarray(mean).astype(X.dtype)
        self.shape = X.shape
        self.dtype = X.dtype

    def __getitem__(self, rows):
        block = self.X[rows]
        if block.flags.writeable and not np.may_share_memory(block, self.X):  # a copy already
            return np.subtract(block, self.mean, out=block)
        return np.subtract(block, self.mean, dtype=self.dtype)  # a view of X

    def __len__(self):
        return self.shape[0]

    def chunk_rows(self):
        """Rows per chunk: about 1 MiB, a multiple of 256 rows (scikit-learn's E-step chunk)."""
        rows = block_rows(self.shape[1], self.dtype.itemsize, 4 * BLOCK_BYTES)
        return max(256, rows // 256 * 256)

    def chunks(self):
        """``(start, stop, centred float64 rows)`` for every chunk."""
        step = self.chunk_rows()
        for start in range(0, self.shape[0], step):
            stop = min(start + step, self.shape[0])
            yield start, stop, self[start:stop].astype(np.float64, copy=False)

    def __matmul__(self, B):
        out = np.empty((self.shape[0], B.shape[1]))
        for start, stop, rows in self.chunks():
            np.matmul(rows, B, out=out[start:stop])
        return out

    def __rmatmul__(self, A):
        out = np.zeros((A.shape[0], self.shape[1]))
        for start, stop, rows in self.chunks():
            out += A[:, start:stop] @ rows
        return out

    @property
    def T(self):
        return _Transposed(self)

    def sum_squares(self):
        """``sum((X - mean)**2)`` over every element, in float64."""
        total = 0.0
        for _, _, rows in self.chunks():
            flat = rows.reshape(-1)
            total += float(np.dot(flat, flat))
        return total


class _Transposed:
    """``rows.T`` of :class:`CentredRows`: only ``rows.T @ Y`` (block by block)."""

    def __init__(self, rows):
        self.rows = rows
        self.shape = rows.shape[::-1]

    def __matmul__(self, Y):
        out = np.zeros((self.shape[0], Y.shape[1]))
        for start, stop, rows in self.rows.chunks():
            out += rows.T @ Y[start:stop]
        return out
