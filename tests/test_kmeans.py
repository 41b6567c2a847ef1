"""SPMDKMeans against sklearn's KMeans fitted on the whole data."""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import (
    SPLITS,
    WORLD,
    assert_replicated,
    assert_same_fit,
    local,
    mapped_or_read_only,
)
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning

from skspmd.cluster import SPMDKMeans

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
LAST = SIZE - 1


pytestmark = pytest.mark.usefixtures("one_thread_under_mpi")


def _blobs(n=300, d=4, k=5, seed=0, std=1.0):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=std, random_state=seed)
    return X


def _data(name):
    if name == "iris":
        return load_iris().data
    if name == "digits":
        return load_digits().data[:600]
    return _blobs()


def _check(ours, ref, X_local, rtol=1e-10, atol=1e-9):
    """Same model as sklearn, replicated, and this rank's labels are sklearn's."""
    assert_replicated(ours)
    assert_same_fit(ours, ref, rtol=rtol, atol=atol)
    start = WORLD.exscan(X_local.shape[0]) or 0
    np.testing.assert_array_equal(ours.labels_, ref.labels_[start : start + X_local.shape[0]])
    assert ours.labels_.dtype == ref.labels_.dtype


def test_params_are_sklearns():
    assert SPMDKMeans().get_params().keys() == KMeans().get_params().keys()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "name, init",
    [("blobs", "k-means++"), ("blobs", "random"), ("iris", "random"), ("digits", "k-means++")],
)
def test_matches_sklearn(split, name, init):
    X = _data(name)
    k = 10 if name == "digits" else 5
    params = dict(n_clusters=k, init=init, n_init=2, random_state=3)
    ref = KMeans(**params).fit(X)
    X_local = local(split, X)
    ours = SPMDKMeans(**params).fit(X_local)
    _check(ours, ref, X_local)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_sample_weight(split, init):
    X = load_iris().data
    w = np.random.default_rng(1).integers(0, 4, X.shape[0]).astype(float)
    w[:20] = 0  # rank 0's first rows carry no weight
    params = dict(n_clusters=4, init=init, n_init=3, random_state=0)
    ref = KMeans(**params).fit(X, sample_weight=w)
    X_local, w_local = local(split, X, w)
    ours = SPMDKMeans(**params).fit(X_local, sample_weight=w_local)
    _check(ours, ref, X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_n_init_seeds_and_random_state_instance(split):
    X = _blobs(n=240, d=3, k=6, std=2.5, seed=4)
    X_local = local(split, X)
    ref = KMeans(6, n_init=5, random_state=np.random.RandomState(7)).fit(X)
    ours = SPMDKMeans(6, n_init=5, random_state=np.random.RandomState(7)).fit(X_local)
    _check(ours, ref, X_local)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("max_iter, tol", [(2, 0.0), (300, 1e-2), (300, 0.0)])
def test_stopping_rules(split, max_iter, tol):
    # max_iter=2 stops before convergence (labels recomputed for the final
    # centers); a large tol stops on the center shift; tol=0 on strict convergence
    X = _blobs(n=400, d=5, k=8, std=3.0, seed=2)
    params = dict(n_clusters=8, max_iter=max_iter, tol=tol, random_state=1)
    ref = KMeans(**params).fit(X)
    X_local = local(split, X)
    ours = SPMDKMeans(**params).fit(X_local)
    _check(ours, ref, X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_array_init_and_empty_cluster_relocation(split):
    # two initial centers far from every point: both clusters are empty after
    # the first assignment and are moved to the two farthest points
    X = _blobs(n=200, d=3, k=3, seed=5)
    init = np.vstack([X[[0, 50, 120]], np.full((2, 3), 1e3), [[-1e3, 0, 0]]])
    ref = KMeans(6, init=init, n_init=1).fit(X)
    X_local = local(split, X)
    ours = SPMDKMeans(6, init=init, n_init=1).fit(X_local)
    _check(ours, ref, X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_sparse_input(split):
    rng = np.random.default_rng(0)
    X = sp.random(200, 12, density=0.3, format="csr", random_state=0, data_rvs=rng.random)
    params = dict(n_clusters=4, n_init=2, random_state=0)
    ref = KMeans(**params).fit(X)
    X_local = local(split, X)
    ours = SPMDKMeans(**params).fit(X_local)
    _check(ours, ref, X_local)


@pytest.mark.parametrize("split", SPLITS)
def test_float32(split):
    X = _blobs(n=300, d=4, k=4, std=0.5, seed=8).astype(np.float32)
    ref = KMeans(4, random_state=0).fit(X)
    X_local = local(split, X)
    ours = SPMDKMeans(4, random_state=0).fit(X_local)
    assert ours.cluster_centers_.dtype == np.float32
    _check(ours, ref, X_local, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("kind", ["dense", "sparse", "float32"])
def test_numpy_kernels_match_sklearn(split, kind, monkeypatch):
    """Without scikit-learn's compiled E-step the NumPy/BLAS kernels give the same fit."""
    from skspmd.cluster import _kmeans_kernels

    monkeypatch.setattr(_kmeans_kernels, "lloyd_iter_chunked_dense", None)
    monkeypatch.setattr(_kmeans_kernels, "lloyd_iter_chunked_sparse", None)
    X = _blobs(n=300, d=4, k=4, std=2.0, seed=9)
    if kind == "sparse":
        X = sp.random(200, 12, density=0.3, format="csr", random_state=0)
    elif kind == "float32":
        X = X.astype(np.float32)
    params = dict(n_clusters=4, n_init=2, random_state=0)
    ref = KMeans(**params).fit(X)
    X_local = local(split, X)
    ours = SPMDKMeans(**params).fit(X_local)
    tol = dict(rtol=1e-5, atol=1e-4) if kind == "float32" else {}
    _check(ours, ref, X_local, **tol)
    start = WORLD.exscan(X_local.shape[0]) or 0
    expected = ref.predict(X)[start : start + X_local.shape[0]]
    np.testing.assert_array_equal(ours.predict(X_local), expected)


def test_e_step_threads_follow_the_rank_setting(monkeypatch):
    """The compiled E-step gets this rank's thread count (set_num_threads), not all cores."""
    import skspmd
    from skspmd.cluster import _kmeans_kernels

    seen = []
    kernel = _kmeans_kernels.lloyd_iter_chunked_dense

    def spy(*args, **kwargs):
        seen.append(kwargs["n_threads"])
        return kernel(*args, **kwargs)

    monkeypatch.setattr(_kmeans_kernels, "lloyd_iter_chunked_dense", spy)
    X = _blobs(n=120, d=3, k=3, seed=2)
    try:
        skspmd.set_num_threads(1)
        SPMDKMeans(3, n_init=1, random_state=0).fit(local("even", X))
    finally:
        skspmd.set_num_threads(None)
    assert seen and set(seen) == {1}


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_elkan_runs_lloyd(algorithm):
    X = _blobs(n=300, d=4, k=5, seed=6)
    X_local = local("uneven", X)
    ours = SPMDKMeans(5, algorithm=algorithm, random_state=0).fit(X_local)
    ref = KMeans(5, algorithm="lloyd", random_state=0).fit(X)
    _check(ours, ref, X_local)
    elkan = KMeans(5, algorithm="elkan", random_state=0).fit(X)
    np.testing.assert_allclose(ours.cluster_centers_, elkan.cluster_centers_, rtol=1e-10)


@pytest.mark.parametrize("split", SPLITS)
def test_predict_transform_local_score_global(split):
    X = load_iris().data
    X_test = X[::3] + 0.05
    w = np.linspace(0.5, 2.0, X_test.shape[0])
    ref = KMeans(3, random_state=0).fit(X)
    ours = SPMDKMeans(3, random_state=0).fit(local(split, X))
    Xt_local, w_local = local(split, X_test, w)
    start = WORLD.exscan(Xt_local.shape[0]) or 0
    rows = slice(start, start + Xt_local.shape[0])
    np.testing.assert_array_equal(ours.predict(Xt_local), ref.predict(X_test)[rows])
    np.testing.assert_allclose(ours.transform(Xt_local), ref.transform(X_test)[rows])
    score = ours.score(Xt_local, sample_weight=w_local)
    np.testing.assert_allclose(score, ref.score(X_test, sample_weight=w), rtol=1e-12)
    assert len(set(WORLD.allgather(score))) == 1
    np.testing.assert_array_equal(
        SPMDKMeans(3, random_state=0).fit_predict(local(split, X)), ours.labels_
    )


def test_copy_x_false_restores_data():
    X_local = local("uneven", load_iris().data).copy()
    before = X_local.copy()
    SPMDKMeans(3, random_state=0, copy_x=False).fit(X_local)
    np.testing.assert_allclose(X_local, before, rtol=0, atol=1e-12)


MAPPED_CASES = {
    "k-means++": (_blobs(n=300, d=4, k=5) + 50.0, dict(n_clusters=5, n_init=2, random_state=3)),
    "random": (load_iris().data, dict(n_clusters=4, init="random", n_init=3, random_state=0)),
    "float32": (
        _blobs(n=300, d=4, k=4, std=0.5, seed=8).astype(np.float32),
        dict(n_clusters=4, random_state=0),
    ),
    "max_iter=2": (
        _blobs(n=400, d=5, k=8, std=3.0, seed=2),
        dict(n_clusters=8, max_iter=2, tol=0.0, random_state=1),
    ),
    "relocation": (
        _blobs(n=200, d=3, k=3, seed=5),
        dict(n_clusters=6, n_init=1, init="relocation"),
    ),
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("case", sorted(MAPPED_CASES))
@pytest.mark.parametrize("how", ["mmap", "read-only, copy_x=False", "mmap, numpy kernels"])
def test_mapped_or_read_only_input_is_centred_by_blocks(
    shared_tmp_path, split, case, how, monkeypatch
):
    """A memory-mapped (or read-only with copy_x=False) X: sklearn's fit, X untouched, no copy."""
    from skspmd._rows import CentredRows
    from skspmd.cluster import _kmeans_kernels

    X, params = MAPPED_CASES[case]
    params = dict(params)
    if params.get("init") == "relocation":  # two clusters empty after the first step
        params["init"] = np.vstack([X[[0, 50, 120]], np.full((2, 3), 1e3), [[-1e3, 0, 0]]])
    weights = np.random.default_rng(1).integers(1, 4, X.shape[0]).astype(float)
    ref = KMeans(**params).fit(X, sample_weight=weights)
    X_local, w_local = local(split, X, weights)
    X_local = mapped_or_read_only(X, X_local, how, os.path.join(shared_tmp_path, f"{case}.npy"))
    if "mmap" not in how:
        params["copy_x"] = False
    if "numpy" in how:
        monkeypatch.setattr(_kmeans_kernels, "lloyd_iter_chunked_dense", None)
    before = np.array(X_local)
    seen = []
    init = CentredRows.__init__
    monkeypatch.setattr(  # small chunks: several per rank
        CentredRows, "chunk_rows", lambda rows: seen.append(1) or 256
    )
    monkeypatch.setattr(
        CentredRows,
        "__init__",
        lambda rows, *args: seen.append(0) or init(rows, *args),
    )
    ours = SPMDKMeans(**params).fit(X_local, sample_weight=w_local)
    tol = dict(rtol=1e-5, atol=1e-4) if X.dtype == np.float32 else {}
    _check(ours, ref, X_local, **tol)
    np.testing.assert_array_equal(X_local, before)
    assert 0 in seen  # the centred-by-blocks path ran


def test_random_state_none_is_replicated():
    X_local = local("even", _blobs())
    ours = SPMDKMeans(5, random_state=None, n_init=2).fit(X_local)
    assert_replicated(ours)


def test_duplicate_points_warn_on_every_rank():
    X = np.repeat(np.eye(3), 10, axis=0)
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        SPMDKMeans(4, random_state=0).fit(local("uneven", X))


# ---------------------------------------------------------------------------
# Bad input: the same error on every rank
# ---------------------------------------------------------------------------


def test_more_clusters_than_global_rows():
    X_local = np.ones((2, 3)) * RANK
    with pytest.raises(ValueError, match=f"n_samples={2 * SIZE} should be >= n_clusters"):
        SPMDKMeans(2 * SIZE + 1).fit(X_local)


def test_nan_on_one_rank():
    X_local = _blobs(n=20 * SIZE)[20 * RANK : 20 * RANK + 20].copy()
    if RANK == LAST:
        X_local[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN") as err:
        SPMDKMeans(3).fit(X_local)
    if SIZE > 1:
        assert f"rank {LAST}" in str(err.value)


def test_negative_weight_on_one_rank():
    X_local = _blobs(n=20 * SIZE)[20 * RANK : 20 * RANK + 20]
    w = np.ones(20)
    if RANK == LAST:
        w[0] = -1
    with pytest.raises(ValueError, match="Negative values"):
        SPMDKMeans(3).fit(X_local, sample_weight=w)


def test_all_zero_weights():
    X_local = _blobs(n=20 * SIZE)[20 * RANK : 20 * RANK + 20]
    with pytest.raises(ValueError, match="at least one non-zero"):
        SPMDKMeans(3).fit(X_local, sample_weight=np.zeros(20))


def test_zero_weights_on_some_ranks_only_are_fine():
    X = _blobs(n=90)
    w = np.zeros(90)
    w[-30:] = 1.0  # only the last rows (last rank) carry weight
    ref = KMeans(3, random_state=0).fit(X, sample_weight=w)
    X_local, w_local = local("even", X, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = SPMDKMeans(3, random_state=0).fit(X_local, sample_weight=w_local)
    _check(ours, ref, X_local)


def test_callable_init_rejected():
    with pytest.raises(TypeError, match="callable init"):
        SPMDKMeans(2, init=lambda X, k, random_state: X[:k]).fit(_blobs(n=10))


@pytest.mark.parametrize("split", SPLITS)
def test_verbose_prints_sklearns_inertia_per_iteration(split, capsys):
    """Verbose mode: rank 0 prints the global inertia of every iteration, as sklearn does."""
    import re

    X = _blobs(n=300, d=3, k=4, std=2.5, seed=4)
    KMeans(4, n_init=1, random_state=0, verbose=1).fit(X)
    expected = [float(v) for v in re.findall(r"inertia ([0-9.e+-]+)\.\n", capsys.readouterr().out)]
    SPMDKMeans(4, n_init=1, random_state=0, verbose=1).fit(local(split, X))
    printed = capsys.readouterr().out
    got = [float(v) for v in re.findall(r"inertia ([0-9.e+-]+)\.\n", printed)]
    if RANK == 0:
        assert len(expected) > 1
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    else:
        assert got == []


# ---------------------------------------------------------------------------
# The local kernels and the merged buffer, in one process
# ---------------------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.parametrize("sparse", [False, True])
def test_local_kernels_against_brute_force(sparse, monkeypatch):
    from sklearn.metrics.pairwise import euclidean_distances
    from sklearn.utils.extmath import row_norms

    from skspmd.cluster import _kmeans_kernels as kern

    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 5))
    centers = rng.standard_normal((4, 5))
    w = rng.random(700)
    if sparse:
        X = sp.csr_matrix(np.where(X > 0.3, X, 0.0))
    dense = X.toarray() if sparse else X
    brute = ((dense[:, None, :] - centers[None]) ** 2).sum(axis=2)
    expected = brute.argmin(axis=1)
    np.testing.assert_array_equal(kern.assign(X, centers, 256), expected)
    monkeypatch.setattr(kern, "lloyd_iter_chunked_dense", None)
    monkeypatch.setattr(kern, "lloyd_iter_chunked_sparse", None)
    np.testing.assert_array_equal(kern.assign(X, centers, 256), expected)
    np.testing.assert_allclose(
        kern.distances_to_assigned(X, centers, expected.astype(np.int32), 256),
        brute.min(axis=1),
        atol=1e-12,
    )
    # per-cluster sums: moving rows from one labeling to another
    old = rng.integers(0, 4, 700)
    sums = np.vstack([w[old == j] @ dense[old == j] for j in range(4)])
    idx = np.flatnonzero(old != expected)
    kern.moved_sums(X, w, idx, old[idx], expected[idx], 4, sums)
    after = [w[expected == j] @ dense[expected == j] for j in range(4)]
    np.testing.assert_allclose(sums, after, atol=1e-10)
    # k-means++ candidate distances: sklearn's squared euclidean distances
    got = kern.candidate_distances(X, row_norms(X, squared=True), dense[[3, 9]], 256)
    np.testing.assert_allclose(
        got, euclidean_distances(dense[[3, 9]], X, squared=True), atol=1e-12
    )


@pytest.mark.serial
def test_step_stats_pack_unpack():
    from skspmd.cluster._lloyd import StepStats

    sums = np.arange(12.0).reshape(4, 3)
    stats = StepStats(sums, np.array([1.0, 2.0, 0.0, 4.0]), 2.5, 7)
    back = StepStats.unpack(stats.pack(), 4, 3)
    np.testing.assert_array_equal(back.sums, sums)
    np.testing.assert_array_equal(back.weights, stats.weights)
    assert (back.inertia, back.n_changed) == (2.5, 7)
