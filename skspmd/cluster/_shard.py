"""This rank's rows in one k-means fit, and how they sit in the global row order.

The global row order is the concatenation of the ranks' rows in rank order.
The seeding and the empty-cluster relocation select rows by their global
position; the helpers here find the owner of a position in a cumulative sum
spread over the ranks (from prefix offsets, one ``Allgather`` of one number
per rank) and replicate the selected rows (one ``Allreduce``).
"""

from functools import cached_property

import numpy as np
import scipy.sparse as sp
from .._comm import allgather_array, allreduce
from ._kmeans_kernels import lloyd_block_rows, rows_of, squared_norms, squared_norms64

__all__ = ["GlobalCumsum", "Shard", "share_rows"]


class Shard:
    """This rank's rows and what every collective step of one fit needs to know about them.

    Building it is collective: one ``Allgather`` of two numbers per rank
    gives the global sum of the weights (``total_weight``) and the global
    number of positive weights (``n_positive``), summed in rank order; if
    every weight is zero, every rank raises.

    Parameters
    ----------
    X : ndarray, CSR matrix or CentredRows of shape (n_local, n_features)
        This rank's validated rows (float64 or float32).
    sample_weight : ndarray of shape (n_local,) or None
        Their validated sample weights (None: ones), kept in X's dtype as
        ``weights``.
    counts : ndarray of shape (n_ranks,)
        Rows per rank, in rank order.
    comm : mpi4py.MPI.Comm
    n_clusters : int
        Sets the block size of the distance computations.
    x_sq : ndarray of shape (n_local,), optional
        Squared row norms in X's dtype; computed on first use if None.
    """

    def __init__(self, X, sample_weight, counts, comm, *, n_clusters, x_sq=None):
        if sample_weight is None:
            sample_weight = np.ones(X.shape[0], dtype=X.dtype)
        weights = sample_weight.astype(X.dtype, copy=False)
        local = np.array([weights.sum(dtype=np.float64), np.count_nonzero(weights)])
        totals = allgather_array(local, comm)
        if totals[:, 1].sum() == 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        self.X = X
        self.weights = weights
        self.comm = comm
        self.counts = counts
        self.offset = int(counts[: comm.Get_rank()].sum())
        self.total_weight = float(totals[:, 0].sum())
        self.n_positive = int(totals[:, 1].sum())
        self.block = lloyd_block_rows(X.shape[1], n_clusters, X.dtype.itemsize)
        self._x_sq = x_sq

    def sparse_norms(self):
        """:attr:`x_sq` for CSR rows (their distances need them), None for dense rows."""
        return self.x_sq if sp.issparse(self.X) else None

    @cached_property
    def x_sq(self):
        """Squared row norms in X's dtype."""
        return squared_norms(self.X) if self._x_sq is None else self._x_sq

    @cached_property
    def x_sq64(self):
        """Squared row norms in float64, as scikit-learn's k-means++ distances use them.

        float64 rows: :attr:`x_sq` (given norms are used, as scikit-learn
        does); float32 rows: norms of the upcast rows (scikit-learn ignores
        float32 norms there).
        """
        return self.x_sq if self.X.dtype == np.float64 else squared_norms64(self.X)

    def probabilities(self):
        """``sample_weight / sample_weight.sum()`` as sklearn passes it to ``choice``."""
        w = self.weights
        return (w / w.dtype.type(self.total_weight)).astype(np.float64, copy=False)

    def local_index(self, global_idx):
        """Local row of each global index, -1 where another rank owns it."""
        local = np.asarray(global_idx, dtype=np.int64) - self.offset
        return np.where((local >= 0) & (local < self.X.shape[0]), local, -1)


class GlobalCumsum:
    """A cumulative sum over the global row order, held in pieces by the ranks.

    Each rank keeps ``start + cumsum(local values)`` where ``start`` is the
    sum of the previous ranks' totals (one ``Allgather`` of one number per
    rank, unless the caller already gathered them as ``totals``). With the
    gathered cumsum's own totals, the last local value equals the next rank's
    start bit for bit, so the pieces form one non-decreasing array and an
    owner found from the gathered ends agrees with ``searchsorted`` on the
    owner's piece; with totals from elsewhere (a dot product) they agree to
    round-off and a local index past the piece is clipped to its last row.
    ``normalize=True`` divides by the global total, as ``numpy``'s
    ``RandomState.choice`` does with its cdf. ``overwrite=True``: the sum
    may be written into ``values`` (a temporary of the caller's).
    """

    def __init__(self, values, counts, comm, normalize=False, totals=None, overwrite=False):
        # overwrite: a float64 ``values`` the caller no longer needs holds the sum
        inplace = overwrite and values.dtype == np.float64
        local = np.cumsum(values, dtype=np.float64, out=values if inplace else None)
        if totals is None:
            total = local[-1] if local.size else 0.0
            totals = allgather_array(np.array([total]), comm)[:, 0]
        ends = np.cumsum(totals)
        self.rank = comm.Get_rank()
        self.counts = counts
        if self.rank > 0 and ends[self.rank - 1] != 0.0:
            local += ends[self.rank - 1]
        if normalize:
            scale = ends[-1]
            local /= scale
            ends = ends / scale
        self.local = local
        self.ends = ends

    def locate(self, targets, side):
        """Owner rank and local index of the position each target selects.

        ``side='left'``: first position whose value is >= target; ``'right'``:
        first whose value is > target. A target past the end selects the
        last row (scikit-learn clips). Local indices are -1 on other ranks.
        """
        targets = np.asarray(targets, dtype=np.float64)
        nonempty = np.flatnonzero(self.counts > 0)
        ends = self.ends[nonempty]
        if side == "left":
            hit = ends[None, :] >= targets[:, None]
        else:
            hit = ends[None, :] > targets[:, None]
        first = np.where(hit.any(axis=1), hit.argmax(axis=1), len(nonempty) - 1)
        owners = nonempty[first]
        local = np.full(targets.shape[0], -1, dtype=np.int64)
        mine = owners == self.rank
        if mine.any():
            pos = np.searchsorted(self.local, targets[mine], side=side)
            local[mine] = np.minimum(pos, self.local.size - 1)
        return owners, local


def share_rows(X, local_idx, offset, comm, extra=()):
    """Rows selected by their owners (``local_idx >= 0``), replicated on every rank.

    One ``Allreduce`` of ``(m, d + 1 + len(extra))`` numbers: the owners fill
    their rows, the global index and any extra per-row values; the other
    ranks add zeros (exact). Returns ``rows`` (X's dtype), global indices, and
    the extra columns.
    """
    m = local_idx.shape[0]
    d = X.shape[1]
    buf = np.zeros((m, d + 1 + len(extra)))
    mine = np.flatnonzero(local_idx >= 0)
    if mine.size:
        idx = local_idx[mine]
        buf[mine, :d] = rows_of(X, idx)
        buf[mine, d] = offset + idx
        for j, column in enumerate(extra):
            buf[mine, d + 1 + j] = column[idx]
    buf = allreduce(buf, comm=comm)
    rows = buf[:, :d].astype(X.dtype)
    return rows, buf[:, d].astype(np.int64), buf[:, d + 1 :]
