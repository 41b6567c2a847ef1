"""SPMDLasso, SPMDElasticNet and their CV versions against sklearn on the whole data."""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, assert_replicated, bounds, gather_rows, local
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV
from sklearn.model_selection import PredefinedSplit, ShuffleSplit

from skspmd.linear_model import SPMDElasticNet, SPMDElasticNetCV, SPMDLasso, SPMDLassoCV
from skspmd.linear_model import _coordinate_descent
from skspmd.model_selection import KFold

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
LAST = SIZE - 1


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def _sparse_truth(n=400, p=200, seed=0):
    """200 features, 10 of them in the true model, correlated columns, an offset."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + 0.3 * rng.standard_normal((n, 1)) + 2.0
    coef = np.zeros(p)
    coef[rng.choice(p, 10, replace=False)] = rng.uniform(1, 3, 10) * rng.choice([-1, 1], 10)
    y = X @ coef + 0.5 * rng.standard_normal(n) + 4.0
    return X, y


DATASETS = {"diabetes": _diabetes, "sparse": _sparse_truth}
# some fits below stop at max_iter, in sklearn's reference fits as in ours
NOT_CONVERGED = "ignore::sklearn.exceptions.ConvergenceWarning"


def _weights(n, seed=5):
    w = np.random.default_rng(seed).uniform(0.2, 2.0, n)
    w[::9] = 0.0
    return w


def _close(got, expected, rel, name=""):
    """Equal to ``rel`` relative to the largest entry."""
    expected = np.asarray(expected, dtype=float)
    scale = max(np.abs(expected).max(initial=0.0), 1e-300)
    np.testing.assert_allclose(got, expected, rtol=rel, atol=rel * scale, err_msg=name)


def _same_cd_fit(ours, ref, rel=1e-9):
    _close(ours.coef_, ref.coef_, rel, "coef_")
    _close(ours.intercept_, ref.intercept_, rel, "intercept_")
    assert np.shape(ours.coef_) == np.shape(ref.coef_)
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
    assert ours.n_iter_ == ref.n_iter_
    # the gap is a difference of terms of the size of y^T y / n
    np.testing.assert_allclose(ours.dual_gap_, ref.dual_gap_, rtol=1e-6, atol=1e-9)


def _global_folds(split, n, n_splits=5):
    """The global ``test_fold`` of the folds SPMD's cv=n_splits makes on each rank's rows."""
    start, stop = bounds(n, split)
    ids = np.full(stop - start, -1)
    for k, (_, test) in enumerate(KFold(n_splits).split(np.empty((stop - start, 1)))):
        ids[test] = k
    return gather_rows(ids)


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.parametrize(
    "ours, theirs",
    [(SPMDLasso, Lasso), (SPMDElasticNet, ElasticNet), (SPMDLassoCV, LassoCV),
     (SPMDElasticNetCV, ElasticNetCV)],
)
def test_same_parameters_as_sklearn(ours, theirs):
    assert ours().get_params() == theirs().get_params()


# ---------------------------------------------------------------------------
# Lasso and ElasticNet
# ---------------------------------------------------------------------------


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_elastic_net_matches_sklearn_gram_fit(split, dataset):
    X, y = DATASETS[dataset]()
    w = _weights(len(y))
    alpha = 0.05 if dataset == "sparse" else 0.01
    cases = [
        dict(l1_ratio=0.7),
        dict(l1_ratio=1.0, fit_intercept=False),
        dict(l1_ratio=0.5, positive=True),
        dict(l1_ratio=0.9, selection="random", random_state=3),
    ]
    for params in cases:
        for weights in (None, w):
            Xl, yl, wl = local(split, X, y, weights)
            ours = SPMDElasticNet(alpha=alpha, **params).fit(Xl, yl, sample_weight=wl)
            ref = ElasticNet(alpha=alpha, precompute=True, **params)
            ref.fit(X, y, sample_weight=weights)
            _same_cd_fit(ours, ref)
            assert_replicated(ours)
            if params.get("positive"):
                assert (ours.coef_ >= 0).all() and (ref.coef_ == 0).any()


@pytest.mark.parametrize("split", SPLITS)
def test_lasso_matches_sklearn_default_fit_to_its_tolerance(split):
    X, y = _sparse_truth()
    Xl, yl = local(split, X, y)
    ours = SPMDLasso(alpha=0.05, tol=1e-8).fit(Xl, yl)
    ref = Lasso(alpha=0.05, tol=1e-8).fit(X, y)  # precompute=False: CD on X itself
    _close(ours.coef_, ref.coef_, 1e-5, "coef_")
    assert np.count_nonzero(ours.coef_) == np.count_nonzero(ref.coef_) < 40
    assert_replicated(ours)


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("split", SPLITS)
def test_lasso_multi_target_and_warm_start(split):
    X, y = _diabetes()
    Y = np.c_[y, 0.5 * y + 300 * X[:, 2], -y]
    w = _weights(len(y))
    Xl, Yl, wl = local(split, X, Y, w)
    ours = SPMDLasso(alpha=0.1).fit(Xl, Yl, sample_weight=wl)
    ref = Lasso(alpha=0.1, precompute=True).fit(X, Y, sample_weight=w)
    _same_cd_fit(ours, ref)
    assert_replicated(ours)
    # warm start: a second fit at a smaller alpha starts from the first coefficients
    ours = SPMDLasso(alpha=1.0, warm_start=True, max_iter=3).fit(Xl, Yl[:, 0])
    ref = Lasso(alpha=1.0, warm_start=True, max_iter=3, precompute=True).fit(X, Y[:, 0])
    for est in (ours, ref):
        est.set_params(alpha=0.1)
    ours.fit(Xl, Yl[:, 0])
    ref.fit(X, Y[:, 0])
    _same_cd_fit(ours, ref)
    assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_predict_local_score_global(split):
    X, y = _diabetes()
    Xl, yl = local(split, X, y)
    ours = SPMDElasticNet(alpha=0.01).fit(Xl, yl)
    ref = ElasticNet(alpha=0.01, precompute=True).fit(X, y)
    _close(ours.predict(Xl), ref.predict(X)[slice(*bounds(len(y), split))], 1e-9)
    np.testing.assert_allclose(ours.score(Xl, yl), ref.score(X, y), rtol=1e-10)


def test_nan_on_one_rank_raises_everywhere():
    X, y = _diabetes()
    Xl, yl = local("even", X, y)
    if RANK == LAST:
        Xl = Xl.copy()
        Xl[0, 0] = np.nan
    for est in (SPMDLasso(), SPMDElasticNetCV(cv=3)):
        with pytest.raises(ValueError, match="NaN") as err:
            est.fit(Xl, yl)
        if SIZE > 1:
            assert f"rank {LAST}" in str(err.value)


def test_parameter_errors_raise_everywhere():
    X, y = _diabetes()
    Xl, yl = local("uneven", X, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        SPMDElasticNet(l1_ratio=1.5).fit(Xl, yl)
    with pytest.raises(ValueError, match="l1_ratio"):
        SPMDElasticNetCV(l1_ratio=-0.1).fit(Xl, yl)
    with pytest.raises(ValueError, match="l1_ratio=0"):
        SPMDElasticNetCV(l1_ratio=[0.0, 0.5]).fit(Xl, yl)
    with pytest.raises(ValueError, match="explicit precompute array"):
        SPMDLasso(precompute=np.eye(X.shape[1])).fit(Xl, yl)
    with pytest.raises(ValueError, match="n_jobs=2 is not supported"):
        SPMDLassoCV(n_jobs=2).fit(Xl, yl)
    with pytest.raises(ValueError, match="MultiTaskLassoCV"):
        SPMDLassoCV().fit(Xl, np.c_[yl, yl])


def test_gram_must_fit(monkeypatch):
    X, y = _sparse_truth(n=150, p=200)
    Xl, yl = local("uneven", X, y)
    for est in (SPMDLasso(), SPMDLassoCV()):
        with pytest.raises(ValueError, match="n_samples = 150, n_features = 200"):
            est.fit(Xl, yl)
    monkeypatch.setattr(_coordinate_descent, "MAX_GRAM_FEATURES", 100)
    with pytest.raises(ValueError, match="limit of 100 features"):
        SPMDElasticNet().fit(Xl[:, :120], yl)


# ---------------------------------------------------------------------------
# LassoCV and ElasticNetCV
# ---------------------------------------------------------------------------


def _same_cv_fit(ours, ref, rel=1e-9):
    np.testing.assert_allclose(ours.alpha_, ref.alpha_, rtol=1e-12)
    _close(ours.alphas_, ref.alphas_, 1e-12, "alphas_")
    _close(ours.mse_path_, ref.mse_path_, rel, "mse_path_")
    assert ours.mse_path_.shape == ref.mse_path_.shape
    _same_cd_fit(ours, ref, rel)
    if hasattr(ref, "l1_ratio_"):
        assert ours.l1_ratio_ == ref.l1_ratio_
    else:
        assert not hasattr(ours, "l1_ratio_")


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_lasso_cv_matches_sklearn(split, dataset):
    X, y = DATASETS[dataset]()
    w = _weights(len(y))
    folds = PredefinedSplit(_global_folds(split, len(y)))
    n_alphas = 100 if dataset == "diabetes" else 25
    for params, weights in [
        (dict(alphas=n_alphas), None),
        (dict(fit_intercept=False, alphas=n_alphas), w),
        (dict(positive=True, alphas=n_alphas), w),
    ]:
        Xl, yl, wl = local(split, X, y, weights)
        ours = SPMDLassoCV(**params).fit(Xl, yl, sample_weight=wl)
        ref = LassoCV(cv=folds, precompute=True, **params).fit(X, y, sample_weight=weights)
        _same_cv_fit(ours, ref)
        assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_elastic_net_cv_matches_sklearn(split):
    X, y = _diabetes()
    folds = PredefinedSplit(_global_folds(split, len(y), n_splits=4))
    Xl, yl = local(split, X, y)
    params = dict(l1_ratio=[0.1, 0.5, 0.95], alphas=20, cv=4, selection="random",
                  random_state=0)
    ours = SPMDElasticNetCV(**params).fit(Xl, yl)
    ref = ElasticNetCV(precompute=True, **dict(params, cv=folds)).fit(X, y)
    _same_cv_fit(ours, ref)
    assert ours.alphas_.shape == (3, 20)
    assert_replicated(ours)
    # the default precompute='auto' refits without the Gram matrix: equal to its tolerance
    default = ElasticNetCV(**dict(params, cv=folds, tol=1e-10)).fit(X, y)
    ours = SPMDElasticNetCV(**dict(params, tol=1e-10)).fit(Xl, yl)
    _close(ours.coef_, default.coef_, 1e-6)


@pytest.mark.parametrize("split", SPLITS)
def test_cv_with_explicit_alphas_and_predefined_split(split):
    """A local PredefinedSplit with rows that are never held out (fold -1)."""
    X, y = _diabetes()
    start, stop = bounds(len(y), split)
    test_fold = np.arange(len(y)) % 4 - 1  # -1, 0, 1, 2
    Xl, yl = local(split, X, y)
    alphas = [0.5, 0.001, 0.05, 0.01]
    ours = SPMDLassoCV(alphas=alphas, cv=PredefinedSplit(test_fold[start:stop])).fit(Xl, yl)
    ref = LassoCV(alphas=alphas, cv=PredefinedSplit(test_fold), precompute=True).fit(X, y)
    _same_cv_fit(ours, ref)
    assert_replicated(ours)


def test_cv_splits_must_be_kfold_like():
    X, y = _diabetes()
    Xl, yl = local("even", X, y)
    with pytest.raises(ValueError, match="disjoint test folds"):
        SPMDLassoCV(cv=ShuffleSplit(3, random_state=0)).fit(Xl, yl)
