"""Lloyd's k-means iterations over the rows of every rank.

A Lloyd iteration reduces this rank's rows to per-cluster weighted sums and
weights, the number of labels that changed (and the inertia, in verbose
mode), and merges them with one ``Allreduce`` of ``k * (d + 1) + 2`` numbers
(:class:`StepStats`). The centers, the strict-convergence test (no label
changed on any rank) and the center shift are then computed identically on
every rank, so every rank takes the same steps and stops at the same
iteration. The labels come from scikit-learn's compiled E-step on this
rank's rows (:func:`~._kmeans_kernels.assign`); the sums are updated only
for the rows whose label changed.
"""

from typing import NamedTuple

import numpy as np

from .._comm import allgather_array, allreduce
from .._group_stats import GroupSums
from ._kmeans_kernels import (
    assign,
    assign_with_inertia,
    distances_to_assigned,
    first_pass_sums,
    moved_sums,
)
from ._shard import share_rows

__all__ = ["LloydRun", "StepStats", "lloyd", "same_clustering"]


class LloydRun(NamedTuple):
    """The result of one k-means run; identical on every rank except ``labels``."""

    labels: np.ndarray  # this rank's labels (int32)
    inertia: float  # global weighted sum of squared distances to the centers
    centers: np.ndarray  # (k, d), in X's dtype
    n_iter: int
    n_distinct: int  # clusters with at least one row over all ranks


class StepStats(NamedTuple):
    """What one Lloyd pass merges over the ranks.

    It travels as one float64 buffer ``[sums (k*d), weights (k), inertia,
    n_changed]``; :meth:`pack` and :meth:`unpack` are the only places that
    know that layout. The arrays of an unpacked result are views of the
    merged buffer.
    """

    sums: np.ndarray  # (k, d) float64 weighted per-cluster sums
    weights: np.ndarray  # (k,) float64 per-cluster weights
    inertia: float  # of the new labels w.r.t. the old centers; verbose mode only, else 0
    n_changed: int  # rows whose label changed

    def pack(self):
        k, d = self.sums.shape
        buf = np.empty(k * d + k + 2)
        buf[: k * d] = self.sums.ravel()
        buf[k * d : k * d + k] = self.weights
        buf[k * d + k] = self.inertia
        buf[k * d + k + 1] = self.n_changed
        return buf

    @classmethod
    def unpack(cls, buf, k, d):
        return cls(
            buf[: k * d].reshape(k, d),
            buf[k * d : k * d + k],
            float(buf[k * d + k]),
            int(buf[k * d + k + 1]),
        )

    def allreduce(self, comm):
        """The sum over the ranks, bitwise identical on every rank."""
        k, d = self.sums.shape
        return StepStats.unpack(allreduce(self.pack(), comm=comm), k, d)


class _LocalLabels:
    """This rank's labels and its weighted per-cluster sums for them (float64).

    Before the first pass the labels are -1; the first pass computes the
    sums block by block (a sparse one-hot matrix times the block); later
    passes update them with only the rows whose label changed (few once the
    clustering settles).
    """

    def __init__(self, shard, n_clusters):
        self.shard = shard
        self.labels = np.full(shard.X.shape[0], -1, dtype=np.int32)
        self._new = np.empty_like(self.labels)
        self.sums = np.zeros((n_clusters, shard.X.shape[1]))
        self._onehot = GroupSums(n_clusters, shard.block, shard.X.dtype)

    def spare(self):
        """The labels buffer that :meth:`step` writes next (free until then)."""
        return self._new

    def step(self, centers, with_inertia):
        """Relabel this rank's rows for ``centers``; this rank's :class:`StepStats`.

        ``inertia`` is that of the new labels with respect to ``centers``
        (what scikit-learn prints in verbose mode; only computed then).
        """
        X, weights, block = self.shard.X, self.shard.weights, self.shard.block
        labels, new = self.labels, self._new
        k = centers.shape[0]
        inertia = 0.0
        if with_inertia:
            inertia = assign_with_inertia(X, weights, self.shard.x_sq, centers, block, new)
        else:
            assign(X, centers, block, out=new, weights=weights)
        if X.shape[0] == 0 or labels[0] < 0:
            changed = X.shape[0]
            first_pass_sums(X, weights, new, block, self._onehot, self.sums)
        else:
            idx = np.flatnonzero(labels != new)
            changed = idx.size
            if changed:
                moved_sums(X, weights, idx, labels[idx], new[idx], k, self.sums)
        self.labels, self._new = new, labels
        cluster_weights = np.bincount(new, weights=weights, minlength=k)
        return StepStats(self.sums, cluster_weights, inertia, changed)


