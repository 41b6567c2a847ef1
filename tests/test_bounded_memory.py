"""No fit makes a hidden full copy of X: peak traced allocation on a memory-mapped block.

Every rank fits on its block of a shared ``.npy`` file mapped with
``io.read_rows(path, mmap=True)``; the peak of Python/NumPy allocations
(``tracemalloc``) during the fit must stay below 10% of the block's size.
The blocks are large enough (34 MB or more per rank) that the fixed,
cache-sized working buffers of the passes (about 2 MiB) stay well under that.
"""

import os
import tracemalloc

import numpy as np
import pytest
from helpers import WORLD

from skspmd import (
    SPMDPCA,
    SPMDBasicStatistics,
    SPMDElasticNet,
    SPMDEmpiricalCovariance,
    SPMDGaussianNB,
    SPMDIncrementalPCA,
    SPMDKMeans,
    SPMDKNeighborsClassifier,
    SPMDLasso,
    SPMDLinearRegression,
    SPMDLogisticRegression,
    SPMDMultinomialNB,
    SPMDNearestNeighbors,
    SPMDRidge,
    SPMDStandardScaler,
    SPMDTruncatedSVD,
    io,
)
from skspmd._validation import validate_spmd_data

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
pytestmark = pytest.mark.usefixtures("one_blas_thread")
N, D = 200_000, 64  # 102 MB of float64: blocks of 34 MB or more

FITS = {
    "StandardScaler": (SPMDStandardScaler, {}, None),
    "BasicStatistics": (SPMDBasicStatistics, {}, None),
    "EmpiricalCovariance": (SPMDEmpiricalCovariance, {}, None),
    "LinearRegression": (SPMDLinearRegression, {}, "y"),
    "Ridge-cholesky": (SPMDRidge, {}, "y"),
    "Ridge-svd": (SPMDRidge, dict(solver="svd"), "y"),
    "PCA-covariance_eigh": (SPMDPCA, dict(n_components=4, svd_solver="covariance_eigh"), None),
    "PCA-full": (SPMDPCA, dict(n_components=4, svd_solver="full"), None),
    "IncrementalPCA": (SPMDIncrementalPCA, dict(n_components=4, batch_size=1000), None),
    "TruncatedSVD-arpack": (SPMDTruncatedSVD, dict(algorithm="arpack"), None),
    "MultinomialNB": (SPMDMultinomialNB, {}, "labels"),
    "KMeans": (SPMDKMeans, dict(n_clusters=4, n_init=1, max_iter=3, random_state=0), None),
    "KMeans-random": (
        SPMDKMeans,
        dict(n_clusters=4, init="random", n_init=2, max_iter=3, random_state=0),
        None,
    ),
    "PCA-arpack": (SPMDPCA, dict(n_components=4, svd_solver="arpack"), None),
    "Lasso": (SPMDLasso, dict(alpha=1.0, max_iter=5), "y"),
    "ElasticNet": (SPMDElasticNet, dict(alpha=1.0, max_iter=5), "y"),
    "LogisticRegression": (SPMDLogisticRegression, dict(max_iter=5), "binary"),
    "GaussianNB": (SPMDGaussianNB, {}, "labels"),
    "NearestNeighbors": (SPMDNearestNeighbors, {}, None),
    "KNeighborsClassifier": (SPMDKNeighborsClassifier, {}, "labels"),
}
@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """This rank's blocks of X, y and labels in shared .npy files, memory-mapped."""
    folder = WORLD.bcast(str(tmp_path_factory.mktemp("mapped")) if RANK == 0 else None)
    paths = {
        name: os.path.join(folder, f"{name}.npy") for name in ("X", "y", "labels", "binary")
    }
    if RANK == 0:
        X = np.lib.format.open_memmap(paths["X"], mode="w+", dtype=np.float64, shape=(N, D))
        y = np.lib.format.open_memmap(paths["y"], mode="w+", dtype=np.float64, shape=(N,))
        labels = np.lib.format.open_memmap(paths["labels"], mode="w+", dtype=np.int64, shape=(N,))
        binary = np.lib.format.open_memmap(paths["binary"], mode="w+", dtype=np.int64, shape=(N,))
        w = np.random.default_rng(1).standard_normal(D)
        for start in range(0, N, 20_000):
            rng = np.random.default_rng([0, start])
            block = rng.poisson(3.0, (min(20_000, N - start), D)).astype(np.float64)
            X[start : start + block.shape[0]] = block
            y[start : start + block.shape[0]] = block @ w + rng.standard_normal(block.shape[0])
            labels[start : start + block.shape[0]] = block[:, 0].astype(np.int64) % 3
            binary[start : start + block.shape[0]] = block[:, 1] > 3.0
        X.flush(), y.flush(), labels.flush(), binary.flush()
        del X, y, labels, binary
    WORLD.Barrier()
    yield {name: io.read_rows(path, mmap=True) for name, path in paths.items()}
    WORLD.Barrier()


def test_validation_keeps_the_memory_map(mapped):
    X = mapped["X"]
    checked, data = validate_spmd_data(SPMDStandardScaler(), X, dtype=[np.float64, np.float32])
    assert np.shares_memory(checked, X) and data.n_samples == N


@pytest.mark.parametrize("name", sorted(FITS))
def test_fit_on_a_memory_map_makes_no_copy(mapped, name):
    Est, params, target = FITS[name]
    X = mapped["X"]
    assert isinstance(X, np.memmap)
    args = () if target is None else (mapped[target],)
    est = Est(**params)
    tracemalloc.start()
    try:
        est.fit(X, *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the whole job agrees on the verdict (the largest peak against the smallest block)
    worst = max(WORLD.allgather(peak / X.nbytes))
    assert worst < 0.1, f"{name}: peak allocation {worst:.0%} of the block size"
