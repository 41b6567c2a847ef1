"""SPMDKMeans: sklearn's KMeans whose ``fit`` runs over the rows of every MPI rank.

The model (initial centers, every Lloyd iteration, the stopping decisions, the
best of ``n_init`` runs) is the one scikit-learn computes on the concatenation
of the ranks' rows in rank order. Three pieces make that possible:

- Seeding consumes the ``RandomState`` exactly as scikit-learn does. Every rank
  draws the same uniforms; the position they select in the *global*
  cumulative sum of weights (or of weighted squared distances) is found from
  the ranks' prefix offsets (one ``Allgather`` of one number per rank), and the
  rank owning that position contributes the row (one small ``Allreduce``).
- A Lloyd iteration reduces this rank's rows to per-cluster weighted sums and
  weights, the number of labels that changed (and the inertia, in verbose
  mode), and merges them with one ``Allreduce`` of ``k * (d + 1) + 2``
  numbers. The centers, the strict-convergence test (no label changed on any
  rank) and the center shift are then computed identically on every rank.
  The labels come from scikit-learn's compiled E-step on this rank's rows
  (``_compat.lloyd_iter_chunked_dense``; a NumPy/BLAS fallback otherwise), so
  they are computed with scikit-learn's arithmetic; the sums are updated
  only for the rows whose label changed.
- Data-dependent quantities are global: the mean used to centre the data and
  the tolerance (mean feature variance times ``tol``) come from the merged
  :class:`~skspmd._stats.Moments`.
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import LocalRowsMixin, spmd_fit
from .._comm import (
    agree_on_errors,
    allgather_array,
    allreduce,
    bcast_array,
    get_comm,
)
from .._threads import num_threads, one_blas_thread
from .._compat import (
    _openmp_effective_n_threads,
    lloyd_iter_chunked_dense,
    lloyd_iter_chunked_sparse,
)
from .._stats import GroupSums, Moments
from .._validation import validate_spmd_data

__all__ = ["SPMDKMeans"]

# Rows per block of the distance computation: about 256 KiB of rows (and of
# distances), so the GEMM, the argmin and the label update of a block run in
# L2 cache, as scikit-learn's 256-row chunks do.
_BLOCK_BYTES = 1 << 18


def _block_rows(n_features, n_clusters, itemsize=8):
    return int(np.clip(_BLOCK_BYTES // (itemsize * max(n_features, n_clusters, 1)), 256, 8192))


def _row_norms_sq(X, dtype=None):
    """Squared Euclidean norm of every row (dense or CSR), in ``dtype``."""
    dtype = X.dtype if dtype is None else dtype
    if sp.issparse(X):
        data = X.data.astype(dtype, copy=False)
        out = np.zeros(X.shape[0], dtype=dtype)
        if X.nnz:
            rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            out = np.bincount(rows, weights=data * data, minlength=X.shape[0]).astype(dtype)
        return out
    if X.dtype != dtype:
        return np.einsum("ij,ij->i", X, X, dtype=dtype, casting="safe")
    return np.einsum("ij,ij->i", X, X)


# ---------------------------------------------------------------------------
# Local kernels (pure NumPy/SciPy on this rank's rows)
# ---------------------------------------------------------------------------


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


def _moved_sums(X, weights, idx, old, new, n_clusters, out):
    """Add to ``out`` the change of the per-cluster sums when rows ``idx`` move from ``old`` to ``new``.

    One sparse matrix with two entries per moved row (``+w`` at the new
    cluster, ``-w`` at the old one) times the moved rows, over blocks of rows.
    """
    step = 1 << 16
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


def _kernel_threads():
    """OpenMP threads for scikit-learn's E-step kernel: this rank's share of the node."""
    return num_threads() or _openmp_effective_n_threads()


def _assign(X, centers, block, out=None, weights=None):
    """Labels of the nearest center for every row (int32), into ``out`` if given.

    scikit-learn's compiled E-step (``lloyd_iter_chunked_dense`` / ``_sparse``
    with ``update_centers=False``: 256-row chunks, ``||c||^2 - 2 x.c`` by a
    BLAS GEMM, first nearest center on ties) when available, so the labels are
    computed with scikit-learn's own arithmetic; otherwise the NumPy/BLAS
    blocks of :func:`_nearest_block`, which keep the same tie rule.
    """
    labels = np.empty(X.shape[0], dtype=np.int32) if out is None else out
    if X.shape[0] == 0:
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


def _nearest_blocks(X, centers, block):
    """``(start, stop, distances, labels)`` of :func:`_nearest_block` for each block of rows.

    The distances live in one reused buffer: use them before the next block.
    """
    neg2_t = np.ascontiguousarray((-2.0 * centers).T)
    c_sq = _row_norms_sq(centers)
    buf = np.empty((block, centers.shape[0]), dtype=X.dtype)
    for start in range(0, X.shape[0], block):
        stop = min(start + block, X.shape[0])
        dist, new = _nearest_block(X[start:stop], neg2_t, c_sq, buf)
        yield start, stop, dist, new


def _assign_with_inertia(X, weights, x_sq, centers, block, out):
    """Labels into ``out`` and the weighted inertia ``sum w ||x - c||^2`` (verbose mode)."""
    inertia = 0.0
    for start, stop, dist, new in _nearest_blocks(X, centers, block):
        out[start:stop] = new
        nearest = np.take_along_axis(dist, new[:, None], axis=1)[:, 0]
        inertia += float(weights[start:stop] @ np.maximum(nearest + x_sq[start:stop], 0))
    return inertia


def _lloyd_step(shard, centers, labels, new, sums, onehot, with_inertia):
    """One local Lloyd pass: the new labels (into ``new``) and the statistics to merge.

    ``labels`` are the current labels (-1 before the first pass) and
    ``sums`` this rank's weighted per-cluster sums for them (float64), kept
    up to date: on the first pass they are computed block by block (a sparse
    one-hot matrix times the block); afterwards only the rows whose label
    changed update them (few rows once the clustering settles). Returns the
    packed buffer ``[sums (k*d), weights (k), inertia, n_changed]`` in
    float64, where ``inertia`` is that of the new labels with respect to
    ``centers`` (what scikit-learn prints in verbose mode; only computed then).
    """
    X, weights, block = shard.X, shard.weights, shard.block
    k, d = centers.shape
    n = X.shape[0]
    inertia = 0.0
    if with_inertia:
        inertia = _assign_with_inertia(X, weights, shard.x_sq, centers, block, new)
    else:
        _assign(X, centers, block, out=new, weights=weights)
    if n == 0 or labels[0] < 0:
        changed = n
        sums[...] = 0.0
        for start in range(0, n, block):
            stop = min(start + block, n)
            sums += onehot.sums(X[start:stop], new[start:stop], weights[start:stop])
    else:
        idx = np.flatnonzero(labels != new)
        changed = idx.size
        if changed:
            _moved_sums(X, weights, idx, labels[idx], new[idx], k, sums)
    buf = np.empty(k * d + k + 2)
    buf[: k * d] = sums.ravel()
    buf[k * d : k * d + k] = np.bincount(new, weights=weights, minlength=k)
    buf[-2] = inertia
    buf[-1] = changed
    return buf


def _distances_to_assigned(X, centers, labels, block, x_sq=None):
    """Squared distance of every row to its assigned center, in X's dtype.

    Dense rows: ``sum((x - c)**2)`` directly, as scikit-learn's inertia.
    CSR rows: ``||x||^2 - 2 x.c + ||c||^2`` clipped at 0, as scikit-learn's
    sparse inertia.
    """
    out = np.empty(X.shape[0], dtype=X.dtype)
    if sp.issparse(X):
        c_sq = _row_norms_sq(centers)
        x_sq = _row_norms_sq(X) if x_sq is None else x_sq
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


def _candidate_distances(X, x_sq64, rows, block):
    """Squared distances (rows x X) as scikit-learn's k-means++ computes them.

    ``-2 r.x + ||r||^2 + ||x||^2`` clipped at 0, in float64 (scikit-learn
    upcasts float32 data for this step), rounded to X's dtype. Blocks of rows
    are larger than the Lloyd blocks: only a few candidates are compared.
    """
    rows64 = rows.astype(np.float64)
    r_sq = _row_norms_sq(rows64)
    out = np.empty((rows.shape[0], X.shape[0]), dtype=X.dtype)
    step = max(block, _BLOCK_BYTES * 16 // (8 * max(X.shape[1], rows.shape[0], 1)))
    for start in range(0, X.shape[0], step):
        stop = min(start + step, X.shape[0])
        chunk = X[start:stop].astype(np.float64, copy=False)
        d = np.asarray(chunk @ rows64.T)  # (block rows x candidates): the fast GEMM shape
        d *= -2
        d += r_sq
        d += x_sq64[start:stop, None]
        np.maximum(d, 0, out=d)
        out[:, start:stop] = d.T
    return out


def _rows_of(X, idx):
    if sp.issparse(X):
        return X[idx].toarray()
    return X[idx]


# ---------------------------------------------------------------------------
# Global positions in a cumulative sum over the ranks
# ---------------------------------------------------------------------------


class _GlobalCumsum:
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
    ``RandomState.choice`` does with its cdf.
    """

    def __init__(self, values, counts, comm, normalize=False, totals=None):
        local = np.cumsum(values, dtype=np.float64)
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


