"""Per-group (per-class, per-cluster) statistics of row blocks.

:class:`GroupSums` (a sparse one-hot matrix times a block of rows) serves the
k-means centre sums and the NumPy fallback of the naive Bayes counts;
:class:`GroupMoments` (per-group counts, means and centred sums of squares,
merged with the same pairwise update as :class:`skspmd._stats.Moments`) serves
GaussianNB.
"""

import numpy as np
import scipy.sparse as sp

from ._comm import allgather_array, get_comm
from ._stats import _chan_merge, block_rows

__all__ = ["GroupMoments", "GroupSums"]


class GroupSums:
    """Weighted per-group sums of blocks of rows: a sparse one-hot matrix times the block.

    ``sums(rows, groups, weights)`` returns the ``(n_groups, n_columns)``
    matrix ``sum_i weights[i] * rows[i]`` per group (dense or CSR rows). The
    ``(groups x rows)`` CSC one-hot matrix has one entry per row, its weight
    at its group (stored even when the weight is 0, so a NaN or inf in a row
    still reaches the sums). Its index arrays are allocated once for full
    blocks of ``block`` rows and refilled in place, so a loop over cache-sized
    blocks costs no SciPy constructor per block. Serves the k-means centre
    sums and the naive Bayes feature counts.
    """

    def __init__(self, n_groups, block, dtype):
        self.n_groups = n_groups
        self.full = sp.csc_matrix(
            (np.zeros(block, dtype=dtype), np.zeros(block, dtype=np.int32), np.arange(block + 1)),
            shape=(n_groups, block),
        )

    def sums(self, rows, groups, weights):
        n = rows.shape[0]
        if n == self.full.shape[1]:
            onehot = self.full
            onehot.indices[:] = groups
            onehot.data[:] = weights
        else:
            onehot = sp.csc_matrix((weights, groups, np.arange(n + 1)), shape=(self.n_groups, n))
        out = onehot @ rows
        return out.toarray() if sp.issparse(out) else out


class GroupMoments:
    """Per-group weighted count ``n`` (n_groups,), column means and centred sums of squares.

    ``from_rows(X, groups, n_groups, sample_weight)`` reads dense rows in
    cache-sized blocks. Per block, the weighted group sums (:class:`GroupSums`)
    give the block's group means, the rows centred on their group's mean
    give its centred sums of squares the same way, and each group is folded
    in with the pairwise update :func:`_chan_merge`, as :class:`Moments` does.
    """

    __slots__ = ("n", "mean", "m2")

    def __init__(self, n, mean, m2):
        self.n, self.mean, self.m2 = n, mean, m2

    @classmethod
    def from_rows(cls, X, groups, n_groups, sample_weight=None):
        shape = (n_groups, X.shape[1])
        out = cls(np.zeros(n_groups), np.zeros(shape), np.zeros(shape))
        step = block_rows(X.shape[1])
        sums = GroupSums(n_groups, step, np.float64)
        for start in range(0, X.shape[0], step):
            block = np.asarray(X[start : start + step], dtype=np.float64)
            g = groups[start : start + step]
            w = np.ones(len(g)) if sample_weight is None else sample_weight[start : start + step]
            w = np.asarray(w, dtype=np.float64)
            n_b = np.bincount(g, weights=w, minlength=n_groups)
            mean_b = sums.sums(block, g, w) / np.where(n_b > 0, n_b, 1.0)[:, np.newaxis]
            centred = block - mean_b[g]
            out = out.merge(cls(n_b, mean_b, sums.sums(centred * centred, g, w)))
        return out

    def merge(self, other):
        """The moments of both row sets together, group by group."""
        parts = zip(self.n, self.mean, self.m2, other.n, other.mean, other.m2)
        n, mean, m2 = zip(*(_chan_merge(*part) for part in parts))
        return GroupMoments(np.array(n, dtype=np.float64), np.array(mean), np.array(m2))

    def allreduce(self, comm=None):
        """Merge every rank's moments in rank order (one ``Allgather``); identical everywhere."""
        comm = comm or get_comm()
        if comm.Get_size() == 1:
            return self
        g, d = self.mean.shape
        packed = np.concatenate([self.n, self.mean.ravel(), self.m2.ravel()])
        out = None
        for row in allgather_array(packed, comm):
            part = GroupMoments(
                row[:g], row[g : g + g * d].reshape(g, d), row[g + g * d :].reshape(g, d)
            )
            out = part if out is None else out.merge(part)
        return out
