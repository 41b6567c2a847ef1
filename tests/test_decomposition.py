"""SPMDPCA and SPMDTruncatedSVD against sklearn fitted on the whole data."""

import os

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, assert_replicated, gather_rows, local, mapped_or_read_only
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, TruncatedSVD

from skspmd.decomposition import SPMDPCA, SPMDTruncatedSVD

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()


pytestmark = pytest.mark.usefixtures("one_blas_thread")

# distinct, well separated variances along random directions, non-zero mean
_rng = np.random.default_rng(0)
X_RANDOM = (
    _rng.standard_normal((90, 8)) * np.linspace(4.0, 0.5, 8)
) @ np.linalg.qr(_rng.standard_normal((8, 8)))[0] + np.arange(8.0)
X_DIGITS = load_digits().data[:400]
X_WIDE = np.random.default_rng(1).standard_normal((24, 40)) * np.linspace(3, 0.2, 40) + 1.0

# sklearn attributes compared; components only where eigenvalues are separated
TOL = {"full": 1e-9, "covariance_eigh": 1e-8, "randomized": 1e-7, "arpack": 1e-8}


def _compare(ours, ref, rtol, n_compare=None):
    """Fitted attributes equal; components compared on the first ``n_compare`` rows."""
    assert ours.n_components_ == ref.n_components_
    k = ref.n_components_ if n_compare is None else min(n_compare, ref.n_components_)
    scale = np.abs(ref.explained_variance_).max()
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        ours.explained_variance_, ref.explained_variance_, rtol=rtol, atol=rtol * scale
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol, atol=rtol
    )
    np.testing.assert_allclose(
        ours.singular_values_,
        ref.singular_values_,
        rtol=rtol,
        atol=rtol * ref.singular_values_.max(),
    )
    np.testing.assert_allclose(
        ours.noise_variance_, ref.noise_variance_, rtol=1e-6, atol=rtol * scale
    )
    np.testing.assert_allclose(ours.components_[:k], ref.components_[:k], atol=100 * rtol)
    assert ours.components_.shape == ref.components_.shape
    assert ours.n_samples_ == ref.n_samples_ and ours.n_features_in_ == ref.n_features_in_


def test_params_are_sklearns():
    assert SPMDPCA().get_params().keys() == PCA().get_params().keys()
    assert SPMDTruncatedSVD().get_params().keys() == TruncatedSVD().get_params().keys()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
@pytest.mark.parametrize("n_components", [None, 3, 0.9, "mle"], ids=str)
def test_pca_random_matches_sklearn(split, solver, n_components):
    params = dict(n_components=n_components, svd_solver=solver, random_state=0)
    if solver in ("randomized", "arpack") and n_components in (0.9, "mle"):
        with pytest.raises(ValueError, match="must be between|cannot be a string"):
            SPMDPCA(**params).fit(local(split, X_RANDOM))
        return
    ref = PCA(**params).fit(X_RANDOM)
    ours = SPMDPCA(**params).fit(local(split, X_RANDOM))
    _compare(ours, ref, TOL[solver])
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
def test_pca_digits_matches_sklearn(split, solver):
    # digits has constant features: compare the components of the 10 leading
    # (separated) eigenvalues; all explained variances are compared
    params = dict(n_components=20, svd_solver=solver, random_state=0)
    ref = PCA(**params).fit(X_DIGITS)
    ours = SPMDPCA(**params).fit(local(split, X_DIGITS))
    _compare(ours, ref, TOL[solver], n_compare=10)
    assert_replicated(ours)


@pytest.mark.parametrize("split", ["uneven", "empty"])
@pytest.mark.parametrize("n_components", [0.8, "mle"], ids=str)
def test_pca_digits_choice_of_components(split, n_components):
    ref = PCA(n_components=n_components, svd_solver="full").fit(X_DIGITS)
    ours = SPMDPCA(n_components=n_components, svd_solver="full").fit(local(split, X_DIGITS))
    assert ours.n_components_ == ref.n_components_
    np.testing.assert_allclose(
        ours.explained_variance_, ref.explained_variance_, rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("split", SPLITS)
def test_pca_randomized_near_full_answer(split):
    # a different row order of the arithmetic than sklearn's randomized solver:
    # on a well separated spectrum it must still find the exact leading components
    ref = PCA(n_components=3, svd_solver="full").fit(X_DIGITS)
    ours = SPMDPCA(n_components=3, svd_solver="randomized", random_state=3).fit(
        local(split, X_DIGITS)
    )
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-5)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
def test_pca_wide_matches_sklearn(split, solver):
    # 24 global rows < 40 features; with 3 ranks every rank has fewer rows than features
    params = dict(n_components=5, svd_solver=solver, random_state=0)
    ref = PCA(**params).fit(X_WIDE)
    ours = SPMDPCA(**params).fit(local(split, X_WIDE))
    _compare(ours, ref, TOL[solver])
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_pca_full_is_accurate_for_tiny_singular_values(split):
    # singular values of the centred data span 1e0 .. 1e-7
    rng = np.random.default_rng(7)
    n, d = 120, 8
    A = rng.standard_normal((n, d))
    A -= A.mean(axis=0)
    U, _ = np.linalg.qr(A)  # orthonormal columns orthogonal to the ones vector
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.logspace(0, -7, d)
    X = (U * s) @ V.T + rng.standard_normal(d)
    ref = PCA(svd_solver="full").fit(X)
    ours = SPMDPCA(svd_solver="full").fit(local(split, X))
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(ours.singular_values_, s, rtol=1e-6)


