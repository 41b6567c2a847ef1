"""SPMDNearestNeighbors, SPMDKNeighborsClassifier/Regressor against sklearn on all rows.

The training rows are split over the ranks (even, uneven, one empty rank) and
so are the query rows (with another split, so that a rank may have training
rows and no queries, or the reverse). Every rank calls every query method;
each rank's answer must equal sklearn's answer for its query rows, with
global indices.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, assert_replicated, bounds, local
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs, make_moons
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from sklearn.preprocessing import StandardScaler

from skspmd import (
    SPMDKNeighborsClassifier,
    SPMDKNeighborsRegressor,
    SPMDNearestNeighbors,
    comm_context,
)
from skspmd._comm import RING_STATS

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
BAD = SIZE - 1
QUERY_SPLIT = {"even": "uneven", "uneven": "empty", "empty": "even"}


@pytest.fixture(autouse=True)
def one_thread():
    """Small searches: OpenMP and BLAS threads only cost time on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _dataset(name):
    """(X_train, y_train, X_query, y_query): the first rows train, the rest query."""
    if name == "iris":
        X, y = load_iris(return_X_y=True)
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
        X, y = X[:700], y[:700]
    elif name == "wine":
        X, y = load_wine(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    elif name == "moons":
        X, y = make_moons(300, noise=0.2, random_state=0)
    else:
        X, y = make_blobs(400, n_features=6, centers=4, cluster_std=2.0, random_state=1)
    order = np.random.RandomState(0).permutation(len(X))
    X, y = X[order], y[order]
    cut = len(X) * 3 // 4
    return X[:cut], y[:cut], X[cut:], y[cut:]


def _start(n, split):
    return bounds(n, split)[0]


def _rows_of(a, split):
    """This rank's rows of a per-row result computed on all rows."""
    start, stop = bounds(a.shape[0], split)
    return a[start:stop]


def on_rows(result, split):
    """This rank's rows of sklearn's result on all query rows (tuples, lists kept)."""
    if isinstance(result, (tuple, list)):
        return type(result)(on_rows(r, split) for r in result)
    return _rows_of(result, split)


def assert_same_neighbours(dist, ind, ref_dist, ref_ind, Q, X, metric="euclidean"):
    """Our k nearest are sklearn's, up to the order (and, at the k-th distance,
    the choice) among rows at exactly equal distances, which sklearn leaves to
    its heap or tree while ours puts the smaller global index first."""
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10, atol=1e-6)
    assert ind.shape == ref_ind.shape
    ref_key = np.round(ref_dist, 8)
    for r in range(ind.shape[0]):
        inner = ref_key[r] < ref_key[r, -1]
        np.testing.assert_array_equal(np.sort(ind[r][inner]), np.sort(ref_ind[r][inner]))
        assert np.all(np.diff(dist[r]) >= 0)
        for d in np.unique(dist[r]):  # smaller index first among equal distances
            assert np.all(np.diff(ind[r][dist[r] == d]) > 0)
    if len(Q) == 0:
        return
    true = pairwise_distances(Q, X, metric=metric)[np.arange(len(ind))[:, None], ind]
    np.testing.assert_allclose(true, dist, rtol=1e-10, atol=1e-6)


def untied(Q, X, k, query_is_train=False, metric="euclidean"):
    """Query rows whose k-th and (k+1)-th nearest are at different distances.

    Only for those is the set of k nearest defined; at an exact tie sklearn's
    heap or tree picks among the tied rows its own way (ours: smaller index).
    """
    if len(Q) == 0:
        return np.zeros(0, dtype=bool)
    D = np.sort(pairwise_distances(Q, X, metric=metric), axis=1)
    k = k + query_is_train
    if k >= D.shape[1]:
        return np.ones(len(Q), dtype=bool)
    return D[:, k] - D[:, k - 1] > 1e-9


DATASETS = ["iris", "digits", "wine", "moons", "blobs"]
METRICS = [("euclidean", 2), ("manhattan", 2), ("minkowski", 1), ("minkowski", 2), ("cosine", 2)]