def _relocate_empty_clusters(shard, centers_old, merged, labels):
    """Move each empty cluster to one of the globally farthest points (as sklearn).

    scikit-learn takes the ``n_empty`` points farthest from their assigned
    center, farthest first, and gives the i-th empty cluster the i-th of
    them, moving the point's weight out of its old cluster (its label is
    kept until the next iteration). Here each rank offers its own ``n_empty``
    farthest points (one ``Allgather``), every rank picks the same global
    ones (ties: lower global index first), and the owners share the rows
    (one ``Allreduce``). ``merged.sums`` and ``merged.weights`` are updated
    in place.
    """
    X, sums, wsum = shard.X, merged.sums, merged.weights
    empty = np.flatnonzero(wsum == 0)
    m, n = empty.size, X.shape[0]
    dist = distances_to_assigned(X, centers_old, labels, shard.block, shard.sparse_norms())
    dist = dist.astype(np.float64, copy=False)
    take = min(m, n)
    offer = np.tile([-np.inf, -1.0], (m, 1))
    if take:
        top = np.argpartition(dist, n - take)[n - take :]
        top = top[np.lexsort((top, -dist[top]))]
        offer[:take, 0] = dist[top]
        offer[:take, 1] = top + shard.offset
    offers = allgather_array(offer, shard.comm).reshape(-1, 2)
    offers = offers[offers[:, 1] >= 0]
    chosen = offers[np.lexsort((offers[:, 1], -offers[:, 0]))[:m]]
    if chosen[0, 0] == 0:
        return  # every point sits on its center: nothing to move
    local = shard.local_index(chosen[:, 1].astype(np.int64))
    rows, _, extra = share_rows(X, local, shard.offset, shard.comm, extra=(shard.weights, labels))
    for i, new_id in enumerate(empty):
        weight, old_id = extra[i, 0], int(extra[i, 1])
        moved = rows[i].astype(np.float64) * weight
        sums[old_id] -= moved
        sums[new_id] = moved
        wsum[new_id] = weight
        wsum[old_id] -= weight


def _average_centers(sums, wsum, dtype):
    """Centers from sums and weights; an empty cluster copies the heaviest one.

    As in scikit-learn, clusters are processed in order, so an empty cluster
    before the heaviest one copies its not yet divided sum.
    """
    heaviest = int(np.argmax(wsum))
    centers = sums.copy()
    full = wsum > 0
    centers[full] *= (1.0 / wsum[full])[:, None]
    for j in np.flatnonzero(~full):
        centers[j] = centers[heaviest] if heaviest < j else sums[heaviest]
    return centers.astype(dtype)


def _run_totals(shard, centers, labels, n_clusters):
    """Global ``(inertia, number of non-empty clusters)`` of final labels and centers.

    One ``Allreduce`` of ``[inertia, size of each cluster]``.
    """
    X, x_sq, w = shard.X, shard.sparse_norms(), shard.weights
    local = np.zeros(n_clusters + 1)
    step = 4 * shard.block  # no n-sized array of distances (nor of centred rows)
    for a in range(0, X.shape[0], step):
        part = slice(a, a + step)
        norms = None if x_sq is None else x_sq[part]
        dist = distances_to_assigned(X[part], centers, labels[part], shard.block, norms)
        local[0] += float(dist.astype(np.float64, copy=False) @ w[part])
    local[1:] = np.bincount(labels, minlength=n_clusters)
    merged = allreduce(local, comm=shard.comm)
    return merged[0], int(np.count_nonzero(merged[1:]))


def lloyd(shard, centers_init, max_iter, tol, verbose):
    """One k-means run (Lloyd) from ``centers_init``, identical on every rank.

    Stops when no label changes on any rank (strict convergence), when the
    squared center shift is at most ``tol`` (absolute), or after
    ``max_iter`` iterations. Returns a :class:`LloydRun`.
    """
    X, comm = shard.X, shard.comm
    k = centers_init.shape[0]
    centers = centers_init
    local = _LocalLabels(shard, k)
    strict = False
    printing = verbose and comm.Get_rank() == 0
    for i in range(max_iter):
        merged = local.step(centers, bool(verbose)).allreduce(comm)
        if np.any(merged.weights == 0):
            _relocate_empty_clusters(shard, centers, merged, local.labels)
        new_centers = _average_centers(merged.sums, merged.weights, X.dtype)
        shift_sq = ((new_centers - centers).astype(np.float64) ** 2).sum(axis=1)
        if printing:
            print(f"Iteration {i}, inertia {merged.inertia}.")
        centers = new_centers
        if merged.n_changed == 0:
            if printing:
                print(f"Converged at iteration {i}: strict convergence.")
            strict = True
            break
        shift_tot = shift_sq.sum()
        if shift_tot <= tol:
            if printing:
                print(
                    f"Converged at iteration {i}: center shift {shift_tot} "
                    f"within tolerance {tol}."
                )
            break
    # labels that match the final centers
    labels = local.labels if strict else assign(X, centers, shard.block, out=local.spare())
    inertia, n_distinct = _run_totals(shard, centers, labels, k)
    return LloydRun(labels, inertia, centers, i + 1, n_distinct)


def same_clustering(labels, best_labels, n_clusters, comm):
    """Whether two global labelings are the same up to a renaming of the clusters."""
    mapping = np.full(n_clusters + 1, -1, dtype=np.int64)
    uniq, first = np.unique(labels, return_index=True)
    mapping[uniq] = best_labels[first]
    mapping[-1] = int(np.array_equal(mapping[labels], best_labels))
    everyone = allgather_array(mapping, comm)
    if not everyone[:, -1].all():
        return False
    for column in everyone[:, :-1].T:
        if np.unique(column[column >= 0]).size > 1:
            return False
    return True
