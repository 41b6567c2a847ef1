"""skspmd.cluster.kmeans_plusplus against sklearn's kmeans_plusplus on the whole data."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, bounds, local
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from sklearn.datasets import load_iris, make_blobs
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.extmath import row_norms

import skspmd
from skspmd.cluster import kmeans_plusplus

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
LAST = SIZE - 1

pytestmark = pytest.mark.usefixtures("one_thread_under_mpi")


def _blobs(n=300, d=4, k=6, seed=0, std=1.5):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=std, random_state=seed)
    return X


def _check(got, expected, split, n_rows, X_local):
    """Same centers and indices as sklearn, replicated; indices are global row numbers."""
    centers, indices = got
    ref_centers, ref_indices = expected
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_array_equal(centers, ref_centers)
    assert centers.dtype == ref_centers.dtype
    assert indices.dtype == np.int64
    everyone = WORLD.allgather((centers.tobytes(), indices.tobytes()))
    assert all(other == everyone[0] for other in everyone)
    # the owner of each global index holds that row
    start, stop = bounds(n_rows, split)
    mine = (indices >= start) & (indices < stop)
    rows = X_local[indices[mine] - start]
    rows = rows.toarray() if sp.issparse(rows) else rows
    np.testing.assert_array_equal(rows, centers[mine])


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("n_clusters", [1, 3, 8])
@pytest.mark.parametrize("seed", [0, 7])
def test_matches_sklearn(split, n_clusters, seed):
    X = _blobs()
    X_local = local(split, X)
    got = kmeans_plusplus(X_local, n_clusters, random_state=seed)
    _check(got, sk_kmeans_plusplus(X, n_clusters, random_state=seed), split, len(X), X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_sample_weight(split):
    X = load_iris().data
    w = np.random.default_rng(1).integers(0, 4, X.shape[0]).astype(float)
    w[:30] = 0  # the first rows carry no weight
    X_local, w_local = local(split, X, w)
    got = kmeans_plusplus(X_local, 5, sample_weight=w_local, random_state=2)
    expected = sk_kmeans_plusplus(X, 5, sample_weight=w, random_state=2)
    _check(got, expected, split, len(X), X_local)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("shift", [0.0, 3.0])
def test_x_squared_norms_are_used_as_given(split, shift):
    # sklearn uses the given float64 norms as they are: shifted norms change
    # the distances, and the result must follow them the same way
    X = _blobs(seed=3)
    norms = row_norms(X, squared=True) + shift
    X_local, norms_local = local(split, X, norms)
    got = kmeans_plusplus(X_local, 6, x_squared_norms=norms_local, random_state=0)
    expected = sk_kmeans_plusplus(X, 6, x_squared_norms=norms, random_state=0)
    _check(got, expected, split, len(X), X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_float32(split):
    X = _blobs(seed=4, std=0.5).astype(np.float32)
    X_local = local(split, X)
    norms = row_norms(X_local, squared=True)  # float32 norms: recomputed, as sklearn does
    got = kmeans_plusplus(X_local, 5, x_squared_norms=norms, random_state=1)
    expected = sk_kmeans_plusplus(X, 5, random_state=1)
    assert got[0].dtype == np.float32
    _check(got, expected, split, len(X), X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_sparse_and_n_local_trials(split):
    X = sp.random(200, 10, density=0.4, format="csr", random_state=0)
    X_local = local(split, X)
    got = kmeans_plusplus(X_local, 4, random_state=5, n_local_trials=1)
    expected = sk_kmeans_plusplus(X, 4, random_state=5, n_local_trials=1)
    _check(got, expected, split, X.shape[0], X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_random_state_instance_is_advanced_alike(split):
    X = _blobs(seed=6)
    X_local = local(split, X)
    ours_rs, ref_rs = np.random.RandomState(11), np.random.RandomState(11)
    for _ in range(2):  # the second call starts where the first left the stream
        got = kmeans_plusplus(X_local, 4, random_state=ours_rs)
        _check(got, sk_kmeans_plusplus(X, 4, random_state=ref_rs), split, len(X), X_local)


def test_random_state_none_is_replicated():
    centers, indices = kmeans_plusplus(local("uneven", _blobs()), 5)
    everyone = WORLD.allgather((centers.tobytes(), indices.tobytes()))
    assert all(other == everyone[0] for other in everyone)


def test_exported():
    assert skspmd.kmeans_plusplus is kmeans_plusplus
    assert "kmeans_plusplus" in skspmd.__all__
    assert "kmeans_plusplus" in skspmd.cluster.__all__


# ---------------------------------------------------------------------------
# Bad input: the same error on every rank
# ---------------------------------------------------------------------------


def test_more_clusters_than_global_rows():
    X_local = np.arange(6.0).reshape(2, 3) + RANK
    with pytest.raises(ValueError, match=f"n_samples={2 * SIZE} should be >= n_clusters"):
        kmeans_plusplus(X_local, 2 * SIZE + 1, random_state=0)


def test_nan_on_one_rank():
    X_local = _blobs(n=10 * SIZE)[10 * RANK : 10 * RANK + 10].copy()
    if RANK == LAST:
        X_local[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN") as err:
        kmeans_plusplus(X_local, 3, random_state=0)
    if SIZE > 1:
        assert f"rank {LAST}" in str(err.value)


def test_wrong_norms_length_on_one_rank():
    X_local = _blobs(n=10 * SIZE)[10 * RANK : 10 * RANK + 10]
    norms = row_norms(X_local, squared=True)
    if RANK == LAST:
        norms = norms[:-1]
    with pytest.raises(ValueError, match="length of x_squared_norms"):
        kmeans_plusplus(X_local, 3, x_squared_norms=norms, random_state=0)


def test_negative_and_all_zero_weights():
    X_local = _blobs(n=10 * SIZE)[10 * RANK : 10 * RANK + 10]
    w = np.ones(10)
    if RANK == LAST:
        w[0] = -1
    with pytest.raises(ValueError, match="Negative values"):
        kmeans_plusplus(X_local, 3, sample_weight=w, random_state=0)
    with pytest.raises(ValueError, match="at least one non-zero"):
        kmeans_plusplus(X_local, 3, sample_weight=np.zeros(10), random_state=0)


@pytest.mark.skipif(SIZE == 1, reason="needs two ranks")
def test_different_number_of_features_on_one_rank():
    X_local = np.ones((5, 4 if RANK == LAST else 3))
    with pytest.raises(ValueError, match="different number of features"):
        kmeans_plusplus(X_local, 2, random_state=0)


@pytest.mark.parametrize(
    "params", [dict(n_clusters=0), dict(n_clusters=2, n_local_trials=0)]
)
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        kmeans_plusplus(np.ones((4, 2)), **params)
