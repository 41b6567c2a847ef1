"""SPMDDBSCAN against sklearn's DBSCAN fitted on all rows.

Every rank's labels, core rows (local indices) and components must be
sklearn's for its rows, including sklearn's cluster numbering and the
cluster a border row shared by two clusters joins.
"""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, assert_replicated, bounds, local
from sklearn.cluster import DBSCAN
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs, make_moons
from sklearn.preprocessing import StandardScaler

from skspmd import SPMDDBSCAN

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
BAD = SIZE - 1


@pytest.fixture(autouse=True)
def one_thread():
    """Small searches: OpenMP and BLAS threads only cost time on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def check_same(ours, ref, X, split):
    """This rank's attributes are sklearn's attributes of its rows."""
    start, stop = bounds(len(X), split)
    np.testing.assert_array_equal(ours.labels_, ref.labels_[start:stop])
    assert ours.labels_.dtype == ref.labels_.dtype
    core = ref.core_sample_indices_
    mine = core[(core >= start) & (core < stop)] - start
    np.testing.assert_array_equal(ours.core_sample_indices_, mine)
    assert ours.components_.dtype == ref.components_.dtype
    np.testing.assert_array_equal(ours.components_, X[start:stop][mine])
    assert_replicated(ours, exclude=("labels_", "core_sample_indices_", "components_"))


def _data(name):
    if name == "iris":
        return load_iris().data
    if name == "digits":
        return load_digits().data[:500]
    if name == "wine":
        return StandardScaler().fit_transform(load_wine().data)
    if name == "moons":
        return make_moons(300, noise=0.06, random_state=0)[0]
    return make_blobs(400, n_features=3, centers=5, cluster_std=0.6, random_state=2)[0]


CASES = [
    ("iris", 0.3, 3),
    ("iris", 0.5, 10),
    ("iris", 0.8, 5),
    ("digits", 20.0, 4),
    ("wine", 2.0, 4),
    ("moons", 0.12, 5),
    ("blobs", 0.6, 6),
]


def test_params_are_sklearns():
    assert SPMDDBSCAN().get_params().keys() == DBSCAN().get_params().keys()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name, eps, min_samples", CASES)
@pytest.mark.parametrize("algorithm", ["auto", "brute"])
def test_matches_sklearn(name, eps, min_samples, split, algorithm):
    X = _data(name)
    params = dict(eps=eps, min_samples=min_samples, algorithm=algorithm)
    ref = DBSCAN(**params).fit(X)
    ours = SPMDDBSCAN(**params).fit(local(split, X))
    check_same(ours, ref, X, split)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "metric, p, eps",
    [
        ("manhattan", None, 0.3),
        ("minkowski", 1, 0.3),
        ("minkowski", 2, 0.2),
        ("cosine", None, 0.01),
    ],
)
def test_metrics(metric, p, eps, split):
    X = _data("moons") + 2.0
    ref = DBSCAN(eps=eps, min_samples=5, metric=metric, p=p).fit(X)
    ours = SPMDDBSCAN(eps=eps, min_samples=5, metric=metric, p=p).fit(local(split, X))
    check_same(ours, ref, X, split)


def _bridge(permutation_seed):
    """Two chains of core rows and one non-core row within eps of one core row of each."""
    left = np.column_stack([np.linspace(-1.0, -0.5, 6), np.zeros(6)])
    right = np.column_stack([np.linspace(-0.1, 0.4, 6), np.zeros(6)])
    bridge = np.array([[-0.3, 0.0]])
    noise = np.array([[5.0, 5.0], [-5.0, 5.0]])
    X = np.vstack([left, right, bridge, noise])
    return X[np.random.RandomState(permutation_seed).permutation(len(X))]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("seed", range(6))
def test_border_row_shared_by_two_clusters(seed, split):
    X = _bridge(seed)
    ref = DBSCAN(eps=0.25, min_samples=4).fit(X)
    bridge = int(np.flatnonzero(X[:, 0] == -0.3)[0])
    assert bridge not in ref.core_sample_indices_  # a border row...
    assert set(ref.labels_) == {-1, 0, 1}  # ...between two clusters
    ours = SPMDDBSCAN(eps=0.25, min_samples=4).fit(local(split, X))
    check_same(ours, ref, X, split)


@pytest.mark.parametrize("split", SPLITS)
def test_cluster_spanning_every_rank_and_weights(split):
    X = _data("moons")
    weights = np.random.RandomState(0).randint(0, 4, len(X)).astype(float)
    ref = DBSCAN(eps=0.1, min_samples=8).fit(X, sample_weight=weights)
    X_local, w_local = local(split, X, weights)
    ours = SPMDDBSCAN(eps=0.1, min_samples=8).fit(X_local, sample_weight=w_local)
    check_same(ours, ref, X, split)
    if split == "even":  # the first cluster has rows on every rank
        assert all(WORLD.allgather(bool(np.any(ours.labels_ == 0))))


def test_negative_weights_and_weights_on_some_ranks_only():
    X = _data("blobs")
    weights = np.ones(len(X))
    weights[::7] = -2.0
    ref = DBSCAN(eps=0.6, min_samples=6).fit(X, sample_weight=weights)
    X_local, w_local = local("uneven", X, weights)
    ours = SPMDDBSCAN(eps=0.6, min_samples=6).fit(X_local, sample_weight=w_local)
    check_same(ours, ref, X, "uneven")
    # a rank without sample_weight weighs its rows 1
    X_local, w_local = local("even", X, weights)
    w_local = None if RANK == 0 else w_local
    weights_seen = np.concatenate(
        WORLD.allgather(np.ones(len(X_local)) if w_local is None else w_local)
    )
    ref = DBSCAN(eps=0.6, min_samples=6).fit(X, sample_weight=weights_seen)
    check_same(
        SPMDDBSCAN(eps=0.6, min_samples=6).fit(X_local, sample_weight=w_local), ref, X, "even"
    )


@pytest.mark.parametrize("split", SPLITS)
def test_a_rank_of_isolated_rows(split):
    # the last rows (the last rank's with the "even" split) have no neighbours within eps
    X = _data("blobs")
    isolated = 100.0 + 10.0 * np.arange(len(X))[:, None] * np.ones((1, 3))
    X = np.vstack([X, isolated])
    ref = DBSCAN(eps=0.6, min_samples=3).fit(X)
    ours = SPMDDBSCAN(eps=0.6, min_samples=3).fit(local(split, X))
    check_same(ours, ref, X, split)
    if split == "even" and SIZE > 1 and RANK == SIZE - 1:
        assert np.all(ours.labels_ == -1) and len(ours.core_sample_indices_) == 0


def test_no_core_rows_anywhere_and_int_data():
    X = np.arange(40, dtype=np.int64).reshape(20, 2) * 10
    ref = DBSCAN(eps=1.0, min_samples=2).fit(X)
    ours = SPMDDBSCAN(eps=1.0, min_samples=2).fit(local("uneven", X))
    check_same(ours, ref, X, "uneven")
    assert ours.components_.shape == (0, 2)
    Xc = np.repeat(X, 2, axis=0)
    ref = DBSCAN(eps=1.0, min_samples=2).fit(Xc)
    check_same(SPMDDBSCAN(eps=1.0, min_samples=2).fit(local("even", Xc)), ref, Xc, "even")


def test_fit_predict_is_local_labels():
    X = _data("blobs")
    ref = DBSCAN(eps=0.6, min_samples=6).fit_predict(X)
    labels = SPMDDBSCAN(eps=0.6, min_samples=6).fit_predict(local("uneven", X))
    np.testing.assert_array_equal(labels, local("uneven", ref))


# -- errors: the same on every rank ------------------------------------------


@pytest.mark.parametrize("metric", ["precomputed", "chebyshev", lambda a, b: 0.0])
def test_unsupported_metric_raises_everywhere(metric):
    with pytest.raises(ValueError, match="no distributed"):
        SPMDDBSCAN(metric=metric).fit(local("even", _data("blobs")))


def test_bad_weights_on_one_rank_raise_everywhere():
    X_local = local("even", _data("blobs"))
    w = np.ones(len(X_local))
    if RANK == BAD:
        w = w[:-1]
    with pytest.raises(ValueError, match="sample_weight") as err:
        SPMDDBSCAN().fit(X_local, sample_weight=w)
    if SIZE > 1:
        assert f"rank {BAD}" in str(err.value)
    with pytest.raises(ValueError, match="non-zero"):
        SPMDDBSCAN().fit(X_local, sample_weight=np.zeros(len(X_local)))