@pytest.mark.parametrize("n, d, n_components, expected", [
    (2000, 10, None, "covariance_eigh"),
    (60, 80, None, "full"),
    (60, 600, 5, "randomized"),
    (60, 600, 50, "full"),
])
def test_pca_auto_solver_as_sklearn(n, d, n_components, expected):
    X = np.random.default_rng(8).standard_normal((n, d))
    ref = PCA(n_components=n_components, random_state=0).fit(X)
    ours = SPMDPCA(n_components=n_components, random_state=0).fit(local("uneven", X))
    assert ref._fit_svd_solver == expected
    assert ours._fit_svd_solver == expected
    np.testing.assert_allclose(ours.explained_variance_[:3], ref.explained_variance_[:3], rtol=1e-7)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_local_methods_and_global_score(split, whiten):
    params = dict(n_components=4, whiten=whiten, svd_solver="full")
    ref = PCA(**params).fit(X_RANDOM)
    X_local = local(split, X_RANDOM)
    est = SPMDPCA(**params)
    Xt_local = est.fit_transform(X_local)
    Xt = gather_rows(Xt_local)
    np.testing.assert_allclose(Xt, ref.transform(X_RANDOM), atol=1e-10)
    if X_local.shape[0]:
        np.testing.assert_allclose(est.transform(X_local), Xt_local, atol=1e-12)
        np.testing.assert_allclose(
            est.inverse_transform(Xt_local), ref.inverse_transform(Xt_local), atol=1e-10
        )
        np.testing.assert_allclose(
            est.score_samples(X_local), ref.score_samples(X_local), rtol=1e-9
        )
    score = est.score(X_local)
    assert score == pytest.approx(ref.score(X_RANDOM), rel=1e-10)
    assert len(set(WORLD.allgather(score))) == 1
    np.testing.assert_allclose(est.get_covariance(), ref.get_covariance(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.get_precision(), ref.get_precision(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
@pytest.mark.parametrize("copy", [True, False])
def test_pca_fit_transform_matches_sklearn(solver, copy):
    params = dict(n_components=3, svd_solver=solver, random_state=0)
    ref = PCA(**params).fit_transform(X_DIGITS)
    X_local = local("uneven", X_DIGITS).copy()
    ours = gather_rows(SPMDPCA(copy=copy, **params).fit_transform(X_local))
    np.testing.assert_allclose(ours, ref, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("solver", ["randomized", "arpack"])
@pytest.mark.parametrize("how", ["mmap", "read-only, copy=False"])
def test_pca_truncated_solvers_centre_a_mapped_x_by_blocks(
    shared_tmp_path, split, solver, how, monkeypatch
):
    """A memory-mapped (or read-only, copy=False) X: sklearn's fit, X neither copied nor changed."""
    from skspmd._rows import CentredRows

    params = dict(n_components=3, svd_solver=solver, random_state=0)
    ref = PCA(**params)
    T_ref = ref.fit_transform(X_DIGITS)
    path = os.path.join(shared_tmp_path, "X.npy")
    X_local = mapped_or_read_only(X_DIGITS, local(split, X_DIGITS), how, path)
    if how != "mmap":
        params["copy"] = False
    seen = []
    monkeypatch.setattr(CentredRows, "chunk_rows", lambda rows: seen.append(1) or 256)
    before = np.array(X_local)
    ours = SPMDPCA(**params)
    T = gather_rows(ours.fit_transform(X_local))
    _compare(ours, ref, TOL[solver])
    np.testing.assert_allclose(T, T_ref, atol=1e-6 * np.abs(T_ref).max())
    np.testing.assert_array_equal(X_local, before)
    assert seen
    assert_replicated(ours)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_pca_float32(solver):
    X = X_RANDOM.astype(np.float32)
    params = dict(n_components=3, svd_solver=solver, random_state=0)
    ref = PCA(**params).fit(X)
    ours = SPMDPCA(**params).fit(local("uneven", X))
    for name in ("components_", "explained_variance_", "singular_values_", "mean_"):
        assert getattr(ours, name).dtype == getattr(ref, name).dtype == np.float32, name
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)
    assert_replicated(ours)


def test_pca_large_mean_covariance_eigh():
    # mean 1e9, unit-scale variances: the centred Gram keeps them
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 4)) * [3.0, 2.0, 1.0, 0.5] + 1e9
    ours = SPMDPCA(svd_solver="covariance_eigh").fit(local("uneven", X))
    expected = np.linalg.eigvalsh(np.cov((X - X.mean(0)).T))[::-1]
    np.testing.assert_allclose(ours.explained_variance_, expected, rtol=1e-6)


@pytest.mark.parametrize(
    "shift, one_pass",
    [(0.0, True), (1e7, True), (0.0, False)],
    ids=["one-pass", "large-mean-one-pass", "exact-blocks"],
)
def test_pca_covariance_eigh_many_rows(shift, one_pass, monkeypatch):
    # enough rows for several blocks: CrossProducts' one-pass route (Gram about the
    # first block's mean) is kept for a large mean; when its guard refuses (forced
    # here: a first block > 10 std from the mean needs > 100 blocks of rows), the
    # exact per-block route gives the same answer
    from skspmd._stats import CrossProducts

    if not one_pass:
        monkeypatch.setattr(CrossProducts, "_MAX_SHIFT2_OVER_VAR", -np.inf)

    outcomes = []
    shifted = CrossProducts._from_shifted_blocks.__func__

    def spy(cls, *args):
        result = shifted(cls, *args)
        outcomes.append(result is not None)
        return result

    monkeypatch.setattr(CrossProducts, "_from_shifted_blocks", classmethod(spy))
    rng = np.random.default_rng(11)
    X = rng.standard_normal((6000, 300)) * np.linspace(3.0, 1.0, 300) + shift
    ours = SPMDPCA(n_components=5, svd_solver="covariance_eigh").fit(local("uneven", X))
    if RANK == SIZE - 1:
        assert outcomes == [one_pass]
    Xc = X - X.mean(axis=0)
    expected = np.linalg.eigvalsh(Xc.T @ Xc / (X.shape[0] - 1))[::-1][:5]
    np.testing.assert_allclose(ours.explained_variance_, expected, rtol=1e-9)
    if shift == 0.0:
        ref = PCA(n_components=5, svd_solver="covariance_eigh").fit(X)
        _compare(ours, ref, 1e-8)
    assert_replicated(ours)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
def test_pca_nan_on_one_rank_errors_everywhere(solver):
    X = local("even", X_RANDOM).copy()
    if RANK == SIZE - 1:
        X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN") as err:
        SPMDPCA(n_components=2, svd_solver=solver).fit(X)
    if SIZE > 1:
        assert f"rank {SIZE - 1}" in str(err.value)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
def test_pca_too_many_components_errors_everywhere(solver):
    # 24 rows in total: no rank alone can tell that 30 components is too many
    with pytest.raises(ValueError, match="must be between"):
        SPMDPCA(n_components=30, svd_solver=solver).fit(local("uneven", X_WIDE))


def test_pca_rejects_sparse():
    X = sp.csr_matrix(local("even", X_RANDOM))
    with pytest.raises(TypeError, match="sparse"):
        SPMDPCA(n_components=2).fit(X)


# ---------------------------------------------------------------------------
# SPMDTruncatedSVD
# ---------------------------------------------------------------------------


def _compare_tsvd(ours, ref, rtol):
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=rtol)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=rtol)
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol
    )
    np.testing.assert_allclose(ours.components_, ref.components_, atol=100 * rtol)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("X", [X_RANDOM, X_DIGITS, X_WIDE], ids=["random", "digits", "wide"])
