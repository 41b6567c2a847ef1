"""Collective partial_fit: sklearn's twin fed the same global batches, or fit on every row seen."""

import os

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, assert_replicated, assert_same_fit, local
from sklearn.covariance import EmpiricalCovariance
from sklearn.decomposition import IncrementalPCA
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.preprocessing import StandardScaler

from skspmd import (
    SPMDBasicStatistics,
    SPMDEmpiricalCovariance,
    SPMDGaussianNB,
    SPMDIncrementalPCA,
    SPMDLinearRegression,
    SPMDMultinomialNB,
    SPMDRidge,
    SPMDStandardScaler,
    io,
)

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
RNG = np.random.default_rng(11)
N, D = 83, 6
X_ALL = RNG.standard_normal((N, D)) @ RNG.standard_normal((D, D)) + np.arange(D) * 4.0
Y_ALL = X_ALL @ RNG.standard_normal(D) + 0.3 * RNG.standard_normal(N) + 2.0
Y2_ALL = np.column_stack((Y_ALL, X_ALL[:, 0] - Y_ALL))
W_ALL = RNG.uniform(0.2, 2.0, N)
COUNTS = RNG.poisson(2.0, (N, D)).astype(float)
LABELS = RNG.integers(0, 4, N)
# global batch boundaries: uneven batches, one of a single row
EDGES = [0, 17, 18, 50, 83]
BATCHES = list(zip(EDGES, EDGES[1:]))

pytestmark = pytest.mark.usefixtures("one_blas_thread", "one_thread_under_mpi")


def _moments(X):
    return {
        "mean_": X.mean(0),
        "variance_": X.var(0, ddof=1),
        "min_": X.min(0),
        "max_": X.max(0),
        "sum_squares_centered_": ((X - X.mean(0)) ** 2).sum(0),
    }


@pytest.mark.parametrize("split", SPLITS)
def test_standard_scaler_follows_sklearn_batches(split):
    ours, ref = SPMDStandardScaler(), StandardScaler()
    for a, b in BATCHES:
        X, w = local(split, X_ALL[a:b], W_ALL[a:b])
        ours.partial_fit(X, sample_weight=w)
        ref.partial_fit(X_ALL[a:b], sample_weight=W_ALL[a:b])
        assert_same_fit(ours, ref)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_multinomial_nb_follows_sklearn_batches(split):
    ours, ref = SPMDMultinomialNB(), MultinomialNB()
    for a, b in BATCHES:
        ours.partial_fit(*local(split, COUNTS[a:b], LABELS[a:b]), classes=np.arange(4))
        ref.partial_fit(COUNTS[a:b], LABELS[a:b], classes=np.arange(4))
        assert_same_fit(ours, ref)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("n_components", [3, None])
def test_incremental_pca_partial_fit_follows_sklearn(split, n_components):
    ours, ref = SPMDIncrementalPCA(n_components), IncrementalPCA(n_components)
    for a, b in BATCHES:
        ours.partial_fit(local(split, X_ALL[a:b]))
        ref.partial_fit(X_ALL[a:b])
        assert_same_fit(ours, ref, rtol=1e-9, atol=1e-10)
    assert_replicated(ours)
    X_local = local(split, X_ALL)
    expected = ref.transform(X_local) if X_local.shape[0] else np.empty((0, ours.n_components_))
    np.testing.assert_allclose(ours.transform(X_local), expected, atol=1e-9)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "params",
    [
        dict(n_components=3, batch_size=20),
        dict(batch_size=7),
        dict(n_components=2, whiten=True),
        dict(n_components=4, batch_size=40),
    ],
    ids=["3-of-20", "all-of-7", "whiten", "4-of-40"],
)
def test_incremental_pca_fit_batches_the_global_rows(split, params):
    # batches of the global row order span ranks, as sklearn cuts X
    ours = SPMDIncrementalPCA(**params).fit(local(split, X_ALL))
    ref = IncrementalPCA(**params).fit(X_ALL)
    assert_same_fit(ours, ref, rtol=1e-9, atol=1e-10)
    assert_replicated(ours)