def _share_rows(X, local_idx, offset, comm, extra=()):
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
        buf[mine, :d] = _rows_of(X, idx)
        buf[mine, d] = offset + idx
        for j, column in enumerate(extra):
            buf[mine, d + 1 + j] = column[idx]
    buf = allreduce(buf, comm=comm)
    rows = buf[:, :d].astype(X.dtype)
    return rows, buf[:, d].astype(np.int64), buf[:, d + 1 :]


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------


class _Shard:
    """This rank's rows and what every step of one fit needs to know about them."""

    def __init__(self, X, weights, data, n_clusters, comm, total_weight, n_positive):
        self.X = X
        self.weights = weights
        self.comm = comm
        self.counts = data.counts
        self.offset = data.offset
        self.total_weight = total_weight  # global sum of weights
        self.n_positive = n_positive  # global number of positive weights
        self.block = _block_rows(X.shape[1], n_clusters, X.dtype.itemsize)
        self.x_sq = _row_norms_sq(X)
        self.x_sq64 = self.x_sq if X.dtype == np.float64 else _row_norms_sq(X, np.float64)

    def probabilities(self):
        """``sample_weight / sample_weight.sum()`` as sklearn passes it to ``choice``."""
        w = self.weights
        return (w / w.dtype.type(self.total_weight)).astype(np.float64)

    def local_index(self, global_idx):
        """Local row of each global index, -1 where another rank owns it."""
        local = np.asarray(global_idx, dtype=np.int64) - self.offset
        return np.where((local >= 0) & (local < self.X.shape[0]), local, -1)


