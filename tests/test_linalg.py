"""skspmd.linalg: distributed TSQR and thin SVD against NumPy on the gathered matrix."""

import numpy as np
import pytest
from helpers import SPLITS, WORLD, gather_rows, local

from skspmd.linalg import qr, svd

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _matrix(n, d, cond=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if cond is not None:
        U, _ = np.linalg.qr(X)
        V, _ = np.linalg.qr(rng.standard_normal((d, d)))
        X = (U * np.logspace(0, -np.log10(cond), d)) @ V.T
    return X


def _assert_identical_everywhere(*arrays):
    mine = [np.ascontiguousarray(a).tobytes() for a in arrays]
    for other in WORLD.allgather(mine):
        assert other == mine, "result differs between ranks"


def _numpy_r(X):
    R = np.linalg.qr(X, mode="r")
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1
    return R * signs[:, None]


# (rows, columns): with 3 ranks the 7 x 5 matrix leaves every rank fewer rows
# than columns, and the "empty" split leaves rank 1 none
SHAPES = [(60, 6), (7, 5), (300, 1)]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_qr_orthonormal_and_reproduces_x(split, shape):
    X = _matrix(*shape)
    Q_local, R = qr(local(split, X))
    Q = gather_rows(Q_local)
    d = X.shape[1]
    assert Q_local.shape == (local(split, X).shape[0], d) and R.shape == (d, d)
    np.testing.assert_allclose(Q.T @ Q, np.eye(d), rtol=0, atol=1e-12)
    assert np.linalg.norm(Q @ R - X) <= 1e-12 * np.linalg.norm(X)
    assert np.allclose(R, np.triu(R), rtol=0, atol=0)
    assert np.all(np.diag(R) >= 0)
    np.testing.assert_allclose(R, _numpy_r(X), rtol=1e-12, atol=1e-12 * np.abs(R).max())
    _assert_identical_everywhere(R)


@pytest.mark.parametrize("split", SPLITS)
def test_qr_mode_r_matches_numpy(split):
    X = _matrix(40, 4, seed=1)
    R = qr(local(split, X), mode="r")
    np.testing.assert_allclose(R, _numpy_r(X), rtol=1e-12, atol=1e-13)
    _assert_identical_everywhere(R)


@pytest.mark.parametrize("cond", [1e3, 1e10], ids=["cholqr2", "householder"])
@pytest.mark.parametrize("split", ["uneven", "empty"])
def test_qr_conditioning(cond, split, monkeypatch):
    # 1e10 is beyond CholeskyQR2: the Householder fallback must still be exact
    import skspmd._tsqr

    calls = []
    householder = skspmd._tsqr.householder_qr
    monkeypatch.setattr(
        skspmd._tsqr, "householder_qr", lambda *a: calls.append(1) or householder(*a)
    )
    X = _matrix(80, 5, cond=cond, seed=2)
    Q_local, R = qr(local(split, X))
    assert len(calls) == (1 if cond > 1e6 else 0)
    Q = gather_rows(Q_local)
    np.testing.assert_allclose(Q.T @ Q, np.eye(5), rtol=0, atol=1e-12)
    assert np.linalg.norm(Q @ R - X) <= 1e-12 * np.linalg.norm(X)
    _assert_identical_everywhere(R)


def test_qr_rank_deficient():
    X = _matrix(30, 4, seed=3)
    X[:, 3] = X[:, 0] + X[:, 1]  # rank 3
    Q_local, R = qr(local("uneven", X))
    Q = gather_rows(Q_local)
    np.testing.assert_allclose(Q.T @ Q, np.eye(4), rtol=0, atol=1e-12)
    assert np.linalg.norm(Q @ R - X) <= 1e-12 * np.linalg.norm(X)
    assert abs(R[3, 3]) < 1e-12 * np.abs(R).max()


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_svd_matches_numpy(split, shape):
    X = _matrix(*shape, seed=4)
    U_local, s, Vt = svd(local(split, X))
    U = gather_rows(U_local)
    _, s_np, Vt_np = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(s, s_np, rtol=1e-12, atol=1e-14)
    # same right singular vectors up to the sign of each row
    signs = np.sign(np.sum(Vt * Vt_np, axis=1))
    np.testing.assert_allclose(Vt, Vt_np * signs[:, None], atol=1e-10)
    # sklearn's v-based sign convention: the largest |entry| of each row is positive
    rows = np.arange(Vt.shape[0])
    assert np.all(Vt[rows, np.argmax(np.abs(Vt), axis=1)] > 0)
    d = X.shape[1]
    np.testing.assert_allclose(U.T @ U, np.eye(d), rtol=0, atol=1e-12)
    assert np.linalg.norm((U * s) @ Vt - X) <= 1e-12 * np.linalg.norm(X)
    _assert_identical_everywhere(s, Vt)


@pytest.mark.parametrize("split", SPLITS)
def test_svd_without_u_small_singular_values(split):
    # singular values spanning 1e0..1e-9: R-only Householder keeps them all
    X = _matrix(50, 6, cond=1e9, seed=5)
    U, s, Vt = svd(local(split, X), compute_u=False)
    assert U is None
    expected = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(s, expected, rtol=1e-6)
    np.testing.assert_allclose(s, np.logspace(0, -9, 6), rtol=1e-6)
    _assert_identical_everywhere(s, Vt)


def test_float32_keeps_dtype():
    X = _matrix(40, 3, seed=6).astype(np.float32)
    Q_local, R = qr(local("uneven", X))
    U_local, s, Vt = svd(local("uneven", X))
    assert Q_local.dtype == R.dtype == U_local.dtype == s.dtype == Vt.dtype == np.float32
    np.testing.assert_allclose(s, np.linalg.svd(X.astype(float), compute_uv=False), rtol=1e-5)


@pytest.mark.parametrize("func", [qr, svd], ids=["qr", "svd"])
def test_wide_matrix_errors_on_every_rank(func):
    X = _matrix(4, 6)  # 4 global rows < 6 columns
    with pytest.raises(ValueError, match="tall-skinny.*4 row"):
        func(local("uneven", X))


@pytest.mark.parametrize("func", [qr, svd], ids=["qr", "svd"])
def test_nan_on_one_rank_errors_on_every_rank(func):
    X = _matrix(5 * SIZE, 3, seed=RANK)[:5]
    if RANK == SIZE - 1:
        X[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN") as err:
        func(X)
    if SIZE > 1:
        assert f"rank {SIZE - 1}" in str(err.value)


def test_mismatched_columns_error():
    if SIZE == 1:
        pytest.skip("needs two ranks")
    X = np.ones((5, 4 if RANK == 0 else 3))
    with pytest.raises(ValueError, match="different number of columns"):
        qr(X)


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        qr(np.eye(3), mode="complete")
