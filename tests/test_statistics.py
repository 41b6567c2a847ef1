"""SPMDBasicStatistics, SPMDEmpiricalCovariance, SPMDStandardScaler against NumPy/sklearn."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, assert_replicated, assert_same_fit, gather_rows, local
from sklearn.covariance import EmpiricalCovariance
from sklearn.datasets import load_diabetes, load_wine
from sklearn.preprocessing import StandardScaler

from skspmd import SPMDBasicStatistics, SPMDEmpiricalCovariance, SPMDStandardScaler

RNG = np.random.default_rng(42)
X_RANDOM = RNG.standard_normal((61, 7)) * np.arange(1, 8) + np.arange(7) * 3.0
X_WINE = load_wine().data


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("X", [X_RANDOM, X_WINE], ids=["random", "wine"])
def test_basic_statistics_match_numpy(split, X):
    est = SPMDBasicStatistics().fit(local(split, X))
    n = X.shape[0]
    expected = {
        "min_": X.min(0),
        "max_": X.max(0),
        "sum_": X.sum(0),
        "mean_": X.mean(0),
        "sum_squares_": (X**2).sum(0),
        "sum_squares_centered_": ((X - X.mean(0)) ** 2).sum(0),
        "second_order_raw_moment_": (X**2).sum(0) / n,
        "variance_": X.var(0, ddof=1),
        "standard_deviation_": X.std(0, ddof=1),
        "variation_": X.std(0, ddof=1) / X.mean(0),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(est, name), value, rtol=1e-11, err_msg=name)
    assert est.n_samples_seen_ == n
    assert_replicated(est)


def test_basic_statistics_result_options_subset():
    est = SPMDBasicStatistics(result_options=["min", "variance"]).fit(local("uneven", X_RANDOM))
    np.testing.assert_allclose(est.min_, X_RANDOM.min(0))
    np.testing.assert_allclose(est.variance_, X_RANDOM.var(0, ddof=1), rtol=1e-12)
    assert not hasattr(est, "mean_") and not hasattr(est, "max_")
    with pytest.raises(ValueError, match="result_options"):
        SPMDBasicStatistics(result_options=["median"]).fit(X_RANDOM)


def test_variance_between_rank_means_is_kept():
    # rank r's rows have mean r: the between-shard term must not be dropped
    # (daal4py's distributed low_order_moments drops it)
    n = 30000
    base = np.random.default_rng(0).standard_normal((n, 2))
    shift = np.repeat(np.arange(3.0), n // 3)[:, None]
    X = base + shift
    est = SPMDBasicStatistics(result_options=["variance"]).fit(local("even", X))
    np.testing.assert_allclose(est.variance_, X.var(0, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("Est", [SPMDBasicStatistics, SPMDStandardScaler])
def test_large_mean_stability(Est):
    # mean 1e9, std 1: a naive sum-of-squares merge loses every digit
    rng = np.random.default_rng(3)
    X = 1e9 + rng.standard_normal((5000, 2))
    expected = np.var(X - 1e9, axis=0)  # exact-ish: shift first
    est = Est().fit(local("uneven", X))
    got = est.variance_ * (X.shape[0] - 1) / X.shape[0] if Est is SPMDBasicStatistics else est.var_
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    naive = (X**2).sum(0) / X.shape[0] - X.mean(0) ** 2
    assert not np.allclose(naive, expected, rtol=1e-6)  # the test can tell


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("assume_centered", [False, True])
@pytest.mark.parametrize("store_precision", [True, False])
@pytest.mark.parametrize("X", [X_RANDOM, X_WINE], ids=["random", "wine"])
def test_empirical_covariance_matches_sklearn(split, assume_centered, store_precision, X):
    params = dict(assume_centered=assume_centered, store_precision=store_precision)
    ours = SPMDEmpiricalCovariance(**params).fit(local(split, X))
    ref = EmpiricalCovariance(**params).fit(X)
    assert_same_fit(ours, ref, rtol=1e-9, atol=1e-10 * np.abs(ref.covariance_).max())
    np.testing.assert_allclose(ours.correlation_, np.corrcoef(X.T) if not assume_centered
                               else ref.covariance_ / np.sqrt(np.outer(np.diag(ref.covariance_),
                                                                        np.diag(ref.covariance_))),
                               rtol=1e-9, atol=1e-12)
    assert_replicated(ours)
    # score is global: the same on every rank, equal to sklearn's on all rows
    X_test = X[::-1] * 1.1
    s = ours.score(local(split, X_test))
    np.testing.assert_allclose(s, ref.score(X_test), rtol=1e-9)
    assert len(set(WORLD.allgather(s))) == 1
    # mahalanobis is local, and accepts a rank's zero rows
    mine = local(split, X_test)
    expected = ref.mahalanobis(mine) if mine.shape[0] else np.empty(0)
    np.testing.assert_allclose(ours.mahalanobis(mine), expected, rtol=1e-8)


def test_covariance_get_params_match_sklearn():
    assert SPMDEmpiricalCovariance().get_params() == EmpiricalCovariance().get_params()
    assert SPMDStandardScaler().get_params() == StandardScaler().get_params()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler_matches_sklearn(split, with_mean, with_std, weighted):
    X = load_diabetes().data * 10 + 5
    X[:, 3] = 2.5  # a constant feature: scale_ must be 1 like sklearn
    w = np.random.default_rng(1).uniform(0, 2, X.shape[0]) if weighted else None
    X_local, w_local = local(split, X, w)
    ours = SPMDStandardScaler(with_mean=with_mean, with_std=with_std)
    ours.fit(X_local, sample_weight=w_local)
    ref = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X, sample_weight=w)
    assert_same_fit(ours, ref, rtol=1e-10, atol=1e-12)
    assert type(ours.n_samples_seen_) is type(ref.n_samples_seen_)
    np.testing.assert_allclose(ours.transform(X_local), local(split, ref.transform(X)), atol=1e-10)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_standard_scaler_partial_fit_batches(split):
    X = X_RANDOM
    ours, ref = SPMDStandardScaler(), StandardScaler()
    for batch in (X[:20], X[20:45], X[45:]):
        ours.partial_fit(local(split, batch))
        ref.partial_fit(batch)
    assert_same_fit(ours, ref, rtol=1e-11, atol=1e-13)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_standard_scaler_sparse(split, fmt):
    rng = np.random.default_rng(5)
    dense = rng.standard_normal((50, 6)) * (rng.random((50, 6)) < 0.3) + 0.0
    X = sp.csr_matrix(dense).asformat(fmt)
    X_local = sp.csr_matrix(local(split, dense)).asformat(fmt)
    ours = SPMDStandardScaler(with_mean=False).fit(X_local)
    ref = StandardScaler(with_mean=False).fit(X)
    assert_same_fit(ours, ref, rtol=1e-11, atol=1e-13)
    with pytest.raises(ValueError, match="Cannot center sparse"):
        SPMDStandardScaler().fit(X_local)


def test_standard_scaler_float32_keeps_float64_statistics():
    X = X_RANDOM.astype(np.float32)
    ours = SPMDStandardScaler().fit(local("uneven", X))
    ref = StandardScaler().fit(X)
    assert ours.mean_.dtype == ref.mean_.dtype
    np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-5)


def test_pandas_feature_names_and_output():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(local("uneven", X_RANDOM), columns=[f"f{i}" for i in range(7)])
    scaler = SPMDStandardScaler().set_output(transform="pandas").fit(X)
    assert list(scaler.feature_names_in_) == list(X.columns)
    out = scaler.transform(X)
    assert isinstance(out, pd.DataFrame)
    np.testing.assert_allclose(gather_rows(out.to_numpy()).mean(0), 0, atol=1e-12)


@pytest.mark.serial
@pytest.mark.parametrize("route", ["one-pass", "exact-blocks"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize(
    "case", ["normal", "large-mean", "constant-columns", "sorted", "float32", "few-rows"]
)
def test_cross_products_match_exact(case, centered, weighted, route, monkeypatch):
    """CrossProducts (one-pass shifted route, or the exact one) against extended precision."""
    from skspmd._stats import CrossProducts

    if route == "exact-blocks":
        monkeypatch.setattr(CrossProducts, "_from_shifted_blocks", classmethod(lambda *a: None))

    rng = np.random.default_rng(5)
    n = 7 if case == "few-rows" else 9000
    X = rng.standard_normal((n, 6)) * [1.0, 2.0, 0.5, 3.0, 1.0, 1.0]
    if case == "large-mean":
        X += 1e8
    elif case == "constant-columns":
        X[:, 1] = 0.3
        X[:, 4] = -7.1e5
    elif case == "sorted":
        X = X[np.argsort(X[:, 2])]
    elif case == "float32":
        X = X.astype(np.float32)
    w = rng.uniform(0.0, 2.0, n) if weighted else np.ones(n)
    cp = CrossProducts.from_rows(X, w if weighted else None, centered=centered)
    Xl, wl = X.astype(np.longdouble), w.astype(np.longdouble)  # extended-precision reference
    mean = (wl @ Xl) / wl.sum()
    Z = Xl - mean if centered else Xl
    expected = ((Z * wl[:, None]).T @ Z).astype(np.float64)
    mean = mean.astype(np.float64)
    assert cp.n == pytest.approx(w.sum(), rel=1e-13)
    np.testing.assert_allclose(cp.mean, mean, rtol=1e-12, atol=1e-12 * np.abs(mean).max())
    diag = np.diag(expected)
    bound = (1e-9 if centered else 1e-12) * np.sqrt(np.outer(diag, diag)) + 1e-13 * diag.max()
    np.testing.assert_array_less(np.abs(cp.C - expected), bound)


@pytest.mark.serial
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_moments_of_a_row_strided_view_equal_its_copy(dtype):
    """``batch[:, :-1]`` (rows spaced apart) takes the compiled kernel through a row buffer."""
    from skspmd._kernels import block_moments

    X = np.random.default_rng(3).standard_normal((40_000, 9)).astype(dtype)
    X[100, 2] = np.nan  # flagged in its block, as for a C-ordered array
    view = X[5:, :-1]
    assert not view.flags.c_contiguous
    expected = block_moments(np.ascontiguousarray(view))
    np.testing.assert_array_equal(block_moments(view), expected)
    X[100, 2] = 0.0
    numpy = block_moments(view, use_compiled=False)
    np.testing.assert_allclose(
        numpy, block_moments(view), rtol=1e-4 if dtype == np.float32 else 1e-10
    )
    ref = StandardScaler().fit(view)
    ours = SPMDStandardScaler().fit(view)
    assert_same_fit(ours, ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
