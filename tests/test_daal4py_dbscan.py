"""skspmd.daal4py.dbscan against scikit-learn's DBSCAN on the concatenated rows."""

import os

import numpy as np
import pytest
from helpers import SPLITS, WORLD, bounds, local
from sklearn.cluster import DBSCAN
from sklearn.datasets import make_blobs

import skspmd.daal4py as d4p

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()


def _data():
    return make_blobs(300, n_features=3, centers=4, cluster_std=0.7, random_state=3)[0]


@pytest.mark.parametrize("split", SPLITS)
def test_distributed_matches_sklearn(split):
    X = _data()
    weights = np.random.RandomState(1).randint(1, 3, len(X)).astype(float)
    ref = DBSCAN(eps=0.5, min_samples=6, algorithm="brute").fit(X, sample_weight=weights)
    X_local, w_local = local(split, X, weights)
    algo = d4p.dbscan(
        epsilon=0.5,
        minObservations=6,
        resultsToCompute="computeCoreIndices|computeCoreObservations",
        distributed=True,
    )
    res = algo.compute(X_local, w_local.reshape(-1, 1))
    start, stop = bounds(len(X), split)
    assert res.assignments.shape == (stop - start, 1) and res.assignments.dtype == np.int32
    np.testing.assert_array_equal(res.assignments[:, 0], ref.labels_[start:stop])
    assert res.nClusters.shape == (1, 1) and res.nClusters.dtype == np.int32
    assert res.nClusters[0, 0] == ref.labels_.max() + 1
    core = ref.core_sample_indices_
    mine = core[(core >= start) & (core < stop)] - start
    np.testing.assert_array_equal(res.coreIndices[:, 0], mine)
    np.testing.assert_array_equal(res.coreObservations, X_local[mine])


def test_batch_mode_per_rank_files_and_defaults(shared_tmp_path):
    X = _data()
    X_local = local("uneven", X)
    path = os.path.join(shared_tmp_path, "part{}.csv")
    np.savetxt(path.format(RANK), X_local, delimiter=",")
    WORLD.Barrier()
    res = d4p.dbscan(0.5, 5).compute(path)  # this rank's rows alone
    ref = DBSCAN(eps=0.5, min_samples=5, algorithm="brute").fit(X_local) if len(X_local) else None
    if ref is not None:
        np.testing.assert_array_equal(res.assignments[:, 0], ref.labels_)
    assert res.coreIndices is None and res.coreObservations is None
    res = d4p.dbscan(0.5, 5, distributed=True).compute(path, RANK)
    ref = DBSCAN(eps=0.5, min_samples=5, algorithm="brute").fit(X)
    np.testing.assert_array_equal(res.assignments[:, 0], local("uneven", ref.labels_))


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="epsilon"):
        d4p.dbscan(0.0, 5)
    with pytest.raises(ValueError, match="minObservations"):
        d4p.dbscan(0.5, 0)
    with pytest.raises(d4p.UnsupportedError, match="nBlocks"):
        d4p.dbscan(0.5, 5, nBlocks=2)
    with pytest.raises(ValueError, match="resultsToCompute"):
        d4p.dbscan(0.5, 5, resultsToCompute="computeClassLabels")


def test_bad_weights_on_one_rank_raise_everywhere():
    X_local = local("even", _data())
    w = np.ones((len(X_local), 1))
    if RANK == SIZE - 1:
        w = w[:-1]
    with pytest.raises(ValueError, match="weights"):
        d4p.dbscan(0.5, 5, distributed=True).compute(X_local, w)
