"""Exact neighbour searches over training rows that stay on their ranks.

Every rank keeps its own training rows. A search visits the training blocks
of all ranks in turn (:func:`skspmd._comm.ring_blocks`: each block travels
around the ring of ranks while the previous one is being searched), runs on
each block the search scikit-learn itself would run on it, and merges the
per-block answers of this rank's query rows:

- brute force: scikit-learn's compiled pairwise-distance reductions
  (``ArgKmin``, ``RadiusNeighbors``: chunked GEMM for the euclidean metric,
  ``||x||^2 - 2 x.y + ||y||^2`` in float64, heaps for the top k), or, for the
  metrics they do not cover (cosine), scikit-learn's chunked
  ``pairwise_distances`` and a NumPy selection; memory stays bounded by
  their chunks;
- ``kd_tree``/``ball_tree``: scikit-learn's tree of the visiting block, whose
  distances are summed feature by feature (no expansion), so a pair at
  exactly the radius is decided as scikit-learn's tree decides it.

For euclidean float64 rows, compiled filters (``skspmd._kernels``: the
expansion in register tiles, with a margin that bounds the rounding of any
way of computing the distance) choose what those searches look at:
``radius`` without distances keeps the pairs possibly within the radius
(visiting the rows in a KD tree's order, skipping row groups whose bounding
boxes lie apart), and only pairs within the margin of the radius go to
scikit-learn's search of the block's method; ``kneighbors`` by brute force
keeps each query row's 4k nearest, and ``ArgKmin`` decides among them (the
whole block for rows with more near-ties).

Indices are global: a row's position in the concatenation of the ranks' rows
in rank order. k nearest: the running top k of each query row is merged with
each block's top k by (distance, global index): among rows at exactly equal
distances the smaller global index comes first, and is kept at the k-th
place, whatever the number of ranks or the split. (scikit-learn's heaps and
trees keep an arbitrary subset of rows tied at the k-th distance and order
exact ties arbitrarily; each block's search here is asked for 2k neighbours,
more for the rare query rows with more ties, so that its own choice never
decides.) Radius: the neighbours of each query row are listed in global
index order, or sorted by (distance, index).

Communication per search: every other rank's training rows (and the row
targets travelling with them) once per rank, in ``size - 1`` overlapped
steps; the query rows never move. Each step ends with a small error
agreement, so a failure on one rank raises on every rank.
"""

from typing import NamedTuple

import numpy as np
from sklearn.metrics import pairwise_distances_chunked
from sklearn.neighbors import BallTree, KDTree

from .._comm import agree_on_errors, ring_blocks
from .._compat import ArgKmin, RadiusNeighbors
from .._kernels import compiled_neighbours, knn_candidates, radius_candidates
from .._threads import openmp_threads
from ._expansion import QueryRows, expansion_applies, margin, squared_norms

__all__ = ["Piece", "SearchRows", "effective_metric", "join_pieces", "resolve_method"]

# Rows per chunk of each side in scikit-learn's ArgKmin (its default is 256):
# 1024 x 1024 distance tiles made the search about 6% faster at 50 features
# here, at 8 MB per tile. (The distances were the same bit for bit in our checks;
# BLAS may round a pair's last bit differently in other matrix shapes, as it may
# between the per-block searches here and one search of all rows.)
_ARGKMIN_CHUNK = 1024
# The compiled k-nearest filter runs on blocks of at least this many rows, for k
# up to _FILTER_MAX_K (it keeps 4k rows per query row in sorted lists: larger k
# is left to ArgKmin's heaps), and its candidates go to ArgKmin for this many
# query rows at a time.
_FILTER_MIN_ROWS, _FILTER_MAX_K, _FILTER_CHUNK = 1024, 64, 64

SUPPORTED = "'minkowski' with p=1 or p=2, 'euclidean', 'manhattan' or 'cosine'"
_TREES = {"kd_tree": KDTree, "ball_tree": BallTree}


def effective_metric(metric, p, metric_params):
    """The metric that runs (``'euclidean'``, ``'manhattan'`` or ``'cosine'``), as sklearn names it.

    ``'minkowski'`` with ``p=2`` (or ``p=None``) is ``'euclidean'`` and with
    ``p=1`` ``'manhattan'``, as in scikit-learn. Anything else raises a
    ``ValueError`` naming the supported metrics.
    """
    params = dict(metric_params or {})
    if isinstance(metric, str) and metric == "minkowski":
        p = params.pop("p", p)
        p = 2 if p is None else p
        if not params and p in (1, 2):
            return "euclidean" if p == 2 else "manhattan"
    elif isinstance(metric, str) and metric in ("euclidean", "manhattan", "cosine"):
        if not params:
            return metric
    raise ValueError(
        f"metric={metric!r} (p={p!r}, metric_params={metric_params!r}) has no distributed "
        f"neighbour search in skspmd; use metric={SUPPORTED}, without other metric_params"
    )


