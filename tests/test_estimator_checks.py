"""sklearn's estimator checks on every public estimator (size 1), plus API parity.

This is the one place where ``parametrize_with_checks`` runs: the per-family
test files do not repeat it.
"""

import inspect
import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import skspmd

# Every expected failure, with its reason. Anything else must pass.
EXPECTED_FAILURES = {
    "SPMDStandardScaler": {
        "check_estimators_nan_inf": (
            "fit rejects NaN/inf on every rank (collective validation); transform is "
            "sklearn's and passes NaN through like sklearn's StandardScaler"
        ),
    },
    # the same expected failures sklearn lists for the twins in its own test suite
    "SPMDKMeans": {
        "check_sample_weight_equivalence_on_dense_data": (
            "as sklearn's KMeans: sample_weight is not equivalent to removing/repeating "
            "samples (different k-means++ draws)"
        ),
        "check_sample_weight_equivalence_on_sparse_data": (
            "as sklearn's KMeans: sample_weight is not equivalent to removing/repeating "
            "samples (different k-means++ draws)"
        ),
    },
    "SPMDElasticNet": {
        "check_sample_weight_equivalence_on_dense_data": (
            "the weighted data of this check have more features (30) than rows (27), "
            "where the merged-Gram route raises by design (documented)"
        ),
    },
    "SPMDLasso": {
        "check_sample_weight_equivalence_on_dense_data": (
            "the weighted data of this check have more features (30) than rows (27), "
            "where the merged-Gram route raises by design (documented)"
        ),
    },
    "SPMDRidge": {
        "check_non_transformer_estimators_n_iter": (
            "as sklearn's Ridge: n_iter_ is None for the direct solvers"
        ),
    },
}

# Small settings for the checks, as sklearn's own suite uses for the twins.
CHECK_PARAMS = {"SPMDKMeans": dict(n_init=2, n_clusters=2, max_iter=5)}


def public_estimators():
    """One default instance of every public estimator class exported by skspmd."""
    out = []
    for name in sorted(skspmd.__all__):
        obj = getattr(skspmd, name)
        if isinstance(obj, type) and name.startswith("SPMD") and hasattr(obj, "fit"):
            out.append(obj(**CHECK_PARAMS.get(name, {})))
    return out


ESTIMATORS = public_estimators()

# Solver paths the default instances do not take, checked as well.
OTHER_SOLVERS = [
    skspmd.SPMDPCA(svd_solver="randomized", n_components=2, random_state=0),
    skspmd.SPMDTruncatedSVD(algorithm="arpack", n_components=1),
]


@pytest.mark.serial
@parametrize_with_checks(
    ESTIMATORS + OTHER_SOLVERS,
    expected_failed_checks=lambda est: EXPECTED_FAILURES.get(type(est).__name__, {}),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.serial
@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_params_match_sklearn_twin(est):
    twin = next(
        (c for c in type(est).__mro__[1:] if c.__module__.startswith("sklearn.")
         and c.__name__ == type(est).__name__[4:]),
        None,
    )
    if twin is None:
        pytest.skip("no sklearn twin")
    assert sorted(est.get_params()) == sorted(twin().get_params())


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_clone_and_pickle_roundtrip(est):
    from sklearn.base import clone

    X = np.random.default_rng(0).poisson(3.0, size=(30, 4)).astype(float)
    y = np.arange(30) % 3
    takes_y = inspect.signature(est.fit).parameters["y"].default is inspect.Parameter.empty
    fitted = clone(est).fit(X, y) if takes_y else clone(est).fit(X)
    again = pickle.loads(pickle.dumps(fitted))
    for name in ("predict", "transform"):
        if hasattr(fitted, name):
            np.testing.assert_array_equal(getattr(again, name)(X), getattr(fitted, name)(X))


@pytest.mark.serial
@pytest.mark.parametrize("skip", [False, True], ids=["validate", "skip"])
@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fit_honours_skip_parameter_validation(est, skip, monkeypatch):
    # every collective fit goes through spmd_fit, i.e. sklearn's fit context
    import sklearn
    from sklearn.base import clone

    est = clone(est)
    calls = []
    original = type(est)._validate_params
    monkeypatch.setattr(
        type(est), "_validate_params", lambda self: calls.append(1) or original(self)
    )
    X = np.random.default_rng(0).poisson(3.0, size=(30, 4)).astype(float)
    y = np.arange(30) % 3
    takes_y = inspect.signature(est.fit).parameters["y"].default is inspect.Parameter.empty
    with sklearn.config_context(skip_parameter_validation=skip):
        est.fit(X, y) if takes_y else est.fit(X)
    assert (len(calls) == 0) if skip else (len(calls) >= 1)