def test_params_are_sklearns():
    for ours, theirs in [
        (SPMDNearestNeighbors, NearestNeighbors),
        (SPMDKNeighborsClassifier, KNeighborsClassifier),
        (SPMDKNeighborsRegressor, KNeighborsRegressor),
    ]:
        assert ours().get_params().keys() == theirs().get_params().keys()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("algorithm", ["brute", "auto"])
def test_kneighbors_match_sklearn(name, split, algorithm):
    X, _, Q, _ = _dataset(name)
    qsplit = QUERY_SPLIT[split]
    ref = NearestNeighbors(n_neighbors=6, algorithm=algorithm).fit(X)
    ours = SPMDNearestNeighbors(n_neighbors=6, algorithm=algorithm).fit(local(split, X))
    assert_replicated(ours)
    assert ours.n_samples_fit_ == ref.n_samples_fit_
    assert ours.effective_metric_ == ref.effective_metric_
    Q_local = local(qsplit, Q)
    dist, ind = ours.kneighbors(Q_local)
    assert_same_neighbours(dist, ind, *on_rows(ref.kneighbors(Q), qsplit), Q_local, X)
    assert ind.shape == (Q_local.shape[0], 6)
    # X=None: each training row's neighbours, itself excluded
    dist, ind = ours.kneighbors(n_neighbors=4)
    ref_dist, ref_ind = ref.kneighbors(n_neighbors=4)
    ref_dist, ref_ind = _rows_of(ref_dist, split), _rows_of(ref_ind, split)
    if name != "iris":  # iris has duplicate rows: which copy is "self" is a tie
        assert_same_neighbours(dist, ind, ref_dist, ref_ind, local(split, X), X)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("metric, p", METRICS)