def resolve_method(algorithm, metric, n_features, n_samples, n_neighbors):
    """The search scikit-learn would run for these settings: brute force or a tree.

    ``algorithm='auto'`` resolves as in scikit-learn's ``NeighborsBase._fit``
    (brute force above 15 features, for ``n_neighbors >= n_samples // 2`` over
    all ranks' rows, and for metrics without a tree; a KD tree otherwise).
    """
    if algorithm != "auto":
        return algorithm
    if n_features > 15 or (n_neighbors is not None and n_neighbors >= n_samples // 2):
        return "brute"
    return "kd_tree" if metric in KDTree.valid_metrics else "brute"


class Piece(NamedTuple):
    """Radius neighbours of this rank's query rows in one rank's block (CSR rows)."""

    lengths: np.ndarray  # neighbours per query row
    ind: np.ndarray  # row numbers within the block, row after row
    dist: np.ndarray  # their distances (empty when not asked for)
    values: tuple = ()  # per neighbour: the block's extra arrays at those rows


def _empty_piece(n_queries):
    return Piece(np.zeros(n_queries, np.int64), np.empty(0, np.int64), np.empty(0))


def _flatten(ind, dist, n_queries):
    """Object arrays of per-row arrays (scikit-learn's radius results) as a Piece."""
    lengths = np.fromiter((len(a) for a in ind), dtype=np.int64, count=n_queries)
    flat_ind = np.concatenate(list(ind)).astype(np.int64, copy=False) if n_queries else None
    if flat_ind is None or not len(flat_ind):
        flat_ind = np.empty(0, np.int64)
    flat_dist = np.empty(0)
    if dist is not None and len(flat_ind):
        flat_dist = np.concatenate(list(dist)).astype(np.float64, copy=False)
    return Piece(lengths, flat_ind, flat_dist)


def _k_smallest(D, k):
    """Per row of ``D``, the ``k`` smallest entries, ties broken by the smaller column."""
    kth = np.partition(D, k - 1, axis=1)[:, k - 1 : k]
    rows, cols = np.nonzero(D <= kth)
    values = D[rows, cols]
    order = np.lexsort((cols, values, rows))
    first = np.searchsorted(rows[order], np.arange(D.shape[0]))
    take = order[first[:, None] + np.arange(k)]
    return values[take], cols[take].astype(np.int64)


def _ties_by_index(search, Xq, k, wider, n_rows):
    """The ``k`` nearest by (distance, row) from a search that breaks ties its own way.

    A heap or a tree keeps an arbitrary subset of the rows tied at its last
    distance. Asking ``search`` for ``wider > k`` neighbours settles every
    query row whose ``wider``-th distance exceeds its k-th: all rows at the
    k-th distance are then among them. The other rows (many exact ties) are
    asked again with twice as many, up to every row of the block.
    """
    dist, ind = search(Xq, k=wider)
    order = np.lexsort((ind, dist), axis=1)[:, :k]
    best_dist = np.take_along_axis(dist, order, axis=1)
    best_ind = np.take_along_axis(ind, order, axis=1).astype(np.int64, copy=False)
    if wider < n_rows:
        unsettled = dist[:, -1] <= best_dist[:, -1]
        if unsettled.any():
            again = _ties_by_index(search, Xq[unsettled], k, min(2 * wider, n_rows), n_rows)
            best_dist[unsettled], best_ind[unsettled] = again
    return best_dist, best_ind


class _Block:
    """The search scikit-learn would run on one block of training rows."""

    def __init__(self, Y, metric, method, leaf_size):
        self.Y, self.metric, self.method, self.leaf_size = Y, metric, method, leaf_size
        self._tree = None

    @property
    def tree(self):
        """scikit-learn's tree of the block (built when first needed), or None."""
        if self._tree is None and self.method in _TREES:
            self._tree = _TREES[self.method](self.Y, self.leaf_size, metric=self.metric)
        return self._tree

    def _reductions_apply(self, Xq, reduction):
        return reduction is not None and reduction.is_usable_for(Xq, self.Y, self.metric)

    def kneighbors(self, Xq, k, query=None):
        """``(distances, rows of the block)`` of the ``k`` nearest, by (distance, row).

        ``query``: the :class:`QueryRows` of ``Xq`` when several blocks are
        searched for the same rows.
        """
        if self.tree is not None:
            search = self.tree.query
        elif self._reductions_apply(Xq, ArgKmin):
            filtered = compiled_neighbours() and expansion_applies(Xq, self.Y, self.metric)
            if filtered and self.Y.shape[0] >= _FILTER_MIN_ROWS and k <= _FILTER_MAX_K:
                return self._filtered_kneighbors(query or QueryRows(Xq), k)

            def search(X, k):
                return self._argkmin(X, self.Y, k)

        else:
            chunks = pairwise_distances_chunked(Xq, self.Y, metric=self.metric)
            found = [_k_smallest(D, k) for D in chunks]
            return np.vstack([d for d, _ in found]), np.vstack([i for _, i in found])
        return _ties_by_index(search, Xq, k, min(2 * k, self.Y.shape[0]), self.Y.shape[0])

    def _argkmin(self, X, Y, k):
        """scikit-learn's brute-force ``(distances, rows of Y)`` of the ``k`` nearest."""
        with openmp_threads():
            return ArgKmin.compute(
                X=X,
                Y=Y,
                k=k,
                metric=self.metric,
                chunk_size=_ARGKMIN_CHUNK,
                strategy="auto",
                return_distance=True,
            )

    def _filtered_kneighbors(self, query, k):
        """:meth:`kneighbors` (euclidean, float64): filter by the compiled kernel, then sklearn.

        :func:`skspmd._kernels.knn_candidates` keeps, per query row, the
        ``4k`` rows of smallest expanded squared distance. Every row that
        scikit-learn's ``ArgKmin`` could put among the ``2k`` nearest lies
        within the margin of the ``2k``-th kept value; when the last kept
        value lies beyond it, those rows are all kept, and ``ArgKmin`` on
        just them (for 64 query rows at a time) gives scikit-learn's
        answer. Query rows with more near-ties than that, or with ties at
        the ``2k``-th distance, are searched over the whole block.
        """
        Xq, ny = query.X, self.Y.shape[0]
        n, wider = Xq.shape[0], min(2 * k, ny)
        yn = squared_norms(self.Y)
        values, rows = knn_candidates(Xq, self.Y, query.norms, yn, min(2 * wider, ny))
        reach = values[:, wider - 1] + margin(Xq.shape[1]) * (query.norms + yn.max())
        whole = values[:, -1] <= reach if values.shape[1] < ny else np.zeros(n, bool)
        dist, ind = np.empty((n, k)), np.empty((n, k), np.int64)
        for start in range(0, n, _FILTER_CHUNK):
            part = np.arange(start, min(start + _FILTER_CHUNK, n))
            part = part[~whole[part]]
            if len(part):
                near = np.unique(rows[part][values[part] <= reach[part, None]])
                found, settled = self._best_of(Xq[part], near, k, wider)
                dist[part], ind[part] = found
                whole[part[~settled]] = True
        if whole.any():
            dist[whole], ind[whole] = _ties_by_index(
                lambda X, k: self._argkmin(X, self.Y, k), Xq[whole], k, wider, ny
            )
        return dist, ind

    def _best_of(self, Xq, near, k, wider):
        """``((distances, rows), settled)``: the ``k`` nearest among the rows ``near``.

        ``settled``: rows whose ``wider``-th distance exceeds their ``k``-th
        (every row tied at the k-th distance is then among those found).
        """
        dist, ind = self._argkmin(Xq, self.Y[near], wider)
        ind = near[ind]
        order = np.lexsort((ind, dist), axis=1)[:, :k]
        best = np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)
        if wider == self.Y.shape[0]:
            return best, np.ones(Xq.shape[0], bool)
        return best, dist[:, -1] > best[0][:, -1]

    def radius(self, Xq, radius, return_distance, query=None, block=None):
        """Rows of the block within ``radius`` of each query row, in block order.

        ``query``: the :class:`QueryRows` of ``Xq`` when several blocks are
        searched for the same rows (their norms and order are computed once);
        ``block``: the block's, when its owner sent its order along.
        """
        filtered = compiled_neighbours() and expansion_applies(Xq, self.Y, self.metric)
        if filtered and not return_distance:
            return self._expanded_radius(query or QueryRows(Xq), radius, block)
        return self._sklearn_radius(Xq, radius, return_distance)

    def _expanded_radius(self, query, radius, block=None):
        """:meth:`radius` without distances, filtered by the GEMM expansion (euclidean).

        The compiled kernel (:func:`skspmd._kernels.radius_candidates`) keeps
        the pairs whose expanded squared distance is within ``radius**2`` up
        to a margin that bounds the rounding of every way of computing it
        (scikit-learn's GEMM expansion, its trees' feature-by-feature sums).
        Pairs inside by more than the margin are in for scikit-learn too;
        the rare pairs within the margin of the radius are decided by
        scikit-learn's own search of this block's method on just those rows.
        """
        Xq, n, r2 = query.X, query.X.shape[0], radius * radius
        tau = margin(Xq.shape[1])
        block = block or (query if self.Y is Xq else QueryRows(self.Y))
        xn, yn = query.norms, block.norms
        orders = query.order, block.order
        counts, cols, in_margin = radius_candidates(Xq, self.Y, xn, yn, r2, tau, orders)
        band = np.flatnonzero(in_margin)
        if not len(band):
            return Piece(counts, cols, np.empty(0))
        rows = np.repeat(np.arange(n), counts)
        keep = ~in_margin
        keep[band] = self._decide(Xq, rows[band], cols[band], radius)
        return Piece(np.bincount(rows[keep], minlength=n), cols[keep], np.empty(0))

    def _decide(self, Xq, rows, cols, radius):
        """Whether each pair ``(rows[t], cols[t])`` is within ``radius`` for scikit-learn."""
        queries, q_of = np.unique(rows, return_inverse=True)
        targets, t_of = np.unique(cols, return_inverse=True)
        sub = _Block(self.Y[targets], self.metric, self.method, self.leaf_size)
        piece = sub._sklearn_radius(Xq[queries], radius, return_distance=False)
        found = np.repeat(np.arange(len(queries)), piece.lengths) * len(targets) + piece.ind
        return np.isin(q_of * len(targets) + t_of, found)

    def _sklearn_radius(self, Xq, radius, return_distance):
        """:meth:`radius` by scikit-learn's search of this block's method."""
        n = Xq.shape[0]
        if self.tree is not None:
            found = self.tree.query_radius(Xq, radius, return_distance=return_distance)
            ind, dist = found if return_distance else (found, None)
            piece = _flatten(ind, dist, n)
            rows = np.repeat(np.arange(n), piece.lengths)
            order = np.lexsort((piece.ind, rows))  # the tree's order -> block order
            return piece._replace(
                ind=piece.ind[order], dist=piece.dist[order] if return_distance else piece.dist
            )
        if self._reductions_apply(Xq, RadiusNeighbors):
            with openmp_threads():
                found = RadiusNeighbors.compute(
                    X=Xq,
                    Y=self.Y,
                    radius=radius,
                    metric=self.metric,
                    strategy="auto",
                    return_distance=return_distance,
                )
            dist, ind = found if return_distance else (None, found)
            return _flatten(ind, dist, n)
        lengths, ind, dist = [], [], []
        for D in pairwise_distances_chunked(Xq, self.Y, metric=self.metric):
            rows, cols = np.nonzero(D <= radius)
            lengths.append(np.bincount(rows, minlength=D.shape[0]))
            ind.append(cols.astype(np.int64))
            if return_distance:
                dist.append(D[rows, cols])
        return Piece(
            np.concatenate(lengths).astype(np.int64),
            np.concatenate(ind),
            np.concatenate(dist) if return_distance else np.empty(0),
        )


