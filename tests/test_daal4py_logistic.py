"""skspmd.daal4py's logistic_regression_training/_prediction against scikit-learn.

daal4py minimises ``mean_i loss_i + penaltyL2 * ||beta||^2`` (intercepts not
penalised): scikit-learn's objective with ``C = 1 / (2 * penaltyL2 * n)``.
"""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, local
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import skspmd.daal4py as d4p

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
TIGHT = d4p.optimization_solver_lbfgs(nIterations=10_000, accuracyThreshold=1e-10)
ALL_FLAGS = "computeClassLabels|computeClassProbabilities|computeClassLogProbabilities"

pytestmark = pytest.mark.usefixtures("one_blas_thread", "one_thread_under_mpi")


def _data(name):
    X, y = (load_breast_cancer if name == "cancer" else load_iris)(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _beta(est, fit_intercept):
    intercept = est.intercept_[:, None] if fit_intercept else np.zeros((len(est.coef_), 1))
    return np.hstack([intercept, est.coef_])


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("name", ["cancer", "iris"])
def test_training_matches_sklearn(name, intercept, split):
    X, y = _data(name)
    k = len(np.unique(y))
    lam = 0.01
    ref = LogisticRegression(C=1 / (2 * lam * len(X)), fit_intercept=intercept, tol=1e-10,
                             max_iter=10_000).fit(X, y)
    X_local, y_local = local(split, X, y)
    algo = d4p.logistic_regression_training(
        k, interceptFlag=intercept, penaltyL2=lam, optimizationSolver=TIGHT, distributed=True
    )
    model = algo.compute(X_local, y_local.reshape(-1, 1).astype(float)).model
    assert model.Beta.shape == ((1 if k == 2 else k), X.shape[1] + 1)
    np.testing.assert_allclose(model.Beta, _beta(ref, intercept), atol=1e-6)
    assert model.NumberOfBetas == X.shape[1] + 1 and model.NumberOfFeatures == X.shape[1]
    assert model.InterceptFlag is intercept
    everyone = WORLD.allgather(model.Beta)
    assert all(np.array_equal(b, model.Beta) for b in everyone)

    pred = d4p.logistic_regression_prediction(k, resultsToEvaluate=ALL_FLAGS).compute(
        X_local, model
    )
    start = WORLD.exscan(len(X_local)) or 0
    rows = slice(start, start + len(X_local))
    assert pred.prediction.shape == (len(X_local), 1) and pred.prediction.dtype == np.float64
    np.testing.assert_array_equal(pred.prediction[:, 0], ref.predict(X)[rows])
    np.testing.assert_allclose(pred.probabilities, ref.predict_proba(X)[rows], atol=1e-6)
    np.testing.assert_allclose(np.exp(pred.logProbabilities), pred.probabilities, rtol=1e-12)
    labels_only = d4p.logistic_regression_prediction(k).compute(X_local, model)
    assert labels_only.probabilities is None and labels_only.logProbabilities is None


@pytest.mark.parametrize("split", SPLITS)
def test_weights_and_no_penalty(split):
    rng = np.random.default_rng(0)  # overlapping classes: a finite unpenalised solution
    X = rng.standard_normal((200, 3))
    y = np.argmax(X @ rng.standard_normal((3, 3)) + rng.gumbel(size=(200, 3)), axis=1)
    w = rng.uniform(0.5, 2.0, len(y))
    ref = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=w)
    X_local, y_local, w_local = local(split, X, y, w)
    model = d4p.logistic_regression_training(
        3, interceptFlag=True, optimizationSolver=TIGHT, distributed=True
    ).compute(X_local, y_local, w_local.reshape(-1, 1)).model
    np.testing.assert_allclose(model.Beta, _beta(ref, True), atol=1e-5)
    lam = 0.05
    ref = LogisticRegression(C=1 / (2 * lam * w.sum()), tol=1e-10, max_iter=10_000)
    ref.fit(X, y, sample_weight=w)
    model = d4p.logistic_regression_training(
        3, interceptFlag=True, penaltyL2=lam, optimizationSolver=TIGHT, distributed=True
    ).compute(X_local, y_local, weights=w_local).model
    np.testing.assert_allclose(model.Beta, _beta(ref, True), atol=1e-6)


def test_local_mode_uses_this_ranks_rows():
    X, y = _data("cancer")
    X_local, y_local = local("even", X, y)
    model = d4p.logistic_regression_training(2, penaltyL2=0.1, optimizationSolver=TIGHT).compute(
        X_local, y_local
    ).model
    ref = LogisticRegression(C=1 / (0.2 * len(X_local)), fit_intercept=False, tol=1e-10,
                             max_iter=10_000).fit(X_local, y_local)
    np.testing.assert_allclose(model.Beta, _beta(ref, False), atol=1e-6)


def test_errors():
    X, y = _data("iris")
    X_local, y_local = local("even", X, y)
    with pytest.raises(d4p.UnsupportedError, match="penaltyL1"):
        d4p.logistic_regression_training(3, penaltyL1=0.1)
    with pytest.raises(d4p.UnsupportedError, match="engine|batchSize"):
        d4p.optimization_solver_lbfgs(batchSize=10)
    with pytest.raises(d4p.UnsupportedError, match="optimizationSolver"):
        d4p.logistic_regression_training(3, optimizationSolver=object())
    with pytest.raises(ValueError, match="nClasses must be >= 2"):
        d4p.logistic_regression_training(1)
    algo = d4p.logistic_regression_training(4, distributed=True)
    with pytest.raises(ValueError, match=r"class\(es\) \[3\] have no rows"):
        algo.compute(X_local, y_local)
    y_bad = y_local.astype(float)
    if RANK == SIZE - 1:
        y_bad[0] = 0.5
    with pytest.raises(ValueError, match="labels must be integers in 0..2"):
        d4p.logistic_regression_training(3, distributed=True).compute(X_local, y_bad)
    if SIZE > 1:
        weights = np.ones(len(y_local)) if RANK == 0 else None
        with pytest.raises(ValueError, match="given different inputs"):
            d4p.logistic_regression_training(3, distributed=True).compute(
                X_local, y_local, weights
            )
    model = d4p.logistic_regression_training(3).compute(X, y).model
    with pytest.raises(ValueError, match="nClasses=2 but the model has 3"):
        d4p.logistic_regression_prediction(2).compute(X, model)
