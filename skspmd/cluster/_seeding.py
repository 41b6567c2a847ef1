"""k-means seeding over the rows of every rank: k-means++ and random rows.

Both consume a ``RandomState`` exactly as scikit-learn does over the global
row order (the concatenation of the ranks' rows in rank order). Every rank
draws the same uniforms; the position each selects in the *global*
cumulative sum of weights (or of weighted squared distances) is found from
the ranks' prefix offsets, and the rank owning that position contributes the
row (:mod:`._shard`).

:func:`kmeans_plusplus` is public (scikit-learn's function under MPI);
:func:`random_rows` is the same for ``init='random'`` (used by the daal4py
layer); :func:`greedy_plusplus` and :func:`draw_rows` are their cores on a
:class:`~._shard.Shard`, which :class:`~.SPMDKMeans` calls on its centred
rows.
"""

import numbers

import numpy as np
from sklearn.utils import check_array, check_random_state

from .._comm import allgather_array, allreduce, bcast_array, get_comm
from .._compat import Interval, validate_params
from .._rows import CentredRows
from .._threads import ensure_threads, one_blas_thread
from .._validation import validate_spmd_data
from ._kmeans_kernels import ROWS_FORMAT, candidate_distances, candidate_potentials, update_closest
from ._shard import GlobalCumsum, Shard, share_rows

__all__ = [
    "draw_rows",
    "greedy_plusplus",
    "kmeans_plusplus",
    "random_rows",
    "shared_random_state",
]


def shared_random_state(random_state, comm):
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


