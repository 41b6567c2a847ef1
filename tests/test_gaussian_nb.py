"""SPMDGaussianNB against sklearn's GaussianNB fitted on the whole data."""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, assert_replicated, assert_same_fit, local
from sklearn.datasets import load_digits, load_iris
from sklearn.metrics import accuracy_score
from sklearn.naive_bayes import GaussianNB

from skspmd.naive_bayes import SPMDGaussianNB

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
IRIS = load_iris(return_X_y=True)
DIGITS = load_digits(return_X_y=True)

pytestmark = pytest.mark.usefixtures("one_thread_under_mpi")


def _sorted(X, y):
    order = np.argsort(y, kind="stable")  # each rank then sees only some classes
    return X[order], y[order]


def test_params_are_sklearns():
    assert SPMDGaussianNB().get_params().keys() == GaussianNB().get_params().keys()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("sorted_by_label", [False, True])
@pytest.mark.parametrize("data", ["iris", "digits"])
def test_fit_matches_sklearn(data, sorted_by_label, split):
    X, y = IRIS if data == "iris" else DIGITS
    if sorted_by_label:
        X, y = _sorted(X, y)
    ref = GaussianNB().fit(X, y)
    X_local, y_local = local(split, X, y)
    ours = SPMDGaussianNB().fit(X_local, y_local)
    assert_replicated(ours)
    assert_same_fit(ours, ref, rtol=1e-10, atol=1e-12)
    start = WORLD.exscan(len(X_local)) or 0
    rows = slice(start, start + len(X_local))
    np.testing.assert_allclose(ours.predict_proba(X_local), ref.predict_proba(X)[rows], atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X_local), ref.predict(X)[rows])
    assert ours.score(X_local, y_local) == pytest.approx(ref.score(X, y), abs=1e-12)


@pytest.mark.parametrize("split", SPLITS)
def test_options_and_sample_weight(split):
    X, y = IRIS
    y = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    w = np.random.default_rng(0).uniform(0, 3, X.shape[0])
    w[::5] = 0.0
    for params in (dict(), dict(var_smoothing=1e-2), dict(priors=[0.2, 0.3, 0.5])):
        ref = GaussianNB(**params).fit(X, y, sample_weight=w)
        X_local, y_local, w_local = local(split, X, y, w)
        ours = SPMDGaussianNB(**params).fit(X_local, y_local, sample_weight=w_local)
        assert_replicated(ours)
        assert_same_fit(ours, ref, rtol=1e-10, atol=1e-12)
        expected = accuracy_score(y, ref.predict(X), sample_weight=w)
        assert ours.score(X_local, y_local, sample_weight=w_local) == pytest.approx(expected)


@pytest.mark.parametrize("split", SPLITS)
def test_large_means_keep_their_variances(split):
    # per-class means of 1e9 and unit variances: the centred (Chan) merge keeps them
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 3)) + 1e9
    y = rng.integers(0, 3, 300)
    X_local, y_local = local(split, X, y)
    ours = SPMDGaussianNB().fit(X_local, y_local)
    for c in range(3):
        rows = X[y == c]
        expected = ((rows - rows.mean(axis=0, dtype=np.longdouble)) ** 2).mean(axis=0)
        np.testing.assert_allclose(ours.var_[c] - ours.epsilon_, expected.astype(float), rtol=1e-6)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_equals_sklearn_on_global_batches(split, weighted):
    X, y = _sorted(*DIGITS)  # early batches miss most classes
    w = np.random.default_rng(2).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    classes = np.arange(10)
    ref, ours = GaussianNB(), SPMDGaussianNB()
    for batch in np.array_split(np.arange(X.shape[0]), 4):
        Xb, yb = X[batch], y[batch]
        wb = None if w is None else w[batch]
        ref.partial_fit(Xb, yb, classes=classes, sample_weight=wb)
        Xl, yl, wl = local(split, Xb, yb, wb)
        ours.partial_fit(Xl, yl, classes=classes, sample_weight=wl)
        assert_replicated(ours)
        assert_same_fit(ours, ref, rtol=1e-9, atol=1e-12)
    # fit then partial_fit continues from the fitted model, as in sklearn
    X, y = DIGITS
    ref.fit(X[:500], y[:500]).partial_fit(X[500:], y[500:])
    ours.fit(*local(split, X[:500], y[:500])).partial_fit(*local(split, X[500:], y[500:]))
    assert_same_fit(ours, ref, rtol=1e-9, atol=1e-12)


def test_partial_fit_class_errors():
    X, y = IRIS
    X_local, y_local = local("uneven", X, y)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SPMDGaussianNB().partial_fit(X_local, y_local)
    est = SPMDGaussianNB().partial_fit(X_local, y_local, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call"):
        est.partial_fit(X_local, y_local, classes=[0, 1])
    # a label outside the classes on the last rank only: every rank raises
    y_bad = y_local.copy()
    if RANK == SIZE - 1 and len(y_bad):
        y_bad[-1] = 7
    before = est.theta_.copy()
    with pytest.raises(ValueError, match=r"The target label\(s\) \[7\] in y do not exist"):
        est.partial_fit(X_local, y_bad)
    np.testing.assert_array_equal(est.theta_, before)  # a failed batch changes nothing


def test_prior_errors():
    X_local, y_local = local("even", *IRIS)
    for priors, message in (
        ([0.5, 0.5], "Number of priors must match"),
        ([0.5, 0.6, 0.1], "sum of the priors should be 1"),
        ([1.2, -0.1, -0.1], "Priors must be non-negative"),
    ):
        with pytest.raises(ValueError, match=message):
            SPMDGaussianNB(priors=priors).fit(X_local, y_local)


def test_bad_input_raises_everywhere():
    X_local, y_local = local("even", *IRIS)
    X_bad = X_local.copy()
    if RANK == SIZE - 1:
        X_bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        SPMDGaussianNB().fit(X_bad, y_local)
    w = np.ones(len(y_local))
    if RANK == SIZE - 1:
        w[0] = -1.0
    with pytest.raises(ValueError, match="Negative values"):
        SPMDGaussianNB().fit(X_local, y_local, sample_weight=w)
    if SIZE > 1:
        y_mixed = y_local.astype(str) if RANK == 1 else y_local
        with pytest.raises(ValueError, match="Mix of label input types"):
            SPMDGaussianNB().fit(X_local, y_mixed)
