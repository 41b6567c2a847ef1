"""Local k-means kernels: pure NumPy/SciPy on this rank's rows, no communication.

Everything here works on one process's arrays and can be tested without MPI:
the nearest-center labels (scikit-learn's compiled E-step when available, a
NumPy/BLAS version over cache-sized blocks otherwise), the per-cluster sums
and their update when rows change cluster, the squared distances of rows to
their assigned center, and the k-means++ candidate distances computed as
scikit-learn computes them. The collective steps built on them live in
:mod:`._seeding` and :mod:`._lloyd`.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import row_norms

from .._compat import (
    _openmp_effective_n_threads,
    lloyd_iter_chunked_dense,
    lloyd_iter_chunked_sparse,
)
from .._rows import CentredRows
from .._stats import BLOCK_BYTES, block_rows
from .._threads import num_threads

__all__ = [
    "ROWS_FORMAT",
    "assign",
    "assign_with_inertia",
    "candidate_distances",
    "candidate_potentials",
    "distances_to_assigned",
    "first_pass_sums",
    "lloyd_block_rows",
    "moved_sums",
    "rows_of",
    "squared_norms",
    "squared_norms64",
    "update_closest",
]

# The rows the kernels take, as parameters of sklearn's check_array/validate_data:
# dense C-ordered or CSR with 32-bit indices, float64 or float32.
ROWS_FORMAT = dict(
    accept_sparse="csr", dtype=[np.float64, np.float32], order="C", accept_large_sparse=False
)


def lloyd_block_rows(n_features, n_clusters, itemsize=8):
    """Rows per block of the distance computation.

    A block of rows and its block of distances each take about
    ``BLOCK_BYTES``, so the GEMM, the argmin and the label update of a block
    run in L2 cache. At least 256 rows (scikit-learn's chunk, for wide data)
    and at most 8192 (narrow data: fewer Python-level iterations would not
    pay for blocks that leave the cache).
    """
    return int(np.clip(block_rows(max(n_features, n_clusters), itemsize), 256, 8192))


def squared_norms(X):
    """Squared row norms in X's dtype (by blocks for :class:`CentredRows`)."""
    if not isinstance(X, CentredRows):
        return row_norms(X, squared=True)
    out = np.empty(X.shape[0], dtype=X.dtype)
    step = block_rows(X.shape[1], X.dtype.itemsize)
    for start in range(0, X.shape[0], step):
        out[start : start + step] = row_norms(X[start : start + step], squared=True)
    return out


def squared_norms64(X):
    """Squared row norms in float64, of float32 rows upcast block by block.

    This is how scikit-learn's k-means++ distances see float32 data (its
    ``euclidean_distances`` upcasts chunks and ignores float32 norms).
    """
    if X.dtype == np.float64:
        return squared_norms(X)
    out = np.empty(X.shape[0])
    step = block_rows(X.shape[1])
    for start in range(0, X.shape[0], step):
        chunk = X[start : start + step].astype(np.float64)
        out[start : start + step] = row_norms(chunk, squared=True)
    return out


def rows_of(X, idx):
    """Rows ``idx`` of dense or CSR ``X`` as a dense array."""
    if sp.issparse(X):
        return X[idx].toarray()
    return X[idx]


def _nearest_block(block, neg2_centers_T, centers_sq, out=None):
    """Distances ``||c_j||^2 - 2 x.c_j`` (rows x centers) and the nearest center.

    ``argmin`` keeps the first nearest center on ties, as scikit-learn does.
    """
    if out is None or sp.issparse(block):
        dist = np.asarray(block @ neg2_centers_T)
    else:
        dist = np.matmul(block, neg2_centers_T, out=out[: block.shape[0]])
    dist += centers_sq
    return dist, dist.argmin(axis=1)


def _nearest_blocks(X, centers, block):
    """``(start, stop, distances, labels)`` of :func:`_nearest_block` for each block of rows.

    The distances live in one reused buffer: use them before the next block.
    """
    neg2_t = np.ascontiguousarray((-2.0 * centers).T)
    c_sq = row_norms(centers, squared=True)
    buf = np.empty((block, centers.shape[0]), dtype=X.dtype)
    for start in range(0, X.shape[0], block):
        stop = min(start + block, X.shape[0])
        dist, new = _nearest_block(X[start:stop], neg2_t, c_sq, buf)
        yield start, stop, dist, new


def _kernel_threads():
    """OpenMP threads for scikit-learn's E-step kernel: this rank's share of the node."""
    return num_threads() or _openmp_effective_n_threads()


def assign(X, centers, block, out=None, weights=None):
    """Labels of the nearest center for every row (int32), into ``out`` if given.

    scikit-learn's compiled E-step (``lloyd_iter_chunked_dense`` / ``_sparse``
    with ``update_centers=False``: 256-row chunks, ``||c||^2 - 2 x.c`` by a
    BLAS GEMM, first nearest center on ties) when available, so the labels are
    computed with scikit-learn's own arithmetic; otherwise NumPy/BLAS blocks
    of ``block`` rows, which keep the same tie rule.
    """
    labels = np.empty(X.shape[0], dtype=np.int32) if out is None else out
    if X.shape[0] == 0:
        return labels
    if isinstance(X, CentredRows) and lloyd_iter_chunked_dense is not None:
        step = X.chunk_rows()
        for a in range(0, X.shape[0], step):
            b = min(a + step, X.shape[0])
            w = None if weights is None else weights[a:b]
            assign(X[a:b], centers, block, out=labels[a:b], weights=w)
        return labels
    kernel = lloyd_iter_chunked_sparse if sp.issparse(X) else lloyd_iter_chunked_dense
    if kernel is not None:
        kernel(
            X,
            np.ones(X.shape[0], dtype=X.dtype) if weights is None else weights,
            centers,
            centers_new=None,
            weight_in_clusters=None,
            labels=labels,
            center_shift=np.zeros(centers.shape[0], dtype=X.dtype),
            n_threads=_kernel_threads(),
            update_centers=False,
        )
        return labels
    for start, stop, _, new in _nearest_blocks(X, centers, block):
        labels[start:stop] = new
    return labels


def assign_with_inertia(X, weights, x_sq, centers, block, out):
    """Labels into ``out`` and the weighted inertia ``sum w ||x - c||^2`` (verbose mode)."""
    inertia = 0.0
    for start, stop, dist, new in _nearest_blocks(X, centers, block):
        out[start:stop] = new
        nearest = np.take_along_axis(dist, new[:, None], axis=1)[:, 0]
        inertia += float(weights[start:stop] @ np.maximum(nearest + x_sq[start:stop], 0))
    return inertia


def first_pass_sums(X, weights, labels, block, onehot, out):
    """Weighted per-cluster sums of all rows into ``out`` (float64), block by block.

    ``onehot`` is a :class:`~skspmd._group_stats.GroupSums` for ``block`` rows.
    """
    out[...] = 0.0
    for start in range(0, X.shape[0], block):
        stop = min(start + block, X.shape[0])
        out += onehot.sums(X[start:stop], labels[start:stop], weights[start:stop])


def moved_sums(X, weights, idx, old, new, n_clusters, out):
    """Add to ``out`` the change of the per-cluster sums when rows ``idx`` change cluster.

    The rows move from clusters ``old`` to clusters ``new``.

    One sparse matrix with two entries per moved row (``+w`` at the new
    cluster, ``-w`` at the old one) times the moved rows, over blocks of rows.
    """
    step = block_rows(X.shape[1], X.dtype.itemsize, 4 * BLOCK_BYTES)
    for start in range(0, idx.size, step):
        part = idx[start : start + step]
        m = part.size
        w = weights[part].astype(np.float64)
        onehot = sp.csc_matrix(
            (
                np.column_stack((w, -w)).ravel(),
                np.column_stack((new[start : start + m], old[start : start + m])).ravel(),
                np.arange(0, 2 * m + 1, 2),
            ),
            shape=(n_clusters, m),
        )
        delta = onehot @ X[part]
        out += delta.toarray() if sp.issparse(delta) else delta


def distances_to_assigned(X, centers, labels, block, x_sq=None):
    """Squared distance of every row to its assigned center, in X's dtype.

    Dense rows: ``sum((x - c)**2)`` directly, as scikit-learn's inertia.
    CSR rows: ``||x||^2 - 2 x.c + ||c||^2`` clipped at 0, as scikit-learn's
    sparse inertia (``x_sq``: the rows' squared norms, computed if None).
    """
    out = np.empty(X.shape[0], dtype=X.dtype)
    if sp.issparse(X):
        c_sq = row_norms(centers, squared=True)
        x_sq = row_norms(X, squared=True) if x_sq is None else x_sq
    for start in range(0, X.shape[0], block):
        stop = min(start + block, X.shape[0])
        lab = labels[start:stop]
        if sp.issparse(X):
            rows = X[start:stop]
            cross = np.asarray(rows.multiply(centers[lab]).sum(axis=1)).ravel()
            d = x_sq[start:stop] - 2 * cross + c_sq[lab]
            out[start:stop] = np.maximum(d, 0)
        else:
            diff = X[start:stop] - centers[lab]
            out[start:stop] = np.einsum("ij,ij->i", diff, diff)
    return out


def _candidate_chunks(X, x_sq64, rows, block):
    """``(start, stop, d)``: float64 squared distances (chunk rows x candidates) per chunk.

    ``x_sq64`` None: the chunk's norms are computed from the chunk (the same
    values, row by row).
    """
    rows64 = rows.astype(np.float64)
    r_sq = row_norms(rows64, squared=True)
    step = max(block, block_rows(max(X.shape[1], rows.shape[0]), 8, 16 * BLOCK_BYTES))
    if isinstance(X, CentredRows):  # each chunk is a centred copy: keep it small
        step = min(step, X.chunk_rows())
    for start in range(0, X.shape[0], step):
        stop = min(start + step, X.shape[0])
        chunk = X[start:stop].astype(np.float64, copy=False)
        d = np.asarray(chunk @ rows64.T)  # (block rows x candidates): the fast GEMM shape
        d *= -2
        d += r_sq
        d += (row_norms(chunk, squared=True) if x_sq64 is None else x_sq64[start:stop])[:, None]
        np.maximum(d, 0, out=d)
        del chunk  # a centred copy for CentredRows: one at a time
        yield start, stop, d


def candidate_distances(X, x_sq64, rows, block):
    """Squared distances (rows x X) as scikit-learn's k-means++ computes them.

    ``-2 r.x + ||r||^2 + ||x||^2`` clipped at 0, in float64 (scikit-learn
    upcasts float32 data for this step), rounded to X's dtype. ``x_sq64`` are
    the rows' squared norms in float64 (:func:`squared_norms64`). Blocks of
    rows are 16 times larger than the Lloyd blocks: only a few candidates
    are compared.
    """
    out = np.empty((rows.shape[0], X.shape[0]), dtype=X.dtype)
    for start, stop, d in _candidate_chunks(X, x_sq64, rows, block):
        out[:, start:stop] = d.T
    return out


def candidate_potentials(X, rows, block, closest, weights):
    """``sum_x w(x) min(closest(x), d(r, x))`` for every candidate row ``r``, chunk by chunk.

    The potentials of :func:`candidate_distances` without its
    ``candidates x n`` array (for rows that are not held in memory): the
    distances are the same values, the sums are accumulated in float64
    chunk by chunk. The rows' norms are computed from each chunk.
    """
    pots = np.zeros(rows.shape[0])
    for start, stop, d in _candidate_chunks(X, None, rows, block):
        d = np.minimum(d.astype(X.dtype, copy=False), closest[start:stop, None])
        pots += weights[start:stop].astype(np.float64) @ d
    return pots


def update_closest(X, rows, block, closest, best):
    """``closest = min(closest, d(rows[best], x))`` in place, d as :func:`candidate_potentials`."""
    for start, stop, d in _candidate_chunks(X, None, rows, block):
        part = closest[start:stop]
        np.minimum(part, d[:, best].astype(X.dtype, copy=False), out=part)