def _checked_shard(X, n_clusters, sample_weight, x_squared_norms, comm):
    """Validate a seeding function's input on every rank and wrap it in a :class:`Shard`."""
    norms = {}

    def check_norms(X, _):
        if x_squared_norms is not None:
            x_sq = check_array(
                x_squared_norms, dtype=X.dtype, ensure_2d=False, ensure_min_samples=0
            )
            if x_sq.shape[0] != X.shape[0]:
                raise ValueError(
                    f"The length of x_squared_norms {x_sq.shape[0]} should "
                    f"be equal to the length of n_samples {X.shape[0]}."
                )
            norms["x_sq"] = x_sq

    X, data = validate_spmd_data(
        None, X, local_check=check_norms, sample_weight=sample_weight, comm=comm, **ROWS_FORMAT
    )
    if data.n_samples < n_clusters:
        raise ValueError(f"n_samples={data.n_samples} should be >= n_clusters={n_clusters}.")
    x_sq = norms.get("x_sq")
    x_sq = None if x_sq is None else x_sq.astype(X.dtype, copy=False)
    return Shard(X, data.sample_weight, data.counts, comm, n_clusters=n_clusters, x_sq=x_sq)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "x_squared_norms": ["array-like", None],
        "random_state": ["random_state"],
        "n_local_trials": [Interval(numbers.Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def kmeans_plusplus(
    X,
    n_clusters,
    *,
    sample_weight=None,
    x_squared_norms=None,
    random_state=None,
    n_local_trials=None,
):
    """Initial k-means centers by greedy k-means++ over the rows of every rank.

    The distributed twin of :func:`sklearn.cluster.kmeans_plusplus`, with the
    same parameters. Collective: every rank calls it with its own rows (a
    rank may hold none) and gets the same centers and indices, those
    scikit-learn's function returns for the concatenation of the ranks' rows
    in rank order and the same ``random_state``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        This rank's rows; may have zero rows. Converted to float64 (float32
        stays float32); CSR for sparse input.
    n_clusters : int
        Number of centers to choose (at most the number of rows over all
        ranks).
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of this rank's rows (non-negative, not all zero over all
        ranks). None: every row has weight 1.
    x_squared_norms : array-like of shape (n_samples,), default=None
        Squared Euclidean norms of this rank's rows, computed if None. As in
        scikit-learn, they are used for float64 data and recomputed in
        float64 for float32 data.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws. An int gives scikit-learn's result. A RandomState
        instance is first set to rank 0's state on every rank (and advanced
        alike on every rank); ``None`` draws a seed from rank 0's global
        NumPy generator.
    n_local_trials : int, default=None
        Candidates tried per center; None: ``2 + int(ln(n_clusters))``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The chosen rows, in X's (converted) dtype, bitwise identical on every
        rank.
    indices : ndarray of shape (n_clusters,)
        Their GLOBAL row numbers: positions in the concatenation of the
        ranks' rows in rank order (the same on every rank). A rank's own
        rows are those from ``offset`` to ``offset + n_local``, where
        ``offset`` is the number of rows of the lower ranks.

    Raises
    ------
    ValueError
        On every rank, if any rank's input is invalid (NaN, negative
        weights, wrong lengths, a different number of features), if
        ``n_clusters`` exceeds the global number of rows, or if every weight
        is zero.

    See Also
    --------
    sklearn.cluster.kmeans_plusplus : The single-process function.
    SPMDKMeans : Uses the same seeding for ``init='k-means++'``.

    Notes
    -----
    Distributed semantics: the first center is drawn from the global
    cumulative sum of the weights (one ``Allgather`` of one number per rank
    for the prefix offsets) and replicated by its owner (one ``Allreduce``
    of one row). Each further center costs two collectives: an
    ``Allreduce`` of the ``n_local_trials`` candidate rows, and an
    ``Allgather`` of every rank's potential for each candidate, which gives
    the global potentials (summed in rank order, the same on every rank)
    and the prefix offsets of the next draw. Local work per center is one
    distance product of this rank's rows with the candidates, in float64 as
    scikit-learn computes it. Communication does not depend on the number
    of rows. Input validation is collective.

    A draw is located in a cumulative sum computed per rank plus prefix
    offsets rather than in one global cumulative sum; a draw landing within
    round-off of the boundary between two rows could pick the neighbour
    (more often for float32 data, whose weighted distances scikit-learn
    accumulates in float32). Integer input is converted to float64, so the
    centers are floats where scikit-learn returns X's integer dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.cluster import kmeans_plusplus
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> centers, indices = kmeans_plusplus(X, n_clusters=2, random_state=0)
    >>> centers
    array([[10.,  2.],
           [ 1.,  0.]])
    >>> indices
    array([3, 2])
    """
    comm = get_comm()
    ensure_threads(comm)
    shard = _checked_shard(X, n_clusters, sample_weight, x_squared_norms, comm)
    random_state = shared_random_state(random_state, comm)
    with one_blas_thread():
        return greedy_plusplus(shard, n_clusters, random_state, n_local_trials)


def random_rows(X, n_clusters, *, sample_weight=None, random_state=None):
    """``n_clusters`` distinct global rows drawn with probability proportional to the weights.

    The rows scikit-learn's ``KMeans(init='random')`` starts from
    (``random_state.choice(n, n_clusters, replace=False, p=w / w.sum())``
    over the concatenated rows). Collective, validated like
    :func:`kmeans_plusplus`; returns ``(centers, indices)`` in the same form.
    """
    comm = get_comm()
    ensure_threads(comm)
    shard = _checked_shard(X, n_clusters, sample_weight, None, comm)
    return draw_rows(shard, n_clusters, shared_random_state(random_state, comm))


def greedy_plusplus(shard, n_clusters, random_state, n_local_trials=None):
    """Greedy k-means++ over the global rows, consuming ``random_state`` as sklearn does.

    Two collectives per center: an ``Allreduce`` of the candidate rows and an
    ``Allgather`` of every rank's potential for each candidate, which gives
    both the global potentials (summed in rank order, the same on every
    rank) and the prefix offsets of the next center's cumulative sum.
    Returns the centers and their global row indices.
    """
    X, weights, comm = shard.X, shard.weights, shard.comm
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    indices = np.empty(n_clusters, dtype=np.int64)

    # first center: random_state.choice(n_samples, p=sample_weight / sum)
    cdf = GlobalCumsum(shard.probabilities(), shard.counts, comm, normalize=True, overwrite=True)
    _, local = cdf.locate([random_state.random_sample()], side="right")
    del cdf
    rows, gidx, _ = share_rows(X, local, shard.offset, comm)
    centers[0], indices[0] = rows[0], gidx[0]

    if isinstance(X, CentredRows):  # rows read from a file: no candidates x n array
        closest = np.full(X.shape[0], np.inf, dtype=X.dtype)
        update_closest(X, centers[:1], shard.block, closest, 0)
    else:
        closest = candidate_distances(X, shard.x_sq64, centers[:1], shard.block)[0]
    pot_by_rank = allgather_array(np.array([closest @ weights], dtype=np.float64), comm)
    current_pot = pot_by_rank[:, 0].sum()
    totals = pot_by_rank[:, 0]

    for c in range(1, n_clusters):
        targets = random_state.uniform(size=n_local_trials) * current_pot
        cdf = GlobalCumsum(weights * closest, shard.counts, comm, totals=totals, overwrite=True)
        _, local = cdf.locate(targets, side="left")
        del cdf  # n-sized: free it before the candidates' distances
        rows, gidx, _ = share_rows(X, local, shard.offset, comm)

        pots, dist = _potentials(shard, rows, closest)
        pot_by_rank = allgather_array(pots, comm)
        pots = pot_by_rank.sum(axis=0)
        best = int(np.argmin(pots))
        current_pot = pots[best]
        totals = pot_by_rank[:, best]
        closest = _closest(shard, rows, closest, best, dist)
        del dist
        centers[c], indices[c] = rows[best], gidx[best]
    return centers, indices


def _potentials(shard, rows, closest):
    """This rank's potential for each candidate row, and the candidates' distances.

    In memory, the ``candidates x n`` distances (to the nearest chosen
    center) are returned for :func:`_closest`; for :class:`CentredRows`,
    None: they are recomputed there (one more pass over the rows instead of
    that array).
    """
    X, weights = shard.X, shard.weights
    if isinstance(X, CentredRows):
        return candidate_potentials(X, rows, shard.block, closest, weights), None
    dist = candidate_distances(X, shard.x_sq64, rows, shard.block)
    np.minimum(closest, dist, out=dist)
    return np.asarray(dist @ weights, dtype=np.float64), dist


def _closest(shard, rows, closest, best, dist):
    """The distances to the nearest chosen center once ``rows[best]`` is chosen."""
    if dist is None:
        update_closest(shard.X, rows, shard.block, closest, best)
        return closest
    return dist[best].copy()  # not a view: the other candidates' rows can be freed


def draw_rows(shard, n_clusters, random_state):
    """``random_state.choice(n, k, replace=False, p=w / w.sum())`` over the global rows.

    numpy draws ``k - found`` uniforms, locates them in the cdf of the
    remaining probabilities, keeps the new distinct indices in draw order and
    repeats until ``k`` are found; the same here with the global cdf.
    Returns the rows and their global indices.
    """
    if shard.n_positive < n_clusters:
        raise ValueError("Fewer non-zero entries in p than size")
    p = shard.probabilities()
    found = np.empty(0, dtype=np.int64)
    while found.size < n_clusters:
        x = random_state.rand(n_clusters - found.size)
        taken = shard.local_index(found)
        p[taken[taken >= 0]] = 0
        cdf = GlobalCumsum(p, shard.counts, shard.comm, normalize=True)
        _, local = cdf.locate(x, side="right")
        new = allreduce(np.where(local >= 0, local + shard.offset, 0), comm=shard.comm)
        _, first = np.unique(new, return_index=True)
        first.sort()
        found = np.concatenate((found, new[first]))
    rows, _, _ = share_rows(shard.X, shard.local_index(found), shard.offset, shard.comm)
    return rows, found
