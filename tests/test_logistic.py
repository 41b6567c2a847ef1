"""SPMDLogisticRegression against sklearn's LogisticRegression fitted on the whole data."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, assert_replicated, local
from sklearn import model_selection as skms
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler

from skspmd import SPMDStandardScaler
from skspmd.linear_model import SPMDLogisticRegression
from skspmd.model_selection import GridSearchCV
from skspmd.pipeline import make_pipeline

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
SOLVERS = ("lbfgs", "newton-cholesky")
TIGHT = dict(tol=1e-10, max_iter=10_000)

# small problems: a second BLAS thread only costs time on a shared machine
pytestmark = pytest.mark.usefixtures("one_blas_thread", "one_thread_under_mpi")


def _scaled(loader, n=None):
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return (X, y) if n is None else (X[:n], y[:n])


def _noisy(n=240, n_features=4, n_classes=3, seed=0):
    """Overlapping classes: the unpenalised problem has a finite solution."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    scores = X @ rng.standard_normal((n_features, n_classes)) + rng.gumbel(size=(n, n_classes))
    return X, np.argmax(scores, axis=1)


CANCER = _scaled(load_breast_cancer)
IRIS = _scaled(load_iris)
DIGITS = _scaled(load_digits, 400)
NOISY = _noisy()


def _assert_coef_close(ours, ref, rtol=1e-6):
    """coef_ and intercept_ equal to ``rtol`` relative to the largest coefficient."""
    scale = max(np.abs(ref.coef_).max(), np.abs(ref.intercept_).max())
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=rtol * scale)
    assert ours.coef_.shape == ref.coef_.shape and ours.coef_.dtype == ref.coef_.dtype
    assert ours.intercept_.shape == ref.intercept_.shape
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.n_iter_.shape == (1,) and ours.n_iter_.dtype == np.int32


def _fit_both(X, y, split, sample_weight=None, **params):
    ref = LogisticRegression(**params).fit(X, y, sample_weight=sample_weight)
    X_local, y_local, w_local = local(split, X, y, sample_weight)
    ours = SPMDLogisticRegression(**params).fit(X_local, y_local, sample_weight=w_local)
    assert_replicated(ours)
    return ours, ref


