"""SPMDLinearRegression and SPMDRidge against sklearn on the whole data."""

import numpy as np
import pytest
import scipy.linalg
from helpers import SPLITS, WORLD, assert_replicated, assert_same_fit, bounds, local
from scipy import optimize
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score

from skspmd.linear_model import SPMDLinearRegression, SPMDRidge

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
LAST = SIZE - 1


def _data(n=40, p=5, n_targets=0, seed=0, offset=3.0):
    """Global X, y (1-D when n_targets == 0) and weights with zeros."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + offset
    coef = rng.standard_normal((p, max(n_targets, 1)))
    Y = X @ coef + 0.3 * rng.standard_normal((n, max(n_targets, 1))) - 1.0
    y = Y[:, 0] if n_targets == 0 else Y
    w = rng.uniform(0.2, 2.0, n)
    w[::7] = 0.0
    return X, y, w


def _assert_close_relative(got, expected, rel):
    """Equal to ``rel`` relative to the largest entry (the norm-wise error of lstsq)."""
    np.testing.assert_allclose(got, expected, rtol=rel, atol=rel * np.abs(expected).max())


def _ill_conditioned(n=60, p=6, cond=1e8, seed=1):
    """X whose centred singular values are 100 * logspace(0, -log10(cond)), plus an offset."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n, p))
    U -= U.mean(axis=0)
    U = np.linalg.qr(U)[0]
    V = np.linalg.qr(rng.standard_normal((p, p)))[0]
    s = 100.0 * np.logspace(0, -np.log10(cond), p)
    X = (U * s) @ V.T + 5.0
    y = X @ rng.standard_normal(p) + 1e-9 * rng.standard_normal(n) + 2.0
    return X, y


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.parametrize(
    "ours, theirs", [(SPMDLinearRegression, LinearRegression), (SPMDRidge, Ridge)]
)
def test_same_parameters_as_sklearn(ours, theirs):
    assert sorted(ours().get_params()) == sorted(theirs().get_params())
    assert ours().get_params() == theirs().get_params()