def test_incremental_pca_fit_sparse_and_float32():
    ref = IncrementalPCA(3, batch_size=15).fit(X_ALL)
    ours = SPMDIncrementalPCA(3, batch_size=15).fit(sp.csr_matrix(local("uneven", X_ALL)))
    assert_same_fit(ours, ref, rtol=1e-9, atol=1e-10)
    X32 = X_ALL.astype(np.float32)
    ours32 = SPMDIncrementalPCA(3, batch_size=15).fit(local("even", X32))
    ref32 = IncrementalPCA(3, batch_size=15).fit(X32)
    assert_same_fit(ours32, ref32, rtol=1e-4, atol=1e-4)


def test_incremental_pca_errors_on_every_rank():
    with pytest.raises(TypeError, match="does not support sparse input"):
        SPMDIncrementalPCA(2).partial_fit(sp.csr_matrix(local("even", X_ALL)))
    with pytest.raises(ValueError, match="must be less or equal to the batch number"):
        SPMDIncrementalPCA(5).partial_fit(local("even", X_ALL[:4]))
    with pytest.raises(ValueError, match="invalid for n_features"):
        SPMDIncrementalPCA(D + 1).partial_fit(local("even", X_ALL))
    est = SPMDIncrementalPCA(2).partial_fit(local("even", X_ALL))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(local("even", X_ALL[:, :-1]))


@pytest.mark.parametrize("split", SPLITS)
def test_basic_statistics_partial_fit_equals_fit_on_rows_seen(split):
    est = SPMDBasicStatistics()
    for a, b in BATCHES:
        est.partial_fit(local(split, X_ALL[a:b]))
        for name, value in _moments(X_ALL[:b]).items():
            np.testing.assert_allclose(getattr(est, name), value, rtol=1e-11, err_msg=name)
        assert est.n_samples_seen_ == b
    assert_replicated(est)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("assume_centered", [False, True])
def test_empirical_covariance_partial_fit_equals_fit_on_rows_seen(split, assume_centered):
    est = SPMDEmpiricalCovariance(assume_centered=assume_centered)
    for a, b in BATCHES:
        est.partial_fit(local(split, X_ALL[a:b]))
        ref = EmpiricalCovariance(assume_centered=assume_centered).fit(X_ALL[:b])
        assert_same_fit(est, ref, rtol=1e-10)
    assert_replicated(est)