def _kmeans_plusplus(shard, n_clusters, random_state):
    """Greedy k-means++ over the global rows, consuming ``random_state`` as sklearn does.

    Two collectives per center: an ``Allreduce`` of the candidate rows and an
    ``Allgather`` of every rank's potential for each candidate, which gives
    both the global potentials (summed in rank order, the same on every
    rank) and the prefix offsets of the next center's cumulative sum.
    Returns the centers and their global row indices.
    """
    X, weights, comm = shard.X, shard.weights, shard.comm
    n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    indices = np.empty(n_clusters, dtype=np.int64)

    # first center: random_state.choice(n_samples, p=sample_weight / sum)
    cdf = _GlobalCumsum(shard.probabilities(), shard.counts, comm, normalize=True)
    _, local = cdf.locate([random_state.random_sample()], side="right")
    rows, gidx, _ = _share_rows(X, local, shard.offset, comm)
    centers[0], indices[0] = rows[0], gidx[0]

    closest = _candidate_distances(X, shard.x_sq64, centers[:1], shard.block)[0]
    pot_by_rank = allgather_array(np.array([closest @ weights], dtype=np.float64), comm)
    current_pot = pot_by_rank[:, 0].sum()
    totals = pot_by_rank[:, 0]

    for c in range(1, n_clusters):
        targets = random_state.uniform(size=n_local_trials) * current_pot
        cdf = _GlobalCumsum(weights * closest, shard.counts, comm, totals=totals)
        _, local = cdf.locate(targets, side="left")
        rows, gidx, _ = _share_rows(X, local, shard.offset, comm)

        dist = _candidate_distances(X, shard.x_sq64, rows, shard.block)
        np.minimum(closest, dist, out=dist)
        pot_by_rank = allgather_array(np.asarray(dist @ weights, dtype=np.float64), comm)
        pots = pot_by_rank.sum(axis=0)

        best = int(np.argmin(pots))
        current_pot = pots[best]
        totals = pot_by_rank[:, best]
        closest = dist[best]
        centers[c], indices[c] = rows[best], gidx[best]
    return centers, indices


