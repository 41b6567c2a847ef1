"""SPMDDBSCAN: sklearn's DBSCAN over rows that stay on their ranks.

scikit-learn's DBSCAN labels are a pure function of the neighbourhoods: a
row is *core* when the (weighted) count of its neighbourhood, itself
included, reaches ``min_samples``; the core rows fall into the connected
components of the graph of core rows within ``eps`` of each other; clusters
are numbered by their first core row in row order (its traversal visits the
rows in order and finishes a cluster before it starts the next); a non-core
row within ``eps`` of core rows joins the cluster with the smallest number
among them (the first traversal that reaches it); the rest is noise, -1.

Here the same labels come from four collective steps, none of which gathers
the data:

1. one distributed radius search (the training blocks travel around the ring
   of ranks with their weights, see ``neighbors._search``; euclidean float64
   rows through the compiled filter of ``_kernels.radius_candidates``) gives
   every local row its neighbourhood as global row numbers, hence its count
   and core flag;
2. locally, the core rows of this rank that are neighbours form *fragments*
   (connected components of the local core graph), each named by its smallest
   global row number;
3. a second pass around the ring carries only each rank's fragment names (one
   integer per row): every rank turns its cross-rank core-core neighbours into
   distinct (fragment, fragment) pairs, and non-core rows collect the fragments
   of their core neighbours;
4. one ``Allgatherv`` of the distinct fragment pairs (deduplicated through
   the fragment numbers of each side, not by sorting the pairs) (their number is the
   number of fragment adjacencies across ranks, not of rows) and an identical
   union-find on every rank (SciPy's connected components) name each cluster by
   its smallest core row; one ``Allgatherv`` of the cluster names of each rank
   numbers the clusters in that order on every rank.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN

from .._base import spmd_fit
from .._comm import agree_on_errors, all_agree, allgatherv_array, get_comm, ring_blocks
from .._validation import validate_spmd_data

__all__ = ["SPMDDBSCAN"]


def _check_weights(sample_weight, n_rows):
    """This rank's weights as float64 (negative weights allowed, as in scikit-learn)."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        return np.full(n_rows, float(weights))
    if weights.ndim != 1 or weights.shape[0] != n_rows:
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected ({n_rows},)!")
    if not np.isfinite(weights).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    return weights


def _owner_rows(piece):
    """Query row of every neighbour entry of a radius-search piece."""
    return np.repeat(np.arange(len(piece.lengths)), piece.lengths)


def _core_rows(pieces, weighted, min_samples):
    """Core flags of this rank's rows from their neighbourhoods (itself included)."""
    counts = np.zeros(len(pieces[0].lengths))
    for piece in pieces:
        if weighted:
            counts += np.bincount(_owner_rows(piece), piece.values[0], len(counts))
        else:
            counts += piece.lengths
    return counts >= min_samples