def test_truncated_svd_matches_sklearn(split, algorithm, X):
    params = dict(n_components=4, algorithm=algorithm, random_state=0)
    ref_est = TruncatedSVD(**params)
    ref_Xt = ref_est.fit_transform(X)
    ours = SPMDTruncatedSVD(**params)
    Xt_local = ours.fit_transform(local(split, X))
    _compare_tsvd(ours, ref_est, 1e-7)
    np.testing.assert_allclose(gather_rows(Xt_local), ref_Xt, atol=1e-6 * np.abs(ref_Xt).max())
    assert_replicated(ours)


@pytest.mark.parametrize("split", ["uneven", "empty"])
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_truncated_svd_sparse(split, algorithm):
    X = sp.random(80, 30, density=0.2, random_state=3, format="csr")
    params = dict(n_components=3, algorithm=algorithm, random_state=0)
    ref = TruncatedSVD(**params).fit(X)
    ours = SPMDTruncatedSVD(**params).fit(local(split, X))
    _compare_tsvd(ours, ref, 1e-7)
    assert_replicated(ours)


def test_truncated_svd_float32():
    X = X_RANDOM.astype(np.float32)
    ref = TruncatedSVD(3, random_state=0).fit(X)
    ours = SPMDTruncatedSVD(3, random_state=0).fit(local("uneven", X))
    assert ours.components_.dtype == ref.components_.dtype == np.float32
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-4)


@pytest.mark.parametrize("algorithm, n_components, match", [
    ("arpack", 24, "strictly less than"),
    ("randomized", 41, "must be <= n_features"),
])
def test_truncated_svd_too_many_components(algorithm, n_components, match):
    with pytest.raises(ValueError, match=match):
        SPMDTruncatedSVD(n_components, algorithm=algorithm).fit(local("uneven", X_WIDE))


def test_truncated_svd_nan_on_one_rank():
    X = local("even", X_RANDOM).copy()
    if RANK == SIZE - 1:
        X[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SPMDTruncatedSVD(2).fit(X)