def _random_init(shard, n_clusters, random_state):
    """``random_state.choice(n, k, replace=False, p=w / w.sum())`` over the global rows.

    numpy draws ``k - found`` uniforms, locates them in the cdf of the
    remaining probabilities, keeps the new distinct indices in draw order and
    repeats until ``k`` are found; the same here with the global cdf.
    """
    if shard.n_positive < n_clusters:
        raise ValueError("Fewer non-zero entries in p than size")
    p = shard.probabilities()
    found = np.empty(0, dtype=np.int64)
    while found.size < n_clusters:
        x = random_state.rand(n_clusters - found.size)
        taken = shard.local_index(found)
        p[taken[taken >= 0]] = 0
        cdf = _GlobalCumsum(p, shard.counts, shard.comm, normalize=True)
        _, local = cdf.locate(x, side="right")
        new = allreduce(np.where(local >= 0, local + shard.offset, 0), comm=shard.comm)
        _, first = np.unique(new, return_index=True)
        first.sort()
        found = np.concatenate((found, new[first]))
    rows, _, _ = _share_rows(shard.X, shard.local_index(found), shard.offset, shard.comm)
    return rows, found


# ---------------------------------------------------------------------------
# Lloyd
# ---------------------------------------------------------------------------


def _relocate_empty_clusters(shard, centers_old, sums, wsum, labels):
    """Move each empty cluster to one of the globally farthest points (as sklearn).

    scikit-learn takes the ``n_empty`` points farthest from their assigned
    center, farthest first, and gives the i-th empty cluster the i-th of
    them, moving the point's weight out of its old cluster (its label is
    kept until the next iteration). Here each rank offers its own ``n_empty``
    farthest points (one ``Allgather``), every rank picks the same global
    ones (ties: lower global index first), and the owners share the rows
    (one ``Allreduce``). ``sums`` and ``wsum`` are updated in place.
    """
    X = shard.X
    empty = np.flatnonzero(wsum == 0)
    m, n = empty.size, X.shape[0]
    dist = _distances_to_assigned(X, centers_old, labels, shard.block).astype(np.float64)
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
    rows, _, extra = _share_rows(
        X, local, shard.offset, shard.comm, extra=(shard.weights, labels)
    )
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


def _lloyd(shard, centers_init, max_iter, tol, verbose):
    """One k-means run (Lloyd), identical on every rank; labels are this rank's.

    Returns ``(labels, inertia, centers, n_iter, n_distinct_clusters)``.
    """
    X, comm = shard.X, shard.comm
    k, d = centers_init.shape
    centers = centers_init
    # labels in argmin's own integer type while iterating (no casts per block)
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    new = np.empty_like(labels)
    local_sums = np.zeros((k, d))
    onehot = GroupSums(k, shard.block, X.dtype)
    strict = False
    printing = verbose and comm.Get_rank() == 0
    for i in range(max_iter):
        local = _lloyd_step(shard, centers, labels, new, local_sums, onehot, bool(verbose))
        labels, new = new, labels
        buf = allreduce(local, comm=comm)
        sums = buf[: k * d].reshape(k, d)
        wsum = buf[k * d : k * d + k]
        if np.any(wsum == 0):
            _relocate_empty_clusters(shard, centers, sums, wsum, labels)
        new_centers = _average_centers(sums, wsum, X.dtype)
        shift_sq = ((new_centers - centers).astype(np.float64) ** 2).sum(axis=1)
        if printing:
            print(f"Iteration {i}, inertia {buf[-2]}.")
        centers = new_centers
        if buf[-1] == 0:
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
    if not strict:
        # labels that match the final centers
        labels = _assign(X, centers, shard.block)
    dist = _distances_to_assigned(X, centers, labels, shard.block)
    stats = np.zeros(k + 1)
    stats[0] = float(dist.astype(np.float64) @ shard.weights)
    stats[1:] = np.bincount(labels, minlength=k)
    stats = allreduce(stats, comm=comm)
    return labels, stats[0], centers, i + 1, int(np.count_nonzero(stats[1:]))


