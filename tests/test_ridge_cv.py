"""SPMDRidgeCV against sklearn's RidgeCV on the whole data."""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, assert_replicated, bounds, gather_rows, local
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import PredefinedSplit

from skspmd.linear_model import SPMDRidgeCV
from skspmd.model_selection import KFold

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
ALPHAS = np.logspace(-4, 3, 20)


def _diabetes(n_targets=0):
    X, y = load_diabetes(return_X_y=True)
    if n_targets:
        y = np.c_[y, 0.3 * y + 200 * X[:, 0], -y + 500 * X[:, 3]][:, :n_targets]
    return X, y


def _sparse_truth(n=400, p=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + 2.0
    coef = np.zeros(p)
    coef[rng.choice(p, 10, replace=False)] = rng.uniform(1, 3, 10)
    return X, X @ coef + rng.standard_normal(n) + 4.0


def _weights(n, seed=5):
    w = np.random.default_rng(seed).uniform(0.2, 2.0, n)
    w[::9] = 0.0
    return w


def _close(got, expected, rel, name=""):
    expected = np.asarray(expected, dtype=float)
    np.testing.assert_allclose(got, expected, rtol=rel, atol=rel * np.abs(expected).max(initial=0.0),
                               err_msg=name)


def _same_fit(ours, ref, rel=1e-8):
    np.testing.assert_array_equal(ours.alpha_, ref.alpha_)
    _close(ours.best_score_, ref.best_score_, 1e-10, "best_score_")
    assert np.shape(ours.best_score_) == np.shape(ref.best_score_)
    _close(ours.coef_, ref.coef_, rel, "coef_")
    _close(ours.intercept_, ref.intercept_, rel, "intercept_")
    assert np.shape(ours.coef_) == np.shape(ref.coef_)
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)


@pytest.mark.serial
def test_same_parameters_as_sklearn():
    assert SPMDRidgeCV().get_params() == RidgeCV().get_params()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("n_targets", [0, 1, 3])
def test_loo_matches_sklearn(split, n_targets):
    X, y = _diabetes(n_targets)
    w = _weights(len(X))
    for params in (dict(), dict(fit_intercept=False), dict(alpha_per_target=True)):
        for weights in (None, w):
            Xl, yl, wl = local(split, X, y, weights)
            ours = SPMDRidgeCV(alphas=ALPHAS, **params).fit(Xl, yl, sample_weight=wl)
            ref = RidgeCV(alphas=ALPHAS, **params).fit(X, y, sample_weight=weights)
            _same_fit(ours, ref)
            assert_replicated(ours)


@pytest.mark.parametrize("split", SPLITS)
def test_loo_sparse_truth_and_stored_results(split):
    X, y = _sparse_truth()
    start, stop = bounds(len(y), split)
    Xl, yl = local(split, X, y)
    ours = SPMDRidgeCV(alphas=ALPHAS, store_cv_results=True).fit(Xl, yl)
    ref = RidgeCV(alphas=ALPHAS, store_cv_results=True).fit(X, y)
    _same_fit(ours, ref)
    # this rank's rows' squared leave-one-out errors
    _close(ours.cv_results_, ref.cv_results_[start:stop], 1e-8)
    assert_replicated(ours, exclude=("cv_results_",))


@pytest.mark.parametrize("split", SPLITS)
def test_loo_with_a_global_scoring(split):
    X, y = _diabetes(2)
    start, stop = bounds(len(y), split)
    Xl, yl = local(split, X, y)
    ours = SPMDRidgeCV(alphas=ALPHAS, scoring="r2", store_cv_results=True).fit(Xl, yl)
    ref = RidgeCV(alphas=ALPHAS, scoring="r2", store_cv_results=True).fit(X, y)
    _same_fit(ours, ref)
    _close(ours.cv_results_, ref.cv_results_[start:stop], 1e-10)
    with pytest.raises(ValueError, match="global scorer"):
        SPMDRidgeCV(scoring=lambda est, X, y: 0.0).fit(Xl, yl)


@pytest.mark.parametrize("split", SPLITS)
def test_cv_given_runs_the_spmd_grid_search(split):
    X, y = _diabetes()
    w = _weights(len(y))
    start, stop = bounds(len(y), split)
    ids = np.full(stop - start, -1)
    for k, (_, test) in enumerate(KFold(4).split(np.empty((stop - start, 1)))):
        ids[test] = k
    folds = PredefinedSplit(gather_rows(ids))
    Xl, yl, wl = local(split, X, y, w)
    for weights, local_w in ((None, None), (w, wl)):
        ours = SPMDRidgeCV(alphas=ALPHAS, cv=4).fit(Xl, yl, sample_weight=local_w)
        ref = RidgeCV(alphas=ALPHAS, cv=folds).fit(X, y, sample_weight=weights)
        assert ours.alpha_ == ref.alpha_
        _close(ours.best_score_, ref.best_score_, 1e-10)
        _close(ours.coef_, ref.coef_, 1e-8)
        assert_replicated(ours)
    with pytest.raises(ValueError, match="incompatible"):
        SPMDRidgeCV(cv=4, alpha_per_target=True).fit(Xl, yl)


def test_bad_input_raises_everywhere():
    X, y = _diabetes()
    Xl, yl = local("even", X, y)
    if RANK == SIZE - 1:
        Xl = Xl.copy()
        Xl[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN") as err:
        SPMDRidgeCV().fit(Xl, yl)
    if SIZE > 1:
        assert f"rank {SIZE - 1}" in str(err.value)
    Xl, yl = local("even", X, y)
    with pytest.raises(ValueError, match="alphas"):
        SPMDRidgeCV(alphas=[1.0, 0.0]).fit(Xl, yl)
