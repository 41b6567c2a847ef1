"""The one-pass kernels: compiled and NumPy versions agree, and are exact."""

import shutil
import sysconfig

import numpy as np
import pytest

from skspmd import _kernels
from skspmd._stats import Moments

pytestmark = pytest.mark.serial

ROUTES = [
    pytest.param(True, id="compiled",
                 marks=pytest.mark.skipif(not _kernels.compiled(), reason="not built")),
    pytest.param(False, id="numpy"),
]


def test_compiled_kernels_are_built_where_a_compiler_exists():
    # pip install builds the extension (setup.py); a silent build failure would
    # leave every fit on the NumPy fallback
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip("no C compiler on this machine")
    assert _kernels.compiled()


@pytest.mark.parametrize("use_compiled", ROUTES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 5, 2048, 5000])
def test_block_moments_match_numpy(use_compiled, dtype, n):
    X = (np.random.default_rng(n).standard_normal((n, 7)) * 3 + 10).astype(dtype)
    block = 2048
    stats = _kernels.block_moments(X, block, use_compiled=use_compiled)
    assert stats.shape == (-(-n // block), 4, 7)
    for b in range(stats.shape[0]):
        rows = X[b * block : (b + 1) * block].astype(np.float64)
        shifted = rows - rows[0]
        np.testing.assert_allclose(stats[b, 0], shifted.sum(0), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(stats[b, 1], (shifted**2).sum(0), rtol=1e-12)
        np.testing.assert_array_equal(stats[b, 2], rows.min(0))
        np.testing.assert_array_equal(stats[b, 3], rows.max(0))
    n_, mean, m2, lo, hi = _kernels.merge_blocks(X, stats, block)
    X64 = X.astype(np.float64)
    assert n_ == n
    np.testing.assert_allclose(mean, X64.mean(0), rtol=1e-13)
    np.testing.assert_allclose(m2, ((X64 - X64.mean(0)) ** 2).sum(0), rtol=1e-10, atol=1e-9)
    np.testing.assert_array_equal(lo, X64.min(0))
    np.testing.assert_array_equal(hi, X64.max(0))


@pytest.mark.parametrize("use_compiled", ROUTES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 3, 2049])
def test_block_moments_flag_non_finite(use_compiled, bad, where):
    X = np.ones((3000, 4))
    X[where, 2] = bad
    stats = _kernels.block_moments(X, 2048, use_compiled=use_compiled)
    assert not np.isfinite(stats[where // 2048, 0, 2])


@pytest.mark.parametrize("use_compiled", ROUTES)
def test_variance_exact_with_large_offset_and_far_shift(use_compiled, monkeypatch):
    # 1e9 offset (the extended-precision reference keeps every digit), and a
    # block whose first row is an outlier: its shift is far from its mean,
    # which the merge detects and recomputes exactly
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6000, 3)) + 1e9
    X[2048] = 1e13
    if not use_compiled:
        monkeypatch.setattr(_kernels, "_ckernels", None)
    m = Moments.from_rows(X)
    ref = X.astype(np.longdouble)
    exact = ((ref - ref.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(m.m2, exact.astype(np.float64), rtol=1e-12)
    np.testing.assert_allclose(m.mean, ref.mean(0).astype(np.float64), rtol=1e-14)


@pytest.mark.parametrize("use_compiled", ROUTES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_group_sums_match_reference(use_compiled, dtype):
    rng = np.random.default_rng(0)
    X = rng.poisson(2.0, size=(5000, 9)).astype(dtype)
    X[17, 4] = -1.5
    rows = rng.integers(0, 4, size=5000)
    w = rng.uniform(0, 2, size=5000)
    out = np.zeros((4, 9))
    lowest = _kernels.group_sums(X, rows, w, out, use_compiled=use_compiled)
    expected = np.zeros((4, 9))
    np.add.at(expected, rows, w[:, None] * X.astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert lowest == -1.5


@pytest.mark.parametrize("use_compiled", ROUTES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_group_sums_carry_non_finite_into_the_sums(use_compiled, bad):
    X = np.ones((100, 3))
    X[50, 1] = bad
    w = np.ones(100)
    w[50] = 0.0  # even a zero-weight row carries it
    out = np.zeros((2, 3))
    _kernels.group_sums(X, np.zeros(100, dtype=np.int64), w, out, use_compiled=use_compiled)
    assert not np.isfinite(out[0, 1])


@pytest.mark.skipif(not _kernels.compiled(), reason="not built")
def test_compiled_group_sums_reject_out_of_range_groups():
    with pytest.raises(ValueError, match="out of range"):
        _kernels.group_sums(
            np.ones((3, 2)), np.array([0, 2, 1]), np.ones(3), np.zeros((2, 2))
        )