def test_metrics(metric, p, split):
    X, _, Q, _ = _dataset("blobs")
    qsplit = QUERY_SPLIT[split]
    params = dict(n_neighbors=5, metric=metric, p=p, algorithm="brute")
    ref = NearestNeighbors(**params).fit(X)
    ours = SPMDNearestNeighbors(**params).fit(local(split, X))
    Q_local = local(qsplit, Q)
    dist, ind = ours.kneighbors(Q_local)
    assert_same_neighbours(
        dist, ind, *on_rows(ref.kneighbors(Q), qsplit), Q_local, X, ref.effective_metric_
    )
    radius = 0.3 if metric == "cosine" else 4.0
    dist, ind = ours.radius_neighbors(local(qsplit, Q), radius=radius, sort_results=True)
    ref_dist, ref_ind = on_rows(ref.radius_neighbors(Q, radius=radius, sort_results=True), qsplit)
    assert len(ind) == len(ref_ind)
    for a, b, da, db in zip(ind, ref_ind, dist, ref_dist):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(da, db, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("split", SPLITS)
def test_exact_ties_smaller_global_index_first(split):
    # integer grid: many rows at exactly equal distances, and duplicates
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(120, 2)).astype(float)
    Q = rng.randint(0, 3, size=(30, 2)).astype(float)
    qsplit = QUERY_SPLIT[split]
    for metric in ("euclidean", "manhattan"):
        ours = SPMDNearestNeighbors(n_neighbors=15, metric=metric, algorithm="brute")
        ours.fit(local(split, X))
        dist, ind = ours.kneighbors(local(qsplit, Q))
        D = pairwise_distances(Q, X, metric=metric)
        expected = on_rows(
            np.array([np.lexsort((np.arange(len(X)), row))[:15] for row in D]), qsplit
        )
        D = on_rows(D, qsplit)
        np.testing.assert_array_equal(ind, expected.reshape(ind.shape))
        # the distances are sklearn's (its choice among the tied rows is its heap's)
        ref = NearestNeighbors(n_neighbors=15, metric=metric, algorithm="brute").fit(X)
        np.testing.assert_allclose(dist, on_rows(ref.kneighbors(Q)[0], qsplit))
        np.testing.assert_array_equal(dist, np.take_along_axis(D, ind, axis=1))


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", ["iris", "wine", "moons"])
def test_radius_neighbors_and_graphs(name, split):
    X, _, Q, _ = _dataset(name)
    qsplit = QUERY_SPLIT[split]
    radius = {"iris": 0.5, "wine": 2.5, "moons": 0.2}[name]
    ref = NearestNeighbors(n_neighbors=4, radius=radius, algorithm="brute").fit(X)
    ours = SPMDNearestNeighbors(n_neighbors=4, radius=radius, algorithm="brute").fit(
        local(split, X)
    )
    Q_local = local(qsplit, Q)
    for query, rows in (
        (Q_local, lambda a: on_rows(a, qsplit)),
        (None, lambda a: on_rows(a, split)),
    ):
        ref_query = None if query is None else Q
        dist, ind = ours.radius_neighbors(query)  # unsorted: global index order
        ref_dist, ref_ind = ref.radius_neighbors(ref_query)
        ref_dist, ref_ind = rows(ref_dist), rows(ref_ind)
        for a, b, da, db in zip(ind, ref_ind, dist, ref_dist):
            order = np.argsort(b)
            np.testing.assert_array_equal(a, b[order])
            np.testing.assert_allclose(da, db[order], rtol=1e-10, atol=1e-7)
        ind_only = ours.radius_neighbors(query, return_distance=False)
        assert all(np.array_equal(a, b) for a, b in zip(ind_only, ind))
        for mode in ("connectivity", "distance"):
            G = ours.radius_neighbors_graph(query, mode=mode)
            R = rows(ref.radius_neighbors_graph(ref_query, mode=mode).tocsr())
            assert G.shape == R.shape and type(G) is type(R)
            assert abs(G - R).max() < 1e-7 if G.nnz or R.nnz else True
            K = ours.kneighbors_graph(query, n_neighbors=3, mode=mode)
            KR = rows(ref.kneighbors_graph(ref_query, n_neighbors=3, mode=mode).tocsr())
            assert K.shape == KR.shape
            same = untied(local(split, X) if query is None else query, X, 3, query is None)
            assert abs(K[same] - KR[same]).max() < 1e-7 if same.any() else True


@pytest.mark.parametrize("split", SPLITS)
def test_no_neighbours_within_radius_and_zero_query_rows(split):
    X, _, _, _ = _dataset("blobs")
    ours = SPMDNearestNeighbors(radius=1.0).fit(local(split, X))
    far = np.full((3, X.shape[1]), 1e3)
    if RANK == BAD:
        dist, ind = ours.radius_neighbors(far)
        assert len(ind) == 3 and all(len(i) == 0 for i in ind)
        graph = ours.radius_neighbors_graph(far)
        assert graph.shape == (3, len(X)) and graph.nnz == 0
    else:  # a rank with zero query rows still takes part
        dist, ind = ours.radius_neighbors(far[:0])
        assert len(ind) == 0
        graph = ours.radius_neighbors_graph(far[:0])
        assert graph.shape == (0, len(X))
    empty = far[:0]
    d, i = ours.kneighbors(empty if RANK != BAD else far)
    assert i.shape == ((3, 5) if RANK == BAD else (0, 5))
    assert i.dtype == np.int64 and d.dtype == np.float64


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_matches_sklearn(name, split, weights):
    X, y, Q, yq = _dataset(name)
    qsplit = QUERY_SPLIT[split]
    params = dict(n_neighbors=7, weights=weights, algorithm="brute")
    ref = KNeighborsClassifier(**params).fit(X, y)
    ours = SPMDKNeighborsClassifier(**params).fit(*local(split, X, y))
    assert_replicated(ours)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    Q_local, yq_local = local(qsplit, Q, yq)
    same = untied(Q_local, X, 7)
    np.testing.assert_array_equal(
        ours.predict(Q_local)[same], on_rows(ref.predict(Q), qsplit)[same]
    )
    np.testing.assert_allclose(
        ours.predict_proba(Q_local)[same], on_rows(ref.predict_proba(Q), qsplit)[same]
    )
    if untied(Q, X, 7).all():
        assert ours.score(Q_local, yq_local) == pytest.approx(ref.score(Q, yq), rel=1e-12)
    # X=None: leave-one-out predictions of the training rows
    same = untied(local(split, X), X, 7, query_is_train=True)
    np.testing.assert_array_equal(
        ours.predict(None)[same], _rows_of(ref.predict(None), split)[same]
    )
    if untied(X, X, 7, query_is_train=True).all():
        assert ours.score(None, local(split, y)) == pytest.approx(ref.score(None, y))


