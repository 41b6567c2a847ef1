"""Global scorers, SPMD-safe search and cross-validation, pipeline checks."""

import warnings

import numpy as np
import pytest
from helpers import SPLITS, WORLD, local
from sklearn import model_selection as skms
from sklearn.covariance import EmpiricalCovariance
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer as sk_get_scorer
from sklearn.preprocessing import StandardScaler

from skspmd import SPMDEmpiricalCovariance, SPMDStandardScaler
from skspmd.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
    get_scorer,
    get_scorer_names,
)
from skspmd.pipeline import NotSPMDAwareWarning, make_pipeline, non_spmd_steps

SIZE = WORLD.Get_size()
X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_DIAB, Y_DIAB = load_diabetes(return_X_y=True)
# models fitted on the whole data, identical on every rank: only the scoring is distributed
CLF = LogisticRegression(max_iter=1000).fit(X_IRIS, Y_IRIS)
BIN_Y = (Y_IRIS == 1).astype(int)
BIN_CLF = LogisticRegression(max_iter=1000).fit(X_IRIS, BIN_Y)
REG = Ridge().fit(X_DIAB, Y_DIAB)
MULTI_Y = np.column_stack([Y_DIAB, np.sqrt(Y_DIAB)])
MULTI_REG = Ridge().fit(X_DIAB, MULTI_Y)


def _cases():
    for name in get_scorer_names():
        if name in ("precision", "recall", "f1"):
            yield name, BIN_CLF, X_IRIS, BIN_Y
        elif name in ("r2", "explained_variance") or name.startswith("neg_mean"):
            yield name, REG, X_DIAB, Y_DIAB
            yield name, MULTI_REG, X_DIAB, MULTI_Y
        elif name == "adjusted_rand_score":
            yield name, CLF, X_IRIS, Y_IRIS
        else:
            yield name, CLF, X_IRIS, Y_IRIS


CASES = list(_cases())


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "name, est, X, y", CASES, ids=[f"{c[0]}-{c[3].ndim}d" for c in CASES]
)
def test_global_scorer_equals_sklearn_on_all_rows(split, name, est, X, y):
    X_local, y_local = local(split, X, y)
    got = get_scorer(name)(est, X_local, y_local)
    np.testing.assert_allclose(got, sk_get_scorer(name)(est, X, y), rtol=1e-12, atol=1e-14)
    assert len(set(WORLD.allgather(got))) == 1


def test_local_scoring_names_are_rejected():
    with pytest.raises(ValueError, match="no global implementation"):
        get_scorer("roc_auc")
    with pytest.raises(ValueError, match="no global implementation"):
        get_scorer(lambda est, X, y: 0.0)


def test_kfold_tolerates_fewer_rows_than_folds():
    splits = list(KFold(5).split(np.zeros((3, 2))))
    assert len(splits) == 5
    assert sorted(np.concatenate([t for _, t in splits]).tolist()) == [0, 1, 2]
    assert len(list(KFold(5).split(np.zeros((0, 2))))) == 5


def _predefined(n, n_folds=3):
    return np.arange(n) % n_folds


@pytest.mark.parametrize("split", SPLITS)
def test_grid_search_equals_sklearn_with_predefined_folds(split):
    X = X_DIAB[:, :4]
    folds = _predefined(X.shape[0])
    grid = {"assume_centered": [False, True]}
    ours = GridSearchCV(
        SPMDEmpiricalCovariance(), grid, cv=skms.PredefinedSplit(local(split, folds))
    ).fit(local(split, X))
    ref = skms.GridSearchCV(EmpiricalCovariance(), grid, cv=skms.PredefinedSplit(folds)).fit(X)
    for key in ["mean_test_score", "std_test_score", "rank_test_score"] + [
        f"split{k}_test_score" for k in range(3)
    ]:
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=1e-10)
    assert ours.best_params_ == ref.best_params_
    np.testing.assert_allclose(
        ours.best_estimator_.covariance_, ref.best_estimator_.covariance_, rtol=1e-10
    )
    assert len(set(WORLD.allgather(repr(ours.best_params_)))) == 1


def test_randomized_search_same_candidates_without_random_state():
    X = X_DIAB[:, :3]
    search = RandomizedSearchCV(
        SPMDEmpiricalCovariance(),
        {"assume_centered": [False, True], "store_precision": [True, False]},
        n_iter=3,
        cv=3,
        random_state=None,
    ).fit(local("uneven", X))
    params = [repr(p) for p in search.cv_results_["params"]]
    assert WORLD.allgather(params) == [params] * SIZE
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert len({s.tobytes() for s in WORLD.allgather(scores)}) == 1


@pytest.mark.parametrize("split", SPLITS)
def test_cross_validate_scores_are_global(split):
    X = X_DIAB[:, :5]
    folds = _predefined(X.shape[0], 4)
    scores = cross_val_score(
        SPMDEmpiricalCovariance(), local(split, X), cv=skms.PredefinedSplit(local(split, folds))
    )
    expected = skms.cross_val_score(EmpiricalCovariance(), X, cv=skms.PredefinedSplit(folds))
    np.testing.assert_allclose(scores, expected, rtol=1e-10)
    res = cross_validate(SPMDEmpiricalCovariance(), local(split, X), cv=4, return_train_score=True)
    assert res["test_score"].shape == (4,)
    assert len({r.tobytes() for r in WORLD.allgather(res["train_score"])}) == 1