def _linear_cases():
    return [
        (SPMDLinearRegression, LinearRegression, {}),
        (SPMDLinearRegression, LinearRegression, dict(fit_intercept=False)),
        (SPMDLinearRegression, LinearRegression, dict(positive=True)),
        (SPMDRidge, Ridge, dict(alpha=0.5)),
        (SPMDRidge, Ridge, dict(alpha=2.0, solver="svd")),
        (SPMDRidge, Ridge, dict(alpha=1.0, fit_intercept=False)),
    ]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("Ours, Ref, params", _linear_cases(), ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_partial_fit_equals_fit_on_rows_seen(split, Ours, Ref, params, weighted):
    est = Ours(**params)
    for a, b in BATCHES[:1] + BATCHES[2:]:
        w = W_ALL[a:b] if weighted else None
        est.partial_fit(
            *local(split, X_ALL[a:b], Y_ALL[a:b]),
            sample_weight=local(split, w) if weighted else None,
        )
    ref = Ref(**params).fit(
        np.vstack((X_ALL[:17], X_ALL[18:])),
        np.concatenate((Y_ALL[:17], Y_ALL[18:])),
        sample_weight=np.concatenate((W_ALL[:17], W_ALL[18:])) if weighted else None,
    )
    assert_same_fit(est, ref, rtol=1e-8, atol=1e-10, exclude=("solver_", "n_iter_"))
    assert_replicated(est)


@pytest.mark.parametrize(
    "Ours, Ref", [(SPMDLinearRegression, LinearRegression), (SPMDRidge, Ridge)]
)
def test_linear_partial_fit_multi_target(Ours, Ref):
    est = Ours()
    for a, b in BATCHES:
        est.partial_fit(*local("uneven", X_ALL[a:b], Y2_ALL[a:b]))
    ref = Ref().fit(X_ALL, Y2_ALL)
    assert_same_fit(est, ref, rtol=1e-8, atol=1e-10, exclude=("solver_", "n_iter_"))
    with pytest.raises(ValueError, match="1 target"):
        est.partial_fit(*local("uneven", X_ALL[:5], Y_ALL[:5]))


def test_linear_regression_partial_fit_rank_deficient_and_ill_conditioned():
    # a repeated column: sklearn's minimum-norm solution, from the Gram matrix
    X = np.column_stack((X_ALL, X_ALL[:, 0]))
    est = SPMDLinearRegression()
    for a, b in BATCHES:
        est.partial_fit(*local("even", X[a:b], Y_ALL[a:b]))
    ref = LinearRegression().fit(X, Y_ALL)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-7)
    assert est.rank_ == ref.rank_ == D
    # columns scaled to condition number ~1e6: a warning, and the digits that are left
    X_ill = X_ALL * np.logspace(0, -6, D)
    est = SPMDLinearRegression()
    with pytest.warns(RuntimeWarning, match="ill-conditioned"):
        for a, b in BATCHES:
            est.partial_fit(*local("even", X_ill[a:b], Y_ALL[a:b]))
    ref = LinearRegression().fit(X_ill, Y_ALL)
    np.testing.assert_allclose(est.predict(X_ill), ref.predict(X_ill), rtol=1e-6)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("Ours, Ref, params", _linear_cases(), ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_partial_fit_after_fit_continues(split, Ours, Ref, params, weighted):
    # fit on the first 50 rows, then partial_fit on two batches: fit on all 83 rows
    w = W_ALL if weighted else None
    est = Ours(**params).fit(
        *local(split, X_ALL[:50], Y_ALL[:50]),
        sample_weight=local(split, w[:50]) if weighted else None,
    )
    for a, b in BATCHES[3:]:
        est.partial_fit(
            *local(split, X_ALL[a:b], Y_ALL[a:b]),
            sample_weight=local(split, w[a:b]) if weighted else None,
        )
    ref = Ref(**params).fit(X_ALL, Y_ALL, sample_weight=w)
    assert_same_fit(est, ref, rtol=1e-8, atol=1e-10, exclude=("solver_", "n_iter_"))
    assert_replicated(est)
    # fit starts over
    est.fit(*local(split, X_ALL[50:], Y_ALL[50:]))
    assert_same_fit(
        est, Ref(**params).fit(X_ALL[50:], Y_ALL[50:]), rtol=1e-8, exclude=("solver_", "n_iter_")
    )


def test_linear_regression_partial_fit_after_an_ill_conditioned_fit_continues():
    # fit takes the TSQR route (condition number ~1e6): partial_fit continues from R^T R
    X_ill = X_ALL * np.logspace(0, -6, D)
    est = SPMDLinearRegression().fit(*local("uneven", X_ill[:50], Y_ALL[:50]))
    assert est._solver == "tsqr"
    with pytest.warns(RuntimeWarning, match="ill-conditioned"):
        est.partial_fit(*local("uneven", X_ill[50:], Y_ALL[50:]))
    ref = LinearRegression().fit(X_ill, Y_ALL)
    np.testing.assert_allclose(est.predict(X_ill), ref.predict(X_ill), rtol=1e-6)


@pytest.mark.parametrize("split", SPLITS)
def test_every_partial_fit_after_fit_continues(split):
    """fit on the first rows, then partial_fit: as sklearn's twin, or fit on every row seen."""
    head, tail = slice(0, 50), slice(50, N)
    pairs = [
        (SPMDStandardScaler(), StandardScaler(), (X_ALL,), {}),
        (SPMDIncrementalPCA(3), IncrementalPCA(3), (X_ALL,), dict(rtol=1e-9, atol=1e-10)),
        (SPMDMultinomialNB(), MultinomialNB(), (COUNTS, LABELS), {}),
        (SPMDGaussianNB(), GaussianNB(), (X_ALL, LABELS), dict(rtol=1e-9)),
    ]
    def rows(arrays, part):
        out = local(split, *(a[part] for a in arrays))
        return out if len(arrays) > 1 else (out,)

    for ours, ref, data, tol in pairs:
        ours.fit(*rows(data, head))
        ours.partial_fit(*rows(data, tail))
        ref.fit(*(a[head] for a in data)).partial_fit(*(a[tail] for a in data))
        assert_same_fit(ours, ref, **tol)
        assert_replicated(ours)
    for ours, ref in [
        (SPMDEmpiricalCovariance(), EmpiricalCovariance()),
        (SPMDBasicStatistics(), None),
    ]:
        ours.fit(local(split, X_ALL[head])).partial_fit(local(split, X_ALL[tail]))
        if ref is not None:
            assert_same_fit(ours, ref.fit(X_ALL), rtol=1e-10)
        else:
            for name, value in _moments(X_ALL).items():
                np.testing.assert_allclose(getattr(ours, name), value, rtol=1e-11)
            assert ours.n_samples_seen_ == N
        assert_replicated(ours)


def test_partial_fit_rejects_changed_n_features_on_every_rank():
    for est, args in [
        (SPMDBasicStatistics(), ()),
        (SPMDEmpiricalCovariance(), ()),
        (SPMDLinearRegression(), (Y_ALL,)),
        (SPMDRidge(), (Y_ALL,)),
    ]:
        est.partial_fit(local("even", X_ALL), *(local("even", a) for a in args))
        with pytest.raises(ValueError, match="features"):
            est.partial_fit(local("even", X_ALL[:, :-1]), *(local("even", a) for a in args))


def test_streamed_partial_fit_equals_sklearn_on_the_same_global_batches(shared_tmp_path):
    # X in a CSV file and y in a .npy file, streamed in batches of 7 rows per rank
    x_path = os.path.join(shared_tmp_path, "X.csv")
    y_path = os.path.join(shared_tmp_path, "y.npy")
    if RANK == 0:
        with open(x_path, "w") as f:
            f.write(",".join(f"f{j}" for j in range(D)) + "\n")
            for row in X_ALL:
                f.write(",".join(repr(float(v)) for v in row) + "\n")
        np.save(y_path, Y_ALL)
    WORLD.Barrier()
    ipca, reg, ref_ipca = SPMDIncrementalPCA(3), SPMDLinearRegression(), IncrementalPCA(3)
    # global batch i: rows 7 i to 7 i + 7 of every rank's partition block, in rank order
    sizes = [len(part) for part in np.array_split(np.arange(N), SIZE)]
    edges = np.concatenate(([0], np.cumsum(sizes)))
    for i, (X, y) in enumerate(zip(io.iter_rows(x_path, 7), io.iter_rows(y_path, 7))):
        ipca.partial_fit(X)
        reg.partial_fit(X, y)
        rows = np.concatenate(
            [np.arange(edges[r], edges[r + 1])[7 * i : 7 * i + 7] for r in range(SIZE)]
        )
        ref_ipca.partial_fit(X_ALL[rows])
    assert_same_fit(ipca, ref_ipca, rtol=1e-9, atol=1e-10)
    assert_same_fit(reg, LinearRegression().fit(X_ALL, Y_ALL), rtol=1e-8)
    assert_replicated(ipca)
    assert_replicated(reg)
