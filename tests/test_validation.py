"""Cross-rank input validation: every rank raises the same error, nobody hangs."""

import numpy as np
import pytest
from helpers import WORLD

from skspmd import SPMDBasicStatistics, SPMDEmpiricalCovariance, SPMDStandardScaler

ESTIMATORS = [SPMDStandardScaler, SPMDEmpiricalCovariance, SPMDBasicStatistics]
RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
LAST = SIZE - 1


def _block(rows=5, features=3, seed=0):
    return np.random.default_rng(seed + RANK).standard_normal((rows, features))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_on_one_rank(Est, bad):
    X = _block()
    if RANK == LAST:
        X[2, 1] = bad
    match = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=match) as err:
        Est().fit(X)
    if SIZE > 1:
        assert f"rank {LAST}" in str(err.value)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_mismatched_n_features(Est):
    if SIZE == 1:
        pytest.skip("needs two ranks")
    X = _block(features=4 if RANK == LAST else 3)
    with pytest.raises(ValueError, match=f"different number of features.*rank {LAST}: 4"):
        Est().fit(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_all_ranks_empty(Est):
    with pytest.raises(ValueError, match="0 sample"):
        Est().fit(np.empty((0, 3)))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_one_rank_empty_is_fine(Est):
    X = _block() if RANK != LAST or SIZE == 1 else np.empty((0, 3))
    est = Est().fit(X)
    assert est.n_features_in_ == 3


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([["a", "b", "c"]] * 5, dtype=object), "could not convert|Unable to convert"),
        (np.ones((5, 3, 2)), "Found array with dim 3|3D"),
        (np.ones((5, 3)) + 1j, "Complex data not supported"),
    ],
    ids=["strings", "3d", "complex"],
)
def test_wrong_dtypes_and_shapes_on_one_rank(Est, bad, match):
    X = bad if RANK == LAST else _block()
    with pytest.raises(ValueError, match=match):
        Est().fit(X)


def test_float32_and_float64_mixed_ranks_agree():
    X = _block().astype(np.float32 if RANK == 0 else np.float64)
    scaler = SPMDStandardScaler().fit(X)
    dtypes = WORLD.allgather(scaler.mean_.dtype.str)
    assert len(set(dtypes)) == 1


def test_negative_sample_weight_on_one_rank():
    X = _block()
    w = np.ones(5)
    if RANK == LAST:
        w[0] = -1
    with pytest.raises(ValueError, match="Negative values"):
        SPMDStandardScaler().fit(X, sample_weight=w)


def test_multi_output_y_with_zero_rows_on_a_rank():
    """validate_spmd_data(multi_output=True) accepts an empty rank and still checks y."""
    from sklearn.base import BaseEstimator

    from skspmd._validation import validate_spmd_data

    rows = 0 if RANK == LAST and SIZE > 1 else 4
    X = _block(rows=rows)
    Y = np.ones((rows, 2))
    X_out, Y_out, data = validate_spmd_data(
        BaseEstimator(), X, Y, multi_output=True, y_numeric=True, comm=WORLD
    )
    assert Y_out.shape == (rows, 2) and data.n_samples == 4 * max(SIZE - 1, 1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        validate_spmd_data(
            BaseEstimator(), X, np.ones((rows + 1, 2)), multi_output=True, comm=WORLD
        )
    Y_bad = Y.astype(object)
    if RANK == 0:
        Y_bad = np.full((4, 2), "a", dtype=object)
    with pytest.raises(ValueError):
        validate_spmd_data(BaseEstimator(), X, Y_bad, multi_output=True, y_numeric=True, comm=WORLD)
