"""SPMDMultinomialNB against sklearn's MultinomialNB fitted on the whole data."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SPLITS, WORLD, assert_replicated, assert_same_fit, local
from sklearn.datasets import load_digits, load_iris
from sklearn.naive_bayes import MultinomialNB

from skspmd.naive_bayes import SPMDMultinomialNB

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
LAST = SIZE - 1

DIGITS_X, DIGITS_Y = load_digits(return_X_y=True)


pytestmark = pytest.mark.usefixtures("one_thread_under_mpi")
ORDER = np.argsort(DIGITS_Y, kind="stable")


def _digits(sorted_by_label=False):
    if sorted_by_label:  # each rank then sees only some of the classes
        return DIGITS_X[ORDER], DIGITS_Y[ORDER]
    return DIGITS_X, DIGITS_Y


def _rows_here(n):
    start = WORLD.exscan(n) or 0
    return slice(start, start + n)


def test_params_are_sklearns():
    assert SPMDMultinomialNB().get_params().keys() == MultinomialNB().get_params().keys()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("sorted_by_label", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_fit_matches_sklearn(split, sorted_by_label, sparse):
    X, y = _digits(sorted_by_label)
    ref = MultinomialNB().fit(X, y)
    X_local, y_local = local(split, X, y)
    if sparse:
        X_local = sp.csr_matrix(X_local)
    ours = SPMDMultinomialNB().fit(X_local, y_local)
    assert_replicated(ours)
    assert_same_fit(ours, ref)
    assert ours.classes_.dtype == ref.classes_.dtype


@pytest.mark.filterwarnings("ignore:alpha too small")
@pytest.mark.parametrize("split", SPLITS)
def test_options_and_sample_weight(split):
    X, y = load_iris(return_X_y=True)
    y = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    w = np.random.default_rng(0).uniform(0, 3, X.shape[0])
    alpha = np.linspace(0.1, 2.0, X.shape[1])
    for params in (
        dict(alpha=alpha),
        dict(alpha=0.0, force_alpha=False, fit_prior=False),
        dict(class_prior=[0.2, 0.3, 0.5]),
    ):
        ref = MultinomialNB(**params).fit(X, y, sample_weight=w)
        X_local, y_local, w_local = local(split, X, y, w)
        ours = SPMDMultinomialNB(**params).fit(X_local, y_local, sample_weight=w_local)
        assert_replicated(ours)
        assert_same_fit(ours, ref)


@pytest.mark.parametrize("n_classes", [1, 2])
def test_one_and_two_classes(n_classes):
    X, y = _digits()
    keep = y < n_classes
    X, y = X[keep], y[keep] - 3  # negative labels: no class 0
    ref = MultinomialNB().fit(X, y)
    ours = SPMDMultinomialNB().fit(*local("uneven", X, y))
    assert_replicated(ours)
    assert_same_fit(ours, ref)


@pytest.mark.parametrize("split", SPLITS)
def test_partial_fit_matches_sklearn(split):
    X, y = _digits(sorted_by_label=True)
    classes = np.arange(12)  # two classes never seen
    ref, ours = MultinomialNB(), SPMDMultinomialNB()
    for batch in np.array_split(np.arange(X.shape[0]), 3):
        ref.partial_fit(X[batch], y[batch], classes=classes)
        ours.partial_fit(*local(split, X[batch], y[batch]), classes=classes)
        assert_replicated(ours)
        assert_same_fit(ours, ref)


@pytest.mark.parametrize("batch_labels", [[0, 5], [0, 1, 5]])
def test_partial_fit_unknown_labels_counted_as_sklearn(batch_labels):
    # sklearn's binarisation: with two classes and a batch of at most two
    # distinct labels, a label outside `classes` counts for the first class;
    # otherwise it is not counted
    X = DIGITS_X[:60]
    y = np.resize(batch_labels, 60)
    ref = MultinomialNB().partial_fit(X, y, classes=[0, 1])
    ours = SPMDMultinomialNB().partial_fit(*local("uneven", X, y), classes=[0, 1])
    assert_same_fit(ours, ref)


def test_predict_local_score_global():
    X, y = _digits()
    ref = MultinomialNB().fit(X, y)
    ours = SPMDMultinomialNB().fit(*local("even", X, y))
    X_test, y_test = X[::2] + 1, y[::2]
    w = np.linspace(0.1, 1.0, y_test.shape[0])
    Xt_local, yt_local, w_local = local("empty", X_test, y_test, w)
    rows = _rows_here(Xt_local.shape[0])
    np.testing.assert_array_equal(ours.predict(Xt_local), ref.predict(X_test)[rows])
    np.testing.assert_allclose(ours.predict_proba(Xt_local), ref.predict_proba(X_test)[rows])
    np.testing.assert_allclose(
        ours.predict_log_proba(Xt_local), ref.predict_log_proba(X_test)[rows]
    )
    for weights, local_weights in ((None, None), (w, w_local)):
        score = ours.score(Xt_local, yt_local, sample_weight=local_weights)
        np.testing.assert_allclose(
            score, ref.score(X_test, y_test, sample_weight=weights), rtol=1e-12
        )
        assert len(set(WORLD.allgather(score))) == 1


def test_score_with_no_test_row_on_any_rank_raises_everywhere():
    X, y = _digits()
    ours = SPMDMultinomialNB().fit(*local("even", X, y))
    with pytest.raises(ValueError, match="0 sample"):
        MultinomialNB().fit(X, y).score(X[:0], y[:0])
    with pytest.raises(ValueError, match="empty input array on every rank"):
        ours.score(X[:0], y[:0])


# ---------------------------------------------------------------------------
# Bad input: the same error on every rank
# ---------------------------------------------------------------------------


def test_negative_counts_on_one_rank():
    X, y = DIGITS_X[:40].copy(), DIGITS_Y[:40]
    X_local, y_local = local("even", X, y)
    X_local = X_local.copy()
    if RANK == LAST:
        X_local[0, 3] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to MultinomialNB") as err:
        SPMDMultinomialNB().fit(X_local, y_local)
    if SIZE > 1:
        assert f"rank {LAST}" in str(err.value)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "bad, message", [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")]
)
def test_non_finite_counts_on_one_rank(bad, message, sparse):
    """sklearn's finiteness error on every rank, even on a zero-weight or unknown-label row."""
    X, y = DIGITS_X[:40].copy(), DIGITS_Y[:40]
    w = np.ones(40)
    w[-1] = 0.0  # the bad value sits on a row that carries no weight
    X[-1, 5] = bad
    with pytest.raises(ValueError, match=message):
        MultinomialNB().fit(X, y, sample_weight=w)
    X_local, y_local, w_local = local("uneven", X, y, w)
    if sparse:
        X_local = sp.csr_matrix(X_local)
    with pytest.raises(ValueError, match=message) as err:
        SPMDMultinomialNB().fit(X_local, y_local, sample_weight=w_local)
    if SIZE > 1:
        assert f"rank {LAST}" in str(err.value)
    # partial_fit: a label outside ``classes`` is not counted, but X is still checked,
    # and the failed first call leaves the estimator unfitted
    y_other = y_local.copy()
    if RANK == LAST and y_other.size:
        y_other[-1] = 99
    nb = SPMDMultinomialNB()
    with pytest.raises(ValueError, match=message):
        nb.partial_fit(X_local, y_other, classes=np.arange(10))
    assert not hasattr(nb, "classes_")