# ---------------------------------------------------------------------------
# LinearRegression
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("n_targets", [0, 2])
def test_linear_regression_matches_sklearn(split, n_targets):
    X, y, w = _data(n_targets=n_targets)
    for fit_intercept in (True, False):
        for weights in (None, w):
            params = dict(fit_intercept=fit_intercept)
            Xl, yl, wl = local(split, X, y, weights)
            ours = SPMDLinearRegression(**params).fit(Xl, yl, sample_weight=wl)
            ref = LinearRegression(**params).fit(X, y, sample_weight=weights)
            assert_same_fit(ours, ref, rtol=1e-10, atol=1e-12)
            assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
            assert type(ours.rank_) is type(ref.rank_)
            assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_linear_regression_positive(split):
    X, y, w = _data(n=50, p=6, n_targets=2, seed=3)
    y = y - 2 * X[:, :1]  # make some coefficients want to be negative
    for weights in (None, w):
        Xl, yl, wl = local(split, X, y, weights)
        ours = SPMDLinearRegression(positive=True).fit(Xl, yl, sample_weight=wl)
        ref = LinearRegression(positive=True).fit(X, y, sample_weight=weights)
        assert (ref.coef_ == 0).any()  # the constraint is active
        assert_same_fit(ours, ref, rtol=1e-9, atol=1e-11)
        assert not hasattr(ours, "rank_") and not hasattr(ours, "singular_")
        assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_linear_regression_ill_conditioned(split):
    """Condition number 1e8: the normal equations would lose every digit; TSQR does not."""
    X, y = _ill_conditioned()
    Xl, yl = local(split, X, y)
    for tol in (1e-6, 1e-12):  # sklearn's default truncates at 1e-6; 1e-12 keeps all
        ours = SPMDLinearRegression(tol=tol).fit(Xl, yl)
        ref = LinearRegression(tol=tol).fit(X, y)
        assert ours.rank_ == ref.rank_ == (4 if tol == 1e-6 else 6)
        _assert_close_relative(ours.coef_, ref.coef_, 1e-6)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
        np.testing.assert_allclose(ours.singular_, ref.singular_, rtol=1e-6, atol=1e-13)
        assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "cond, route", [(1e1, "gram"), (5e3, "gram"), (3e4, "tsqr"), (1e6, "tsqr")]
)
def test_linear_regression_route_by_condition(split, cond, route):
    """Well-conditioned designs take the one-pass Gram route, the others TSQR; both match lstsq."""
    X, y = _ill_conditioned(n=80, cond=cond, seed=2)
    rng = np.random.default_rng(7)
    y = y + rng.standard_normal(y.shape[0])  # a real residual, not a near-exact fit
    w = rng.uniform(0.5, 2.0, y.shape[0])
    for weights in (None, w):
        Xl, yl, wl = local(split, X, y, weights)
        ours = SPMDLinearRegression(tol=1e-12).fit(Xl, yl, sample_weight=wl)
        ref = LinearRegression(tol=1e-12).fit(X, y, sample_weight=weights)
        assert ours._solver == route
        assert ours.rank_ == ref.rank_ == X.shape[1]
        _assert_close_relative(ours.coef_, ref.coef_, 1e-7)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7)
        np.testing.assert_allclose(ours.singular_, ref.singular_, rtol=1e-7)
        assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_linear_regression_rank_deficient_minimum_norm(split):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((45, 6))
    X[:, 3] = X[:, 1] - 2.0 * X[:, 2]  # collinear
    X[:, 5] = 0.5  # constant: zero after centring
    y = X @ np.arange(1.0, 7.0) + rng.standard_normal(45)
    Xl, yl = local(split, X, y)
    ours = SPMDLinearRegression().fit(Xl, yl)
    ref = LinearRegression().fit(X, y)
    assert ours.rank_ == ref.rank_ == 4
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    minimum_norm = np.linalg.pinv(X - X.mean(0)) @ (y - y.mean())
    np.testing.assert_allclose(ours.coef_, minimum_norm, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10)
    np.testing.assert_allclose(ours.singular_, ref.singular_, atol=1e-12 * ref.singular_[0])
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_more_features_than_rows_per_rank(split):
    """Every rank holds fewer rows than features (and fewer than features overall)."""
    X, y, w = _data(n=9, p=12, seed=5)
    Xl, yl, wl = local(split, X, y, w)
    ours = SPMDLinearRegression().fit(Xl, yl, sample_weight=wl)
    ref = LinearRegression().fit(X, y, sample_weight=w)
    assert ours.singular_.shape == ref.singular_.shape == (9,)
    assert ours.rank_ == ref.rank_
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.singular_, ref.singular_, atol=1e-12 * ref.singular_[0])
    for solver in ("svd", "cholesky"):  # sklearn's 'cholesky' takes the dual form here
        ridge = SPMDRidge(alpha=0.5, solver=solver).fit(Xl, yl, sample_weight=wl)
        ridge_ref = Ridge(alpha=0.5, solver=solver).fit(X, y, sample_weight=w)
        assert_same_fit(ridge, ridge_ref, rtol=1e-9, atol=1e-11)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_diabetes(split):
    X, y = load_diabetes(return_X_y=True)
    Xl, yl = local(split, X, y)
    pairs = [
        (SPMDLinearRegression(), LinearRegression()),
        (SPMDRidge(alpha=0.1), Ridge(alpha=0.1)),
        (SPMDRidge(alpha=0.1, solver="svd"), Ridge(alpha=0.1, solver="svd")),
    ]
    for ours, ref in pairs:
        ours.fit(Xl, yl)
        ref.fit(X, y)
        assert_same_fit(ours, ref, rtol=1e-8, atol=1e-9)
        assert ours.score(Xl, yl) == pytest.approx(ref.score(X, y), rel=1e-12)
        assert_replicated(ours)


def test_float32_input_keeps_dtype():
    X, y, _ = _data()
    Xl, yl = local("uneven", X.astype(np.float32), y.astype(np.float32))
    for ours, ref in [(SPMDLinearRegression(), LinearRegression()), (SPMDRidge(), Ridge())]:
        ours.fit(Xl, yl)
        ref.fit(X.astype(np.float32), y.astype(np.float32))
        assert ours.coef_.dtype == ref.coef_.dtype == np.float32
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-4)
        assert_replicated(ours)


