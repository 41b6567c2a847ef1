"""The expansion-filtered radius search (euclidean, float64) behind SPMDDBSCAN.

The compiled kernel keeps the pairs whose expanded squared distance is within
eps**2 up to a rounding margin; pairs inside the margin are decided by
scikit-learn's own search. These tests aim at that margin: rows at exactly
eps of each other, distances that round either way, large coordinates (a
wide margin, many pairs decided by scikit-learn), for every algorithm, and
compare with scikit-learn's DBSCAN and NearestNeighbors on all rows.
"""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, bounds, local
from sklearn.cluster import DBSCAN
from sklearn.datasets import load_iris, load_wine, make_blobs, make_moons
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from test_dbscan import check_same

from skspmd import SPMDDBSCAN, SPMDNearestNeighbors, _kernels
from skspmd.neighbors._expansion import margin

ALGORITHMS = ["brute", "kd_tree", "ball_tree", "auto"]


@pytest.fixture(autouse=True)
def one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _grid():
    """Integer grid rows with duplicates: many pairs at exactly eps = 1 or sqrt(2)."""
    g = np.array([[i, j] for i in range(7) for j in range(6) if (i * j) % 5 != 3], float)
    return np.vstack([g, g[::4], [[20.0, 20.0], [21.0, 20.0]]])


def _tenths():
    """Multiples of 0.1: distances of 0.3 that round above or below 0.3."""
    rng = np.random.RandomState(3)
    return np.round(rng.uniform(0, 1.5, size=(300, 3)), 1)


def _far():
    """Blobs far from the origin: the margin is wide, many pairs go to scikit-learn."""
    X, _ = make_blobs(300, n_features=4, centers=3, cluster_std=0.5, random_state=1)
    return np.round(X, 2) + 1e4


DATA = {
    "grid": (_grid, [(1.0, 3), (1.0, 5), (np.sqrt(2.0), 6), (2.0, 8)]),
    "tenths": (_tenths, [(0.3, 4), (0.2, 3)]),
    "far": (_far, [(0.5, 5), (0.8, 10)]),
    "iris": (lambda: load_iris().data, [(0.5, 10), (0.3, 3)]),
    "wine": (lambda: StandardScaler().fit_transform(load_wine().data), [(2.0, 4)]),
    "moons": (lambda: make_moons(300, noise=0.06, random_state=0)[0], [(0.12, 5)]),
}
CASES = [(name, eps, m) for name, (_, params) in DATA.items() for eps, m in params]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name, eps, min_samples", CASES)
def test_labels_match_sklearn_at_the_margin(name, eps, min_samples, algorithm, split):
    X = DATA[name][0]()
    params = dict(eps=eps, min_samples=min_samples, algorithm=algorithm)
    ref = DBSCAN(**params).fit(X)
    check_same(SPMDDBSCAN(**params).fit(local(split, X)), ref, X, split)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_weights_zero_and_negative(algorithm, split):
    X = _grid()
    w = np.random.RandomState(0).choice([-1.0, 0.0, 0.5, 1.0, 2.0], size=len(X))
    params = dict(eps=1.0, min_samples=3, algorithm=algorithm)
    ref = DBSCAN(**params).fit(X, sample_weight=w)
    X_local, w_local = local(split, X, w)
    check_same(SPMDDBSCAN(**params).fit(X_local, sample_weight=w_local), ref, X, split)


@pytest.mark.parametrize("split", SPLITS)
def test_float32_rows_keep_the_sklearn_search(split):
    X = _tenths().astype(np.float32)
    ref = DBSCAN(eps=0.3, min_samples=4).fit(X)
    check_same(SPMDDBSCAN(eps=0.3, min_samples=4).fit(local(split, X)), ref, X, split)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_radius_neighbors_without_distances(algorithm, split):
    X = _grid()
    start, stop = bounds(len(X), split)
    ref = NearestNeighbors(radius=1.0, algorithm=algorithm).fit(X)
    ours = SPMDNearestNeighbors(radius=1.0, algorithm=algorithm).fit(local(split, X))
    got = ours.radius_neighbors(X[start:stop], return_distance=False)
    graph = ours.radius_neighbors_graph(X[start:stop]).toarray()
    if start == stop:  # a rank without query rows still takes part
        assert len(got) == 0 and graph.shape == (0, len(X))
        return
    want = ref.radius_neighbors(X[start:stop], return_distance=False)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, np.sort(w))
    np.testing.assert_array_equal(graph, ref.radius_neighbors_graph(X[start:stop]).toarray())


@pytest.mark.serial
@pytest.mark.skipif(not _kernels.compiled_neighbours(), reason="the compiled kernels did not build")
@pytest.mark.parametrize("n_features", [1, 3, 10, 17])
@pytest.mark.parametrize("n_rows", [0, 1, 5, 37, 600])
def test_compiled_candidates_equal_numpy(n_rows, n_features):
    rng = np.random.RandomState(n_rows + n_features)
    X = rng.normal(size=(n_rows, n_features))
    Y = np.vstack([rng.normal(size=(531, n_features)), X[:3]])
    xn, yn = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
    r2, tau = 0.4 * n_features, margin(n_features)
    compiled = _kernels.radius_candidates(X, Y, xn, yn, r2, tau)
    numpy = _kernels.radius_candidates(X, Y, xn, yn, r2, tau, use_compiled=False, block=7)
    for a, b in zip(compiled, numpy):
        assert a.shape == b.shape
    for a, b in zip(compiled, numpy):
        np.testing.assert_array_equal(a, b)
    # a superset of the pairs within the radius, in increasing column order per row
    exact = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=2)
    rows = np.repeat(np.arange(n_rows), compiled[0])
    found = np.zeros(exact.shape, bool)
    found[rows, compiled[1]] = True
    assert np.all(found[exact <= r2])
    sure = np.zeros(exact.shape, bool)
    sure[rows[~compiled[2]], compiled[1][~compiled[2]]] = True
    assert np.all(exact[sure] <= r2)
    assert np.all(np.diff(compiled[1])[np.diff(rows) == 0] > 0)


@pytest.mark.parametrize("split", SPLITS)
def test_cluster_spanning_all_ranks_many_rows(split):
    X, _ = make_blobs(3000, n_features=5, centers=2, cluster_std=1.0, random_state=0)
    ref = DBSCAN(eps=0.9, min_samples=8, algorithm="brute").fit(X)
    ours = SPMDDBSCAN(eps=0.9, min_samples=8, algorithm="brute").fit(local(split, X))
    check_same(ours, ref, X, split)
    if split == "even":
        assert all(WORLD.allgather(bool(np.any(ours.labels_ == 0))))