def _same_clustering(labels, best_labels, n_clusters, comm):
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


def _shared_random_state(random_state, comm):
    """A RandomState in the same state on every rank.

    An int seeds the same stream everywhere. ``None`` draws a seed from rank
    0's global NumPy generator. A RandomState instance is set to rank 0's
    state on every rank, so all ranks consume (and advance) it identically.
    """
    rs = check_random_state(random_state)
    if comm.Get_size() == 1 or isinstance(random_state, numbers.Integral):
        return rs
    if random_state is None:
        seed = rs.randint(np.iinfo(np.int32).max) if comm.Get_rank() == 0 else 0
        seed = int(bcast_array(np.array([seed], dtype=np.int64), comm=comm)[0])
        return np.random.RandomState(seed)
    state = comm.bcast(rs.get_state() if comm.Get_rank() == 0 else None, root=0)
    rs.set_state(state)
    return rs


class SPMDKMeans(LocalRowsMixin, KMeans):
    """K-Means clustering over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.cluster.KMeans`: same parameters,
    attributes and methods. ``fit`` is collective; for the same
    ``random_state`` it returns scikit-learn's model for the concatenation of
    the ranks' rows in rank order, for any number of ranks and any split.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters (at most the number of rows over all ranks).
    init : {'k-means++', 'random'} or array-like of shape (n_clusters, n_features), \
            default='k-means++'
        ``'k-means++'``: scikit-learn's greedy k-means++ over the global rows;
        ``'random'``: ``n_clusters`` global rows drawn with probability
        proportional to their weight; an array: the initial centers (taken
        from rank 0). A callable is not supported (it would see only this
        rank's rows) and raises ``TypeError`` on every rank.
    n_init : 'auto' or int, default='auto'
        Number of runs with different seeds; the run with the lowest global
        inertia wins. ``'auto'``: 10 for ``'random'``, 1 otherwise.
    max_iter : int, default=300
        Maximum number of Lloyd iterations of one run.
    tol : float, default=1e-4
        Convergence when the squared Frobenius norm of the center shift is at
        most ``tol`` times the mean feature variance of the global data.
    verbose : int, default=0
        Verbosity; messages are printed by rank 0 only.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation. An int gives scikit-learn's result. A
        RandomState instance is first set to rank 0's state on every rank;
        ``None`` draws a seed from rank 0's global NumPy generator.
    copy_x : bool, default=True
        If False, the data are centred in place and restored after ``fit``.
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        ``'elkan'`` is accepted and runs the same Lloyd iterations: both reach
        the same fixed point (scikit-learn documents that they give the same
        result up to ties), and Lloyd's per-iteration merge is one small
        collective. ``n_iter_`` may therefore differ from scikit-learn's
        Elkan run.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centers (identical on every rank).
    labels_ : ndarray of shape (n_local_samples,)
        Labels of this rank's rows.
    inertia_ : float
        Sum of weighted squared distances of all ranks' rows to their center.
    n_iter_ : int
        Number of iterations of the best run.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : The single-process estimator.

    Notes
    -----
    Distributed semantics: ``predict``, ``transform`` and ``fit_predict``
    (``labels_``) are local to this rank's rows; ``score`` is the global
    negative inertia, the same value on every rank. ``fit`` communicates:

    - once: the input agreement of ``validate_spmd_data``, one small
      ``allgather`` (errors, total weight), and the merge of the column sums
      (``tol=0``) or of the per-feature moments (``tol > 0``, for the
      tolerance) giving the global mean used to centre dense data;
    - k-means++: per center, an ``Allreduce`` of the ``2 + ln k`` candidate
      rows and an ``Allgather`` of each rank's potential for every candidate
      (the global potentials, and the prefix offsets of the next center's
      cumulative sum); ``'random'`` init: per round of draws, an
      ``Allgather`` of one number per rank and an ``Allreduce`` of the drawn
      indices, then one of the chosen rows;
    - per Lloyd iteration: one ``Allreduce`` of ``k * (d + 1) + 2`` numbers
      (per-cluster weighted sums and weights, changed labels, and the inertia
      printed in verbose mode). An iteration in which clusters become empty
      adds an ``Allgather`` of each rank's farthest points and an
      ``Allreduce`` of the chosen rows;
    - per run: one ``Allreduce`` of ``k + 1`` numbers (final inertia, cluster
      sizes), and an ``Allgather`` of ``k + 1`` integers per rank when a later
      run must be compared with the best one.

    Local work per iteration: the labels of this rank's rows come from
    scikit-learn's own compiled E-step (256-row chunks, distances as
    ``||c||^2 - 2 x.c`` from a GEMM, first nearest center on ties; OpenMP
    threads = this rank's share of the node's cores, see
    :func:`skspmd.set_num_threads`, with one BLAS thread as in
    scikit-learn's loop). The per-cluster sums are computed on the first
    iteration (a sparse one-hot matrix times blocks of rows) and then only
    updated by the rows whose label changed. Without that compiled kernel
    (another scikit-learn version) a NumPy/BLAS version over blocks of
    about 256 KiB of rows gives the same labels. Temporary memory is bounded
    for any number of rows (k-means++ keeps ``2 + ln k`` candidate
    distances per row, as scikit-learn does).

    ``labels_`` and ``predict`` use the same rule (first nearest center
    from the GEMM distances). Differences from scikit-learn, all at
    round-off level or documented: ``cluster_centers_`` and ``inertia_``
    agree to round-off and ``labels_`` exactly on data without
    (near-)ties. Seeding positions are located in a
    cumulative sum computed per rank plus prefix offsets; a draw landing
    within round-off of a boundary between two rows could pick the
    neighbour (for float32 data, whose weighted distances scikit-learn
    accumulates in float32, such near-boundary draws are more frequent).
    Ties between equally far points when relocating empty clusters are
    broken by the lower global index. Negative sample weights are rejected
    (scikit-learn's seeding rejects them too). ``predict``, ``transform`` and
    ``score`` accept a rank with zero rows. With ``verbose``, only rank 0
    prints.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.cluster import SPMDKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> km = SPMDKMeans(n_clusters=2, random_state=0, n_init="auto").fit(X)
    >>> km.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> km.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    """

    @spmd_fit
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering over every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows (non-negative, not all zero over all
            ranks). Used by the seeding unless ``init`` is an array.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank (except ``labels_``).
        """
        comm = get_comm()

        def reject_callable_init(X, _):
            if callable(self.init):
                raise TypeError(
                    "SPMDKMeans does not support a callable init: it would see only "
                    "this rank's rows. Use 'k-means++', 'random' or an array."
                )

        X, data = validate_spmd_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            copy=self.copy_x,
            accept_large_sparse=False,
            local_check=reject_callable_init,
            sample_weight=sample_weight,
            comm=comm,
        )
        n_samples = data.n_samples
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        weights = data.sample_weight
        if weights is None:
            weights = np.ones(X.shape[0], dtype=X.dtype)
        weights = weights.astype(X.dtype, copy=False)

        init = self.init
        init_is_array = not isinstance(init, str)
        if init_is_array:
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
            init = bcast_array(init, comm=comm)
        self._resolve_n_init()
        self._algorithm = self.algorithm
        if self._algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. "
                "Using 'lloyd' instead.",
                RuntimeWarning,
            )
            self._algorithm = "lloyd"

        dense = not sp.issparse(X)
        with agree_on_errors(comm) as step:
            # tol > 0 needs the feature variances: merged moments; otherwise
            # only the mean (to centre dense data): merged column sums
            if self.tol:
                moments = Moments.from_rows(X)
            elif dense:
                col_sums = X.sum(axis=0, dtype=np.float64)
            step.payload = (float(weights.sum(dtype=np.float64)), int(np.count_nonzero(weights)))
        total_weight = float(np.sum([w for w, _ in step.gathered]))
        n_positive = sum(nz for _, nz in step.gathered)
        if n_positive == 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        if self.tol:
            moments = moments.allreduce(comm)
            mean = moments.mean
            # sklearn's _tolerance: mean of the (unweighted) feature variances times tol
            self._tol = float(np.mean(moments.m2 / n_samples) * self.tol)
        else:
            mean = allreduce(col_sums, comm=comm) / n_samples if dense else None
            self._tol = 0
        random_state = _shared_random_state(self.random_state, comm)

        # centre the data on the global mean for more accurate distances
        if dense:
            X_mean = mean.astype(X.dtype)
            X -= X_mean
            if init_is_array:
                init -= X_mean
        shard = _Shard(X, weights, data, self.n_clusters, comm, total_weight, n_positive)

        with one_blas_thread():
            best = self._runs(shard, init, init_is_array, random_state)
        labels, inertia, centers, n_iter, distinct = best

        if dense:
            if not self.copy_x:
                X += X_mean
            centers = centers + X_mean
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = labels
        self.inertia_ = float(inertia)
        self.n_iter_ = n_iter
        return self

    def _runs(self, shard, init, init_is_array, random_state):
        """The ``n_init`` runs; returns the best ``(labels, inertia, centers, n_iter, distinct)``."""
        best = None
        for _ in range(self._n_init):
            if init_is_array:
                centers_init = init
            elif init == "k-means++":
                centers_init, _ = _kmeans_plusplus(shard, self.n_clusters, random_state)
            else:
                centers_init, _ = _random_init(shard, self.n_clusters, random_state)
            if self.verbose and shard.comm.Get_rank() == 0:
                print("Initialization complete")
            run = _lloyd(shard, centers_init, self.max_iter, self._tol, self.verbose)
            # a better run replaces the best unless it is the same clustering relabelled
            if best is None or (
                run[1] < best[1]
                and not _same_clustering(run[0], best[0], self.n_clusters, shard.comm)
            ):
                best = run
        return best

    def _resolve_n_init(self):
        if self.n_init == "auto":
            if isinstance(self.init, str) and self.init == "random":
                self._n_init = 10
            else:
                self._n_init = 1
        else:
            self._n_init = self.n_init
        if not isinstance(self.init, str) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init "
                f"in {self.__class__.__name__} instead of n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1

    def _check_test_data(self, X):
        # local methods accept a rank with zero rows
        return validate_data(
            self,
            X,
            accept_sparse="csr",
            reset=False,
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
            ensure_min_samples=0,
        )

    def predict(self, X):
        """Index of the closest cluster center for each of this rank's rows (local).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to assign; may have zero rows.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each row belongs to (the rule used for
            ``labels_``: first nearest center).
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        with one_blas_thread():
            return _assign(X, centers, _block_rows(X.shape[1], centers.shape[0]))

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit (collective), then distances of this rank's rows to the centers (local).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distance of each of this rank's rows to each center.
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the global k-means objective on every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        score : float
            Minus the weighted sum of squared distances of all ranks' rows to
            their closest center; the same value on every rank.
        """
        check_is_fitted(self)
        comm = get_comm()
        X, data = validate_spmd_data(
            self,
            X,
            reset=False,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
            sample_weight=sample_weight,
            comm=comm,
        )
        with agree_on_errors(comm), one_blas_thread():
            weights = data.sample_weight
            if weights is None:
                weights = np.ones(X.shape[0])
            centers = self.cluster_centers_.astype(X.dtype, copy=False)
            block = _block_rows(X.shape[1], centers.shape[0], X.dtype.itemsize)
            labels = _assign(X, centers, block)
            dist = _distances_to_assigned(X, centers, labels, block).astype(np.float64)
            local = np.array([dist @ weights, np.count_nonzero(weights)])
        total = allreduce(local, comm=comm)
        if total[1] == 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return -float(total[0])
