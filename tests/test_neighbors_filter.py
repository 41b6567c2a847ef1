"""The compiled k-nearest filter in front of scikit-learn's ArgKmin (euclidean, float64).

The filter keeps each query row's 4k nearest rows of a block by the expanded
distance; ArgKmin decides among them. Here it runs on every block (its size
threshold lowered) and must give what the search over the whole block gives
(the same rows, the same distances to round-off) and sklearn's neighbours on
all rows: on data with exact ties, duplicates, far-off coordinates (a wide
rounding margin) and queries far from every training row, at sizes 1, 2, 3
with every split.
"""

import numpy as np
import pytest
from helpers import SPLITS, local
from sklearn.datasets import load_digits, make_blobs
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from test_neighbors import QUERY_SPLIT, _dataset, assert_same_neighbours, on_rows

from skspmd import SPMDKNeighborsClassifier, SPMDNearestNeighbors, _kernels
from skspmd.neighbors import _search

pytestmark = pytest.mark.skipif(not _kernels.compiled_neighbours(), reason="no compiled kernels")


@pytest.fixture(autouse=True)
def one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _grid():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 4, size=(400, 3)).astype(float)
    return X[:300], X[300:]


def _far():
    X, _ = make_blobs(500, n_features=5, centers=3, cluster_std=0.3, random_state=3)
    X = np.round(X, 3) + 3e3  # the margin grows with the norms
    return X[:400], X[400:]


def _away():
    """Queries from other blobs than the training rows (as in the benchmark)."""
    X, _ = make_blobs(400, n_features=8, centers=4, random_state=5)
    Q, _ = make_blobs(60, n_features=8, centers=3, random_state=6)
    return X, Q


def _data(name):
    if name in ("grid", "far", "away"):
        return {"grid": _grid, "far": _far, "away": _away}[name]()
    X, _, Q, _ = _dataset(name)
    return X, Q


NAMES = ["grid", "far", "away", "iris", "digits", "wine", "moons", "blobs"]


def _search_with(monkeypatch, threshold, fit_rows, Q, k, **params):
    monkeypatch.setattr(_search, "_FILTER_MIN_ROWS", threshold)
    ours = SPMDNearestNeighbors(n_neighbors=k, algorithm="brute", **params).fit(fit_rows)
    return ours.kneighbors(Q), ours.kneighbors(n_neighbors=k)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("k", [1, 5, 12])
@pytest.mark.parametrize("name", NAMES)
def test_filter_equals_whole_block_and_sklearn(name, k, split, monkeypatch):
    X, Q = _data(name)
    qsplit = QUERY_SPLIT[split]
    Q_local = local(qsplit, Q)
    filtered = _search_with(monkeypatch, 1, local(split, X), Q_local, k)
    whole = _search_with(monkeypatch, 10**12, local(split, X), Q_local, k)
    for a, b in zip(filtered, whole):  # queries, then X=None
        # OpenBLAS may round a dot product's last bit differently in other
        # matrix shapes (the whole block vs the kept rows): round-off only
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13, atol=1e-13)
        np.testing.assert_array_equal(a[1], b[1])
    ref = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X)
    assert_same_neighbours(*filtered[0], *on_rows(ref.kneighbors(Q), qsplit), Q_local, X)


@pytest.mark.parametrize("split", SPLITS)
def test_classifier_through_the_filter(split, monkeypatch):
    monkeypatch.setattr(_search, "_FILTER_MIN_ROWS", 1)
    X, y = load_digits(return_X_y=True)
    X, y, Q = X[:1200], y[:1200], X[1200:]
    qsplit = QUERY_SPLIT[split]
    ref = KNeighborsClassifier(7, algorithm="brute", weights="distance").fit(X, y)
    ours = SPMDKNeighborsClassifier(7, algorithm="brute", weights="distance")
    ours.fit(*local(split, X, y))
    Q_local = local(qsplit, Q)
    np.testing.assert_array_equal(ours.predict(Q_local), on_rows(ref.predict(Q), qsplit))
    np.testing.assert_allclose(
        ours.predict_proba(Q_local), on_rows(ref.predict_proba(Q), qsplit), atol=1e-12
    )


@pytest.mark.serial
@pytest.mark.parametrize("m", [1, 4, 20, 531])
@pytest.mark.parametrize("n_features", [1, 3, 17])
def test_compiled_knn_candidates_equal_numpy(m, n_features):
    rng = np.random.RandomState(m + n_features)
    X = rng.normal(size=(37, n_features))
    Y = np.vstack([rng.normal(size=(528, n_features)), X[:3]])
    xn, yn = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
    values, rows = _kernels.knn_candidates(X, Y, xn, yn, m)
    ref_values, _ = _kernels.knn_candidates(X, Y, xn, yn, m, use_compiled=False, block=5)
    np.testing.assert_allclose(values, ref_values, rtol=1e-12, atol=1e-12)
    exact = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(np.take_along_axis(exact, rows, axis=1), values, atol=1e-10)
    kth = np.sort(exact, axis=1)[:, m - 1 : m]
    assert np.all(np.take_along_axis(exact, rows, axis=1) <= kth + 1e-9)
    assert np.all(np.diff(values, axis=1) >= 0)
    for r in rows:
        assert len(np.unique(r)) == m