def test_params_are_sklearns():
    assert SPMDLogisticRegression().get_params().keys() == LogisticRegression().get_params().keys()


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("data", ["cancer", "iris", "digits"])
def test_fit_matches_sklearn(data, split, solver):
    X, y = {"cancer": CANCER, "iris": IRIS, "digits": DIGITS}[data]
    ours, ref = _fit_both(X, y, split, solver=solver, **TIGHT)
    _assert_coef_close(ours, ref)
    if solver == "newton-cholesky":
        assert ours.n_iter_[0] == ref.n_iter_[0]
    X_local = local(split, X)
    start = WORLD.exscan(len(X_local)) or 0
    rows = slice(start, start + len(X_local))  # this rank's rows of the whole data
    np.testing.assert_allclose(
        ours.predict_proba(X_local), ref.predict_proba(X)[rows], rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(
        ours.decision_function(X_local), ref.decision_function(X)[rows], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(ours.predict(X_local), ref.predict(X)[rows])
    assert ours.predict_log_proba(X_local).shape == (len(X_local), len(ref.classes_))
    assert ours.score(X_local, local(split, y)) == pytest.approx(ref.score(X, y), abs=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("split", SPLITS)
def test_default_tolerance_is_sklearns(split, solver):
    X, y = IRIS
    ours, ref = _fit_both(X, y, split, solver=solver)
    _assert_coef_close(ours, ref, rtol=1e-4)
    assert abs(int(ours.n_iter_[0]) - int(ref.n_iter_[0])) <= 2


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "params",
    [dict(C=0.05), dict(C=np.inf), dict(fit_intercept=False), dict(C=10.0, fit_intercept=False)],
    ids=["C0.05", "no-penalty", "no-intercept", "C10-no-intercept"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_options(n_classes, params, split, solver):
    X, y = _noisy(n_classes=n_classes)
    ours, ref = _fit_both(X, y, split, solver=solver, **TIGHT, **params)
    _assert_coef_close(ours, ref, rtol=1e-5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("data", ["cancer", "iris"])
def test_class_and_sample_weights(data, split, solver):
    X, y = {"cancer": CANCER, "iris": IRIS}[data]
    w = np.random.default_rng(0).uniform(0, 3, X.shape[0])
    w[::7] = 0.0
    classes = np.unique(y)
    for class_weight in (None, "balanced", {c: 1.0 + i for i, c in enumerate(classes)}):
        ours, ref = _fit_both(
            X, y, split, sample_weight=w, class_weight=class_weight, solver=solver, **TIGHT
        )
        _assert_coef_close(ours, ref)
        X_local, y_local, w_local = local(split, X, y, w)
        expected = accuracy_score(y, ref.predict(X), sample_weight=w)
        assert ours.score(X_local, y_local, sample_weight=w_local) == pytest.approx(expected)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("split", ["even", "uneven"])
def test_rank_missing_classes(split, solver):
    # rows sorted by label: each rank sees only some classes, the last may see one
    X, y = IRIS
    order = np.argsort(y, kind="stable")
    X, y = X[order], np.array(["setosa", "versicolor", "virginica"])[y[order]]
    for class_weight in (None, "balanced"):
        ours, ref = _fit_both(X, y, split, solver=solver, class_weight=class_weight, **TIGHT)
        _assert_coef_close(ours, ref)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("data", ["cancer", "iris"])
def test_csr_input(data, split, solver):
    X, y = {"cancer": CANCER, "iris": IRIS}[data]
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # some structural zeros
    ref = LogisticRegression(solver=solver, **TIGHT).fit(sp.csr_matrix(X), y)
    X_local, y_local = local(split, X, y)
    ours = SPMDLogisticRegression(solver=solver, **TIGHT).fit(sp.csr_matrix(X_local), y_local)
    assert_replicated(ours)
    _assert_coef_close(ours, ref)
    dense = SPMDLogisticRegression(solver=solver, **TIGHT).fit(X_local, y_local)
    _assert_coef_close(ours, dense)


@pytest.mark.parametrize("split", SPLITS)
def test_float32(split):
    X, y = IRIS
    X = X.astype(np.float32)
    ours, ref = _fit_both(X, y, split, tol=1e-6, max_iter=1000)
    assert ours.coef_.dtype == np.float32
    _assert_coef_close(ours, ref, rtol=1e-3)


@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start(solver):
    X, y = IRIS
    X_local, y_local = local("uneven", X, y)
    params = dict(solver=solver, warm_start=True, tol=1e-10, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = SPMDLogisticRegression(**params).fit(X_local, y_local)
        ref = LogisticRegression(**params).fit(X, y)
        ours.set_params(max_iter=10_000).fit(X_local, y_local)
        ref.set_params(max_iter=10_000).fit(X, y)
    assert_replicated(ours)
    _assert_coef_close(ours, ref)
    with pytest.raises(ValueError, match="Initialization coef is of shape"):
        ours.fit(X_local, (y_local == 0).astype(int))


def test_grid_search_over_C():
    X, y = IRIS
    folds = np.arange(X.shape[0]) % 3
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    ours = GridSearchCV(
        SPMDLogisticRegression(max_iter=1000), grid, cv=skms.PredefinedSplit(local("uneven", folds))
    ).fit(*local("uneven", X, y))
    ref = skms.GridSearchCV(
        LogisticRegression(max_iter=1000), grid, cv=skms.PredefinedSplit(folds)
    ).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-12
    )
    assert ours.best_params_ == ref.best_params_
    assert_replicated(ours.best_estimator_)
    _assert_coef_close(ours.best_estimator_, ref.best_estimator_, rtol=1e-4)


@pytest.mark.parametrize("split", SPLITS)
def test_pipeline_after_standard_scaler(split):
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    ref = sk_make_pipeline(StandardScaler(), LogisticRegression(**TIGHT)).fit(X, y)
    X_local, y_local = local(split, X, y)
    ours = make_pipeline(SPMDStandardScaler(), SPMDLogisticRegression(**TIGHT))
    ours.fit(X_local, y_local)
    assert_replicated(ours[-1])
    _assert_coef_close(ours[-1], ref[-1])
    assert ours.score(X_local, y_local) == pytest.approx(ref.score(X, y), abs=1e-12)
    start = WORLD.exscan(len(X_local)) or 0
    np.testing.assert_array_equal(ours.predict(X_local), ref.predict(X)[start : start + len(X_local)])


# -- errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="saga"),
        dict(solver="liblinear"),
        dict(solver="newton-cg"),
        dict(solver="sag"),
        dict(l1_ratio=1.0),
        dict(l1_ratio=0.5),
        dict(dual=True),
    ],
)
def test_unsupported_solvers_and_penalties(params):
    X_local, y_local = local("uneven", *IRIS)
    with pytest.raises(ValueError, match="supports solver='lbfgs' or 'newton-cholesky'"):
        SPMDLogisticRegression(**params).fit(X_local, y_local)


def test_penalty_deprecation_is_sklearns():
    X_local, y_local = local("uneven", *IRIS)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        SPMDLogisticRegression(penalty="l2", max_iter=1000).fit(X_local, y_local)
    with pytest.raises(ValueError, match="supports solver"):
        SPMDLogisticRegression(penalty="l1").fit(X_local, y_local)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning with the non-deprecated spelling
        SPMDLogisticRegression(C=np.inf, max_iter=1000).fit(X_local, y_local)


def test_one_class_in_total():
    X, y = IRIS
    keep = y == 2
    X_local, y_local = local("uneven", X[keep], y[keep])
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: np.int64\\(2\\)"):
        SPMDLogisticRegression().fit(X_local, y_local)


def test_one_class_per_rank_is_fine():
    X, y = CANCER
    order = np.argsort(y, kind="stable")
    ours, ref = _fit_both(X[order], y[order], "even", **TIGHT)
    _assert_coef_close(ours, ref)


@pytest.mark.skipif(SIZE == 1, reason="needs two ranks")
def test_label_types_differ_between_ranks():
    X_local, y_local = local("even", *IRIS)
    if RANK == 1:
        y_local = y_local.astype(str)
    with pytest.raises(ValueError, match="Mix of label input types"):
        SPMDLogisticRegression().fit(X_local, y_local)


def test_nan_and_negative_weight_on_last_rank():
    X_local, y_local = local("even", *IRIS)
    X_bad = X_local.copy()
    if RANK == SIZE - 1:
        X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SPMDLogisticRegression().fit(X_bad, y_local)
    w = np.ones(len(y_local))
    if RANK == SIZE - 1:
        w[-1] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        SPMDLogisticRegression().fit(X_local, y_local, sample_weight=w)
    with pytest.raises(ValueError, match="Unknown label type"):
        SPMDLogisticRegression().fit(X_local, y_local + (0.5 if RANK == SIZE - 1 else 0.0))


def test_all_zero_weights():
    X_local, y_local = local("even", *IRIS)
    with pytest.raises(ValueError, match="at least one non-zero"):
        SPMDLogisticRegression().fit(X_local, y_local, sample_weight=np.zeros(len(y_local)))


def test_verbose_prints_on_rank_zero_only(capsys):
    X_local, y_local = local("even", *IRIS)
    SPMDLogisticRegression(solver="newton-cholesky", verbose=1).fit(X_local, y_local)
    out = capsys.readouterr().out
    assert ("Newton iter" in out) == (RANK == 0)