def test_integer_counts_match_sklearn():
    X, y = DIGITS_X[:90].astype(np.int64), DIGITS_Y[:90]
    ref = MultinomialNB().fit(X, y)
    ours = SPMDMultinomialNB().fit(*local("uneven", X, y))
    np.testing.assert_allclose(ours.feature_count_, ref.feature_count_)
    np.testing.assert_allclose(ours.feature_log_prob_, ref.feature_log_prob_, rtol=1e-12)


def test_partial_fit_needs_classes_first():
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SPMDMultinomialNB().partial_fit(*local("even", DIGITS_X[:30], DIGITS_Y[:30]))
    nb = SPMDMultinomialNB().partial_fit(
        *local("even", DIGITS_X[:30], DIGITS_Y[:30]), classes=np.arange(10)
    )
    with pytest.raises(ValueError, match="is not the same as on last call"):
        nb.partial_fit(*local("even", DIGITS_X[:30], DIGITS_Y[:30]), classes=np.arange(11))


def test_all_zero_sample_weights():
    X_local, y_local = local("uneven", DIGITS_X[:30], DIGITS_Y[:30])
    with pytest.raises(ValueError, match="at least one non-zero"):
        SPMDMultinomialNB().fit(X_local, y_local, sample_weight=np.zeros(y_local.shape[0]))


def test_mixed_label_types_across_ranks():
    if SIZE == 1:
        pytest.skip("needs two ranks")
    X_local = DIGITS_X[:10]
    y_local = np.arange(10) % 3
    if RANK == LAST:
        y_local = np.array(["a", "b"] * 5, dtype=object)
    with pytest.raises(ValueError, match="Mix of label input types"):
        SPMDMultinomialNB().fit(X_local, y_local)


def test_continuous_labels():
    X_local = DIGITS_X[:10]
    y_local = np.linspace(0, 1, 10) + RANK
    with pytest.raises(ValueError, match="Unknown label type"):
        SPMDMultinomialNB().fit(X_local, y_local)


@pytest.mark.serial
@pytest.mark.parametrize(
    "y",
    [
        np.array([3, -2, 3, 7, -2, 0]),
        np.array([4, 0, 2, 4, 19]),  # non-negative: the table is indexed by y itself
        np.array([70001, 70000, 70001]),  # above the table's limit: shifted by the minimum
        np.array([5, 1, 1, 250], dtype=np.uint8),
        np.array([10**12, -(10**12), 0, 10**12]),  # wide span: np.unique's path
        np.array(["b", "a", "c", "a"]),
        np.array([], dtype=np.int64),
    ],
)
def test_distinct_labels_as_numpy_unique(y):
    from skspmd.naive_bayes._multinomial import _distinct

    local, inverse = _distinct(y)
    ref_local, ref_inverse = np.unique(y, return_inverse=True)
    np.testing.assert_array_equal(local, ref_local)
    assert local.dtype == ref_local.dtype
    np.testing.assert_array_equal(inverse, ref_inverse.ravel())