@pytest.mark.parametrize("split", SPLITS)
def test_classifier_classes_missing_on_a_rank_and_string_labels(split):
    X, y, Q, _ = _dataset("blobs")
    y = np.array(["ant", "bee", "cat", "dog"])[y]
    # the first rank holds no "dog" and rank 1 has no rows at all with "empty"
    X_local, y_local = local(split, X, y)
    if RANK == 0:
        keep = y_local != "dog"
        X_local, y_local = X_local[keep], y_local[keep]
    X_all = np.concatenate(WORLD.allgather(X_local))
    y_all = np.concatenate(WORLD.allgather(y_local))
    ref = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X_all, y_all)
    ours = SPMDKNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X_local, y_local)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    qsplit = QUERY_SPLIT[split]
    Q_local = local(qsplit, Q)
    np.testing.assert_array_equal(ours.predict(Q_local), on_rows(ref.predict(Q), qsplit))
    np.testing.assert_allclose(ours.predict_proba(Q_local), on_rows(ref.predict_proba(Q), qsplit))


@pytest.mark.parametrize("split", SPLITS)
def test_classifier_multioutput_and_callable_weights(split):
    X, y, Q, _ = _dataset("wine")
    Y = np.column_stack([y, (X[:, 0] > 0).astype(int)])
    weights = lambda d: np.exp(-d)  # noqa: E731
    ref = KNeighborsClassifier(n_neighbors=4, weights=weights, algorithm="brute").fit(X, Y)
    ours = SPMDKNeighborsClassifier(n_neighbors=4, weights=weights).fit(*local(split, X, Y))
    assert ours.outputs_2d_ and len(ours.classes_) == 2
    qsplit = QUERY_SPLIT[split]
    Q_local = local(qsplit, Q)
    np.testing.assert_array_equal(ours.predict(Q_local), on_rows(ref.predict(Q), qsplit))
    for a, b in zip(ours.predict_proba(Q_local), on_rows(ref.predict_proba(Q), qsplit)):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", ["iris", "digits", "wine", "moons"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_matches_sklearn(name, split, weights):
    X, _, Q, _ = _dataset(name)
    w = np.linspace(-1.0, 1.0, X.shape[1])
    y, yq = X @ w + np.sin(X[:, 0]), Q @ w + np.sin(Q[:, 0])
    qsplit = QUERY_SPLIT[split]
    params = dict(n_neighbors=5, weights=weights, algorithm="brute")
    ref = KNeighborsRegressor(**params).fit(X, y)
    ours = SPMDKNeighborsRegressor(**params).fit(*local(split, X, y))
    assert_replicated(ours)
    Q_local, yq_local = local(qsplit, Q, yq)
    same = untied(Q_local, X, 5)
    np.testing.assert_allclose(
        ours.predict(Q_local)[same], on_rows(ref.predict(Q), qsplit)[same], rtol=1e-12, atol=1e-12
    )
    if untied(Q, X, 5).all():
        assert ours.score(Q_local, yq_local) == pytest.approx(ref.score(Q, yq), rel=1e-10)
    same = untied(local(split, X), X, 5, query_is_train=True)
    np.testing.assert_allclose(ours.predict(None)[same], _rows_of(ref.predict(None), split)[same])