def _fragments(piece, core, offset):
    """Name of each local core row's fragment (its smallest global row), -1 elsewhere."""
    n = len(core)
    rows, cols = _owner_rows(piece), piece.ind
    both = core[rows] & core[cols]
    graph = sp.csr_matrix((np.ones(both.sum()), (rows[both], cols[both])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    _, first = np.unique(component, return_index=True)
    return np.where(core, offset + first[component], -1)


def _distinct_pairs(left, right, rows, cols):
    """The distinct pairs ``(left[rows[t]], right[cols[t]])``, sorted, as an (m, 2) array.

    ``left`` and ``right`` hold one value per row of each side (few distinct
    ones: fragment names), so the pairs are numbered by the distinct values
    of each side and deduplicated through those numbers, without sorting
    the (many) pairs themselves unless the numbers are too many to mark.
    """
    lu, li = np.unique(left, return_inverse=True)
    ru, ri = np.unique(right, return_inverse=True)
    key = li[rows] * len(ru) + ri[cols]
    if len(lu) * len(ru) <= 4 * len(key) + 4096:
        seen = np.zeros(len(lu) * len(ru), dtype=bool)
        seen[key] = True
        key = np.flatnonzero(seen)
    else:
        key = np.unique(key)
    return np.column_stack((lu[key // len(ru)], ru[key % len(ru)])).astype(np.int64)


def _neighbour_fragments(pieces, names, core, counts, comm):
    """Cross-rank fragment pairs, and (row, fragment) of core neighbours of non-core rows."""
    rank = comm.Get_rank()
    pairs, rows_b, frags_b = [np.empty((0, 2), np.int64)], [], []
    for owner, (theirs,) in ring_blocks([names], counts, comm):
        with agree_on_errors(comm):
            piece = pieces[owner]
            rows, frag = _owner_rows(piece), theirs[piece.ind]
            near = frag >= 0
            if owner != rank:
                link = np.flatnonzero(near & core[rows])
                pairs.append(_distinct_pairs(names, theirs, rows[link], piece.ind[link]))
            border = near & ~core[rows]
            rows_b.append(rows[border])
            frags_b.append(frag[border])
    # distinct already: the fragments of different owners have different names
    return np.concatenate(pairs), np.concatenate(rows_b), np.concatenate(frags_b)


def _cluster_names(pairs, comm):
    """``name(fragments)``: the smallest core row of each fragment's cluster (collective)."""
    edges, _ = allgatherv_array(pairs.astype(np.int64), comm)
    nodes, index = np.unique(edges, return_inverse=True)
    index = index.reshape(-1, 2)
    graph = sp.csr_matrix(
        (np.ones(len(index)), (index[:, 0], index[:, 1])), shape=(len(nodes), len(nodes))
    )
    _, component = connected_components(graph, directed=False)
    _, first = np.unique(component, return_index=True)
    smallest = nodes[first][component]  # nodes are sorted: first member is the smallest

    def name(fragments):
        fragments = np.asarray(fragments, dtype=np.int64)
        if not len(nodes):
            return fragments
        pos = np.minimum(np.searchsorted(nodes, fragments), len(nodes) - 1)
        return np.where(nodes[pos] == fragments, smallest[pos], fragments)

    return name


def _labels(names, core, border, name, comm):
    """Cluster labels of this rank's rows (collective: the numbering is global)."""
    cluster_of_core = name(names[core])
    ordered, _ = allgatherv_array(np.unique(cluster_of_core), comm)
    ordered = np.unique(ordered)  # every cluster's smallest core row, in row order
    labels = np.full(len(core), -1, dtype=np.intp)
    labels[core] = np.searchsorted(ordered, cluster_of_core)
    rows, fragments = border
    if len(rows):
        number = np.searchsorted(ordered, name(fragments))
        order = np.lexsort((number, rows))
        first_rows, first = np.unique(rows[order], return_index=True)
        labels[first_rows] = number[order][first]
    return labels, len(ordered)


class SPMDDBSCAN(DBSCAN):
    """DBSCAN clustering of the rows of every MPI rank.

    The distributed twin of :class:`sklearn.cluster.DBSCAN`: same parameters
    and attributes; ``fit`` is collective; the labels, core rows and cluster
    numbering equal scikit-learn's fit on the concatenation of every rank's
    rows, for any number of ranks and any split.

    Parameters
    ----------
    eps : float, default=0.5
        Largest distance between two rows for one to be in the neighbourhood
        of the other.
    min_samples : int, default=5
        Rows (or total weight) in a neighbourhood, the row itself included,
        for the row to be a core row.
    metric : {'euclidean', 'manhattan', 'cosine', 'minkowski'}, default='euclidean'
        Distance; ``'minkowski'`` needs ``p`` of 1 or 2 (None is 2). Other
        metrics, ``'precomputed'`` and callables raise a ``ValueError`` on
        every rank.
    metric_params : dict, default=None
        Only None (or an empty dict).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        The search run on each rank's block of rows, resolved as scikit-learn's
        ``NearestNeighbors`` resolves it; every search is exact.
    leaf_size : int, default=30
        Leaf size of the trees.
    p : float, default=None
        Power of the Minkowski metric.
    n_jobs : int, default=None
        Accepted for compatibility; each rank's threads follow
        :func:`skspmd.set_num_threads`.

    Attributes
    ----------
    core_sample_indices_ : ndarray of shape (n_core_samples,)
        Core rows among **this rank's** rows, as local indices (positions in
        the ``X`` this rank passed to ``fit``).
    components_ : ndarray of shape (n_core_samples, n_features)
        Copy of this rank's core rows.
    labels_ : ndarray of shape (n_samples,)
        Cluster labels of this rank's rows; noise is -1. Cluster numbers are
        global (the same cluster has the same number on every rank).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.cluster.DBSCAN : The single-process estimator.
    SPMDNearestNeighbors : The distributed radius search it is built on.

    Notes
    -----
    Distributed semantics: the attributes describe this rank's rows, like
    ``labels_`` of every skspmd clusterer; concatenated over the ranks in rank
    order they are scikit-learn's (``core_sample_indices_`` shifted by each
    rank's first global row). ``fit`` makes one distributed radius search
    (every rank receives every other rank's rows once, overlapped with the
    search), a second pass around the ranks of one integer per row, and two
    ``Allgatherv`` whose size is the number of cluster fragments that touch
    across ranks and the number of clusters: a cluster spanning every rank is
    joined without gathering rows. Memory per rank: this rank's
    neighbourhoods, as in scikit-learn.

    For euclidean float64 rows, the neighbourhoods come from a compiled
    filter: squared distances by the expansion ``|x|^2 + |y|^2 - 2 x.y`` in
    register tiles, visiting the rows in a KD tree's order and skipping the
    groups of rows whose bounding boxes lie farther apart than ``eps``. Pairs
    within ``eps`` by more than a rounding margin are neighbours for every
    way of computing the distance; the rare pairs within the margin of
    ``eps`` are decided by scikit-learn's own search of the chosen
    ``algorithm`` (its GEMM expansion for brute force, its trees'
    feature-by-feature sums) on just those rows. Other metrics and float32
    rows run scikit-learn's search of each block. Neighbourhoods are taken
    as symmetric, so a pair at exactly ``eps`` whose two distances round
    differently may be decided otherwise than by scikit-learn. With float weights, the neighbourhood counts are
    summed in another order than scikit-learn's (round-off at
    ``min_samples``).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDDBSCAN
    >>> X = np.array([[1, 2], [2, 2], [2, 3], [8, 7], [8, 8], [25, 80]])
    >>> SPMDDBSCAN(eps=3, min_samples=2).fit(X).labels_
    array([ 0,  0,  0,  1,  1, -1])
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # dense rows only travel between the ranks
        return tags

    @staticmethod
    def _agree_on_weights(weights, n_rows, comm):
        """Weights everywhere (ones where a rank gave none) or nowhere; not all zero."""
        if all_agree(weights is None, comm):
            return None
        weights = np.ones(n_rows) if weights is None else weights
        if all_agree(not np.any(weights), comm):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return weights

    @spmd_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Cluster the rows of every rank (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows (negative weights allowed).

        Returns
        -------
        self : SPMDDBSCAN
            Fitted; the attributes hold this rank's rows.
        """
        from ..neighbors import SPMDNearestNeighbors

        comm = get_comm()
        X, data = validate_spmd_data(self, X, order="C", min_samples=1, comm=comm)
        with agree_on_errors(comm):
            weights = _check_weights(sample_weight, X.shape[0])
            if self.metric == "precomputed" or callable(self.metric):
                raise ValueError(
                    f"metric={self.metric!r} has no distributed path in SPMDDBSCAN; use "
                    "'euclidean', 'manhattan', 'cosine' or 'minkowski' with p=1 or 2"
                )
        weights = self._agree_on_weights(weights, X.shape[0], comm)
        rows = X if X.dtype.kind == "f" else X.astype(np.float64)
        search = SPMDNearestNeighbors(
            radius=self.eps,
            algorithm=self.algorithm,
            leaf_size=self.leaf_size,
            metric=self.metric,
            metric_params=self.metric_params,
            p=self.p,
        ).fit(rows)
        searcher = search._searcher(comm)
        extras = [] if weights is None else [weights]
        pieces = searcher.radius(search._fit_X, self.eps, return_distance=False, extras=extras)
        with agree_on_errors(comm):
            core = _core_rows(pieces, weights is not None, self.min_samples)
            names = _fragments(pieces[data.rank], core, data.offset)
        pairs, *border = _neighbour_fragments(pieces, names, core, data.counts, comm)
        labels, n_clusters = _labels(names, core, border, _cluster_names(pairs, comm), comm)
        self.core_sample_indices_ = np.flatnonzero(core)
        self.labels_ = labels
        if n_clusters:
            self.components_ = X[self.core_sample_indices_].copy()
        else:
            self.components_ = np.empty((0, X.shape[1]))
        return self