# ---------------------------------------------------------------------------
# Ridge
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("solver", ["auto", "cholesky", "svd"])
def test_ridge_matches_sklearn(split, solver):
    X, y, w = _data(n=40, p=5, n_targets=2, seed=6)
    cases = [
        (dict(alpha=1.0), y[:, 0], None),
        (dict(alpha=0.3), y, w),
        (dict(alpha=[0.1, 10.0]), y, w),
        (dict(alpha=2.0, fit_intercept=False), y[:, 1], w),
        (dict(alpha=[0.5, 0.0], fit_intercept=False), y, None),
    ]
    for params, target, weights in cases:
        Xl, yl, wl = local(split, X, target, weights)
        ours = SPMDRidge(solver=solver, **params).fit(Xl, yl, sample_weight=wl)
        ref = Ridge(solver=solver, **params).fit(X, target, sample_weight=weights)
        assert_same_fit(ours, ref, rtol=1e-8, atol=1e-10)
        assert ours.solver_ == ref.solver_
        assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
        assert_replicated(ours)


def test_ridge_scalar_sample_weight():
    X, y, _ = _data(seed=7)
    Xl, yl = local("uneven", X, y)
    ours = SPMDRidge(alpha=2.0).fit(Xl, yl, sample_weight=3.0)
    ref = Ridge(alpha=2.0).fit(X, y, sample_weight=3.0)
    assert_same_fit(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("split", SPLITS)
def test_ridge_cholesky_falls_back_to_svd_when_singular(split):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((30, 4))
    X[:, 2] = 0.0  # a zero row and column in X^T X, and alpha = 0: not positive definite
    y = X @ [1.0, 2.0, 3.0, 4.0] + rng.standard_normal(30)
    Xl, yl = local(split, X, y)
    ours = SPMDRidge(alpha=0.0, solver="cholesky").fit(Xl, yl)
    ref = Ridge(alpha=0.0, solver="cholesky").fit(X, y)
    assert ours.solver_ == ref.solver_ == "svd"
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_ridge_svd_ill_conditioned(split):
    X, y = _ill_conditioned()
    Xl, yl = local(split, X, y)
    ours = SPMDRidge(alpha=1e-10, solver="svd").fit(Xl, yl)
    ref = Ridge(alpha=1e-10, solver="svd").fit(X, y)
    _assert_close_relative(ours.coef_, ref.coef_, 1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)


def _positive_ridge_oracle(X, y, w, alpha):
    """Exact non-negative ridge on the whole data: centre, weight, nnls of the augmented system."""
    mx, my = np.average(X, axis=0, weights=w), np.average(y, weights=w)
    sw = np.sqrt(w)[:, None]
    A = np.vstack(((X - mx) * sw, np.sqrt(alpha) * np.eye(X.shape[1])))
    b = np.concatenate(((y - my) * sw[:, 0], np.zeros(X.shape[1])))
    coef = optimize.nnls(A, b)[0]
    return coef, my - mx @ coef


@pytest.mark.parametrize("split", SPLITS)
def test_ridge_positive(split):
    X, y, w = _data(n=50, p=6, seed=9)
    y = y - 3 * X[:, 0]
    Xl, yl, wl = local(split, X, y, w)
    ours = SPMDRidge(alpha=1.5, positive=True).fit(Xl, yl, sample_weight=wl)
    coef, intercept = _positive_ridge_oracle(X, y, w, 1.5)
    assert (coef == 0).any()
    np.testing.assert_allclose(ours.coef_, coef, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.intercept_, intercept, rtol=1e-9)
    ref = Ridge(alpha=1.5, positive=True, tol=1e-10).fit(X, y, sample_weight=w)
    assert ours.solver_ == ref.solver_ == "lbfgs"
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    assert_replicated(ours)


@pytest.mark.parametrize("solver", ["lsqr", "sparse_cg", "sag", "saga"])
def test_ridge_solvers_without_distributed_path_raise(solver):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="no distributed implementation"):
        SPMDRidge(solver=solver).fit(*local("even", X, y))


def test_ridge_solver_rules_as_sklearn():
    X, y, _ = _data()
    Xl, yl = local("even", X, y)
    with pytest.raises(ValueError, match="'lbfgs' solver can be used only when positive=True"):
        SPMDRidge(solver="lbfgs").fit(Xl, yl)
    with pytest.raises(ValueError, match="does not support positive fitting"):
        SPMDRidge(solver="svd", positive=True).fit(Xl, yl)
    with pytest.raises(ValueError, match="Number of targets and number of penalties"):
        SPMDRidge(alpha=[1.0, 2.0, 3.0]).fit(Xl, yl)