@pytest.mark.parametrize("split", SPLITS)
def test_regressor_multioutput_float32_and_manhattan(split):
    X, _, Q, _ = _dataset("moons")
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] ** 2]).astype(np.float32)
    X32, Q32 = X.astype(np.float32), Q.astype(np.float32)
    params = dict(n_neighbors=3, metric="manhattan", algorithm="brute")
    ref = KNeighborsRegressor(**params).fit(X32, Y)
    ours = SPMDKNeighborsRegressor(**params).fit(*local(split, X32, Y))
    qsplit = QUERY_SPLIT[split]
    pred = ours.predict(local(qsplit, Q32))
    assert pred.dtype == ref.predict(Q32[:2]).dtype
    np.testing.assert_allclose(pred, on_rows(ref.predict(Q32), qsplit), rtol=1e-6)


def test_ring_moves_every_other_ranks_rows_once():
    X, _, Q, _ = _dataset("blobs")
    ours = SPMDNearestNeighbors(n_neighbors=3).fit(local("uneven", X))
    before = RING_STATS["bytes"]
    ours.kneighbors(local("even", Q))
    moved = RING_STATS["bytes"] - before
    assert moved == (len(X) - local("uneven", X).shape[0]) * X.shape[1] * 8


# -- errors: the same on every rank ------------------------------------------


@pytest.mark.parametrize("metric, p", [("chebyshev", 2), ("minkowski", 3), ("seuclidean", 2)])
def test_unsupported_metric_raises_everywhere(metric, p):
    X, _, _, _ = _dataset("iris")
    with pytest.raises(ValueError, match="no distributed|not valid"):
        SPMDNearestNeighbors(metric=metric, p=p).fit(local("even", X))


def test_bad_query_on_one_rank_raises_everywhere():
    X, y, Q, _ = _dataset("iris")
    clf = SPMDKNeighborsClassifier(n_neighbors=3).fit(*local("even", X, y))
    Q_local = local("even", Q).copy()
    if RANK == BAD and len(Q_local):
        Q_local[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN") as err:
        clf.predict(Q_local)
    if SIZE > 1:
        assert f"rank {BAD}" in str(err.value)
    Q_wide = local("even", Q)
    if RANK == BAD:
        Q_wide = np.hstack([Q_wide, Q_wide[:, :1]])
    with pytest.raises(ValueError, match="features"):
        clf.kneighbors(Q_wide)
    # still in step: a good query works afterwards
    assert clf.predict(local("even", Q)).shape[0] == local("even", Q).shape[0]


def test_too_many_neighbours_and_sort_without_distance():
    X, _, Q, _ = _dataset("iris")
    nn = SPMDNearestNeighbors().fit(local("uneven", X))
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        nn.kneighbors(local("even", Q), n_neighbors=len(X) + 1)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        nn.kneighbors(None, n_neighbors=len(X))
    with pytest.raises(ValueError, match="Expected n_neighbors > 0"):
        nn.kneighbors(local("even", Q), n_neighbors=0)
    with pytest.raises(ValueError, match="return_distance must be True"):
        nn.radius_neighbors(local("even", Q), return_distance=False, sort_results=True)
    with pytest.raises(ValueError, match="Unsupported mode"):
        nn.radius_neighbors_graph(local("even", Q), mode="weights")


def test_sparse_input_is_rejected():
    X, _, _, _ = _dataset("iris")
    with pytest.raises(TypeError, match="[Ss]parse"):
        SPMDNearestNeighbors().fit(sp.csr_matrix(local("even", X)))


def test_queries_need_the_communicator_of_fit():
    from mpi4py import MPI

    if SIZE == 1:
        pytest.skip("needs two ranks")
    X, _, Q, _ = _dataset("iris")
    nn = SPMDNearestNeighbors().fit(local("even", X))
    with comm_context(MPI.COMM_SELF):
        with pytest.raises(ValueError, match="communicator of fit"):
            nn.kneighbors(Q)