def test_n_jobs_is_rejected_on_every_rank():
    with pytest.raises(ValueError, match="n_jobs=2 is not supported"):
        GridSearchCV(SPMDEmpiricalCovariance(), {"assume_centered": [True]}, n_jobs=2).fit(
            X_DIAB
        )
    with pytest.raises(ValueError, match="n_jobs=-1"):
        cross_val_score(SPMDEmpiricalCovariance(), X_DIAB, n_jobs=-1)


def test_scoring_none_with_local_score_is_rejected():
    with pytest.raises(ValueError, match="not an skspmd"):
        GridSearchCV(EmpiricalCovariance(), {"assume_centered": [True]}).fit(X_DIAB)


def test_different_number_of_splits_is_an_error():
    if SIZE == 1:
        pytest.skip("needs two ranks")
    cv = 3 if WORLD.Get_rank() == 0 else 4
    with pytest.raises(ValueError, match="different numbers of splits"):
        GridSearchCV(SPMDEmpiricalCovariance(), {"assume_centered": [True]}, cv=cv).fit(
            local("even", X_DIAB)
        )


def test_non_spmd_steps_are_named():
    pipe = make_pipeline(StandardScaler(), SPMDEmpiricalCovariance())
    assert non_spmd_steps(pipe) == [("standardscaler", "StandardScaler")]
    assert non_spmd_steps(make_pipeline(SPMDStandardScaler(), SPMDEmpiricalCovariance())) == []


def test_pipeline_warns_about_non_spmd_step_on_several_ranks():
    pipe = make_pipeline(StandardScaler(), SPMDEmpiricalCovariance())
    X = local("uneven", X_DIAB)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe.fit(X)
    named = [w for w in caught if issubclass(w.category, NotSPMDAwareWarning)]
    if SIZE == 1:
        assert not named
    else:
        assert named and "standardscaler" in str(named[0].message)


@pytest.mark.parametrize("split", SPLITS)
def test_spmd_pipeline_equals_sklearn_pipeline(split):
    pd = pytest.importorskip("pandas")
    X = X_DIAB
    ours = make_pipeline(SPMDStandardScaler(), SPMDEmpiricalCovariance()).fit(local(split, X))
    ref = make_pipeline(StandardScaler(), EmpiricalCovariance()).fit(X)
    np.testing.assert_allclose(ours[-1].covariance_, ref[-1].covariance_, rtol=1e-10)
    ours[0].set_output(transform="pandas")
    out = ours[0].transform(local(split, X))
    assert isinstance(out, pd.DataFrame)


@pytest.mark.parametrize("split", SPLITS)
def test_scaler_pca_kmeans_pipeline_equals_sklearn(split):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.datasets import load_digits

    from skspmd import SPMDKMeans, SPMDPCA

    X = load_digits().data[:600]
    ours = make_pipeline(
        SPMDStandardScaler(), SPMDPCA(10, svd_solver="full"), SPMDKMeans(8, random_state=0)
    )
    ours.fit(local(split, X))
    ref = make_pipeline(
        StandardScaler(), PCA(10, svd_solver="full"), KMeans(8, random_state=0)
    ).fit(X)
    np.testing.assert_allclose(
        np.abs(ours[1].components_), np.abs(ref[1].components_), rtol=1e-7, atol=1e-9
    )
    np.testing.assert_allclose(ours[-1].inertia_, ref[-1].inertia_, rtol=1e-7)
    np.testing.assert_array_equal(ours.predict(local(split, X)), local(split, ref.predict(X)))


@pytest.mark.parametrize("split", SPLITS)
def test_scaler_ridge_pipeline_equals_sklearn(split):
    from skspmd import SPMDRidge

    ours = make_pipeline(SPMDStandardScaler(), SPMDRidge(alpha=3.0))
    ours.fit(*local(split, X_DIAB, Y_DIAB))
    ref = make_pipeline(StandardScaler(), Ridge(alpha=3.0)).fit(X_DIAB, Y_DIAB)
    np.testing.assert_allclose(ours[-1].coef_, ref[-1].coef_, rtol=1e-9)
    np.testing.assert_allclose(ours[-1].intercept_, ref[-1].intercept_, rtol=1e-9)
    X_local, y_local = local(split, X_DIAB, Y_DIAB)
    np.testing.assert_allclose(ours.score(X_local, y_local), ref.score(X_DIAB, Y_DIAB), rtol=1e-10)


@pytest.mark.parametrize("split", SPLITS)
def test_grid_search_ridge_pipeline_equals_sklearn(split):
    from skspmd import SPMDRidge

    folds = _predefined(X_DIAB.shape[0], 4)
    grid = {"spmdridge__alpha": [0.1, 1.0, 10.0]}
    ours = GridSearchCV(
        make_pipeline(SPMDStandardScaler(), SPMDRidge()), grid, scoring="r2",
        cv=skms.PredefinedSplit(local(split, folds)),
    ).fit(*local(split, X_DIAB, Y_DIAB))
    ref = skms.GridSearchCV(
        make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 1.0, 10.0]},
        scoring="r2", cv=skms.PredefinedSplit(folds),
    ).fit(X_DIAB, Y_DIAB)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-10
    )
    assert ours.best_index_ == ref.best_index_