def _merge_top(best, found, k):
    """The ``k`` best of two candidate sets per row, by (distance, global index)."""
    dist = np.hstack((best[0], found[0]))
    ind = np.hstack((best[1], found[1]))
    order = np.lexsort((ind, dist), axis=1)[:, :k]
    out = [np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)]
    if best[2] is not None:
        targets = np.concatenate((best[2], found[2]), axis=1)
        idx = order.reshape(order.shape + (1,) * (targets.ndim - 2))
        out.append(np.take_along_axis(targets, idx, axis=1))
    else:
        out.append(None)
    return tuple(out)


class SearchRows:
    """The training rows of every rank, searched collectively.

    Parameters
    ----------
    X : ndarray of shape (n_local, n_features)
        This rank's training rows (C-contiguous; the same dtype on every rank).
    counts : ndarray of shape (size,)
        Training rows per rank.
    metric : {'euclidean', 'manhattan', 'cosine'}
    method : {'brute', 'kd_tree', 'ball_tree'}
    leaf_size : int
    comm : mpi4py.MPI.Comm
    """

    def __init__(self, X, counts, metric, method, leaf_size, comm):
        self.X, self.counts, self.comm = X, np.asarray(counts), comm
        self.metric, self.method, self.leaf_size = metric, method, leaf_size
        self.offsets = np.concatenate(([0], np.cumsum(self.counts)[:-1]))

    def _blocks(self, extras):
        for owner, (Y, *values) in ring_blocks([self.X, *extras], self.counts, self.comm):
            yield owner, Y, values

    def kneighbors(self, Xq, k, targets=None):
        """``(distances, global indices, targets of the neighbours)`` of the ``k`` nearest.

        Collective. ``Xq`` are this rank's query rows (maybe none); ``targets``
        an optional array aligned with this rank's training rows whose rows
        travel with the blocks: the result holds them at
        ``[query, neighbour, ...]`` (None without ``targets``). Needs ``k``
        at most the number of training rows over all ranks.
        """
        n, query = Xq.shape[0], QueryRows(Xq)
        best = (np.empty((n, 0)), np.empty((n, 0), np.int64), None)
        if targets is not None:
            best = best[:2] + (np.empty((n, 0) + targets.shape[1:], targets.dtype),)
        extras = [] if targets is None else [targets]
        for owner, Y, values in self._blocks(extras):
            with agree_on_errors(self.comm):
                if n and Y.shape[0]:
                    dist, ind = _Block(Y, self.metric, self.method, self.leaf_size).kneighbors(
                        Xq, min(k, Y.shape[0]), query
                    )
                    found = (dist, ind + self.offsets[owner], values[0][ind] if values else None)
                    best = _merge_top(best, found, k)
        if not n:  # no query rows: empty results of the right shape
            best = tuple(None if a is None else a.reshape((0, k) + a.shape[2:]) for a in best)
        return best

    def radius(self, Xq, radius, return_distance=True, extras=()):
        """Per rank in rank order, the :class:`Piece` of its rows within ``radius``.

        Collective. ``extras`` are arrays aligned with this rank's training rows
        that travel with the blocks; each piece holds their values at its
        neighbours (``Piece.values``).
        """
        n, query = Xq.shape[0], QueryRows(Xq)
        pieces = [None] * self.comm.Get_size()
        # the compiled filter visits the rows in a tree order: each owner's
        # order of its rows travels with them (computed once, not per rank)
        # (decided from what every rank shares: the training rows' dtype, the metric)
        ship = not return_distance and expansion_applies(self.X, self.X, self.metric)
        ship = ship and compiled_neighbours()
        own = query if Xq is self.X else QueryRows(self.X)
        with agree_on_errors(self.comm):
            arrays = list(extras) + ([own.order.astype(np.int64)] if ship else [])
        for owner, Y, values in self._blocks(arrays):
            block = QueryRows(Y, values.pop()) if ship else None
            with agree_on_errors(self.comm):
                piece = _empty_piece(n)
                if n and Y.shape[0]:
                    piece = _Block(Y, self.metric, self.method, self.leaf_size).radius(
                        Xq, radius, return_distance, query, block
                    )
                pieces[owner] = piece._replace(values=tuple(v[piece.ind] for v in values))
        return pieces


def join_pieces(pieces, offsets, sort_results=False):
    """CSR ``(indptr, global indices, distances)`` of this rank's query rows.

    Each row lists its neighbours of every rank in global index order, or
    sorted by (distance, global index) with ``sort_results``.
    """
    lengths = np.stack([p.lengths for p in pieces])
    indptr = np.concatenate(([0], np.cumsum(lengths.sum(axis=0))))
    before = np.cumsum(lengths, axis=0) - lengths  # entries of earlier ranks, per row
    ind = np.empty(indptr[-1], dtype=np.int64)
    has_dist = all(len(p.dist) == len(p.ind) for p in pieces)
    dist = np.empty(indptr[-1] if has_dist else 0)
    for owner, piece in enumerate(pieces):
        rows = np.repeat(np.arange(len(piece.lengths)), piece.lengths)
        starts = np.concatenate(([0], np.cumsum(piece.lengths)[:-1]))
        dest = indptr[rows] + before[owner][rows] + np.arange(len(rows)) - starts[rows]
        ind[dest] = piece.ind + offsets[owner]
        if has_dist:
            dist[dest] = piece.dist
    if sort_results:
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        order = np.lexsort((ind, dist, rows))
        ind, dist = ind[order], dist[order]
    return indptr, ind, dist