# ---------------------------------------------------------------------------
# predict and score
# ---------------------------------------------------------------------------


PAIRS = [(SPMDLinearRegression, LinearRegression), (SPMDRidge, Ridge)]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("Est, Ref", PAIRS)
@pytest.mark.parametrize("n_targets", [0, 2])
def test_predict_local_and_score_global(split, Est, Ref, n_targets):
    X, y, _ = _data(n=40, n_targets=n_targets, seed=10)
    Xt, yt, wt = _data(n=25, n_targets=n_targets, seed=11)
    ours = Est().fit(*local(split, X, y))
    ref = Ref().fit(X, y)
    Xtl, ytl, wtl = local(split, Xt, yt, wt)
    expected_pred = ref.predict(Xt)[slice(*bounds(len(Xt), split))]
    np.testing.assert_allclose(ours.predict(Xtl), expected_pred, rtol=1e-10, atol=1e-12)
    for weights, local_weights in ((None, None), (wt, wtl)):
        got = ours.score(Xtl, ytl, sample_weight=local_weights)
        expected = ref.score(Xt, yt, sample_weight=weights)
        assert isinstance(got, float)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)
        assert len(set(WORLD.allgather(got))) == 1


def test_score_perfect_and_constant_targets():
    X, _, _ = _data(n=20, seed=12)
    y = np.c_[X @ [1.0, 2.0, 0.0, 0.0, 1.0], np.full(20, 2.0)]
    Xl, yl = local("uneven", X, y)
    ours = SPMDLinearRegression().fit(Xl, yl)
    y_bad = y.copy()
    y_bad[:, 1] += np.arange(20) % 2  # not constant any more: residual != 0
    for target in (y, y_bad):
        expected = r2_score(target, LinearRegression().fit(X, y).predict(X))
        assert ours.score(Xl, local("uneven", target)) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------------------
# Bad input: every rank raises, naming the rank
# ---------------------------------------------------------------------------

ESTIMATORS = [SPMDLinearRegression, SPMDRidge]


def _expect_rank(err):
    if SIZE > 1:
        assert f"rank {LAST}" in str(err.value)


def _with_nan(y):
    y = y.copy()
    y[0] = np.nan
    return y


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda y: y[:-1], "inconsistent numbers of samples"),
        (lambda y: None, "requires y to be passed"),
        (_with_nan, "NaN"),
    ],
    ids=["length_mismatch", "missing", "nan"],
)
def test_bad_y_on_one_rank(Est, spoil, message):
    X, y, _ = _data()
    Xl, yl = local("even", X, y)
    if RANK == LAST:
        yl = spoil(yl)
    with pytest.raises(ValueError, match=message) as err:
        Est().fit(Xl, yl)
    _expect_rank(err)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_all_weights_zero(Est):
    X, y, _ = _data()
    Xl, yl = local("uneven", X, y)
    with pytest.raises(ValueError, match="at least one non-zero"):
        Est().fit(Xl, yl, sample_weight=np.zeros(len(yl)))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_targets_shape_differs_between_ranks(Est):
    if SIZE == 1:
        pytest.skip("needs two ranks")
    X, y, _ = _data(n_targets=2)
    Xl, yl = local("even", X, y)
    if RANK == LAST:
        yl = yl[:, 0]
    with pytest.raises(ValueError, match="y has a different shape"):
        Est().fit(Xl, yl)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_sparse_input_rejected(Est):
    import scipy.sparse as sp

    X, y, _ = _data()
    Xl, yl = local("even", X, y)
    with pytest.raises(TypeError, match="dense data is required"):
        Est().fit(sp.csr_matrix(Xl), yl)


def test_tsqr_r_matches_lapack():
    """The private TSQR gives the R of the whole matrix (non-negative diagonal)."""
    from skspmd._tsqr import tsqr_r

    A = np.random.default_rng(13).standard_normal((3000, 7))  # several 1024-row blocks
    counts = np.array(WORLD.allgather(len(local("uneven", A))))
    R = tsqr_r(local("uneven", A), counts, WORLD)
    ref = scipy.linalg.qr(A, mode="r")[0][:7]
    ref *= np.where(np.diag(ref) < 0, -1.0, 1.0)[:, None]
    np.testing.assert_allclose(R, ref, atol=1e-12 * np.abs(ref).max())
    assert np.all(np.diag(R) >= 0)
