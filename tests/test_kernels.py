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


# Widths that exercise every path of the compiled moments. The row kernel
# (up to 320 columns): C-ordered rows side by side as virtual rows of a
# multiple of 8 (with rows left over), or of 164 = 4 x 41 (the last vector
# split), single rows of 150 or 320; rows fewer than a block, and several
# blocks. The column-chunk kernel (wider rows): 32-, 16- and 8-column chunks
# and an overlapping last chunk.
SHAPES = [(1, 1), (3, 1), (2049, 1), (37, 3), (4100, 7), (100, 31), (3000, 32),
          (2500, 33), (70, 40), (2500, 41), (2100, 48), (513, 57), (4097, 100),
          (2100, 150), (2049, 320), (2049, 321), (300, 1000), (2100, 1003)]


@pytest.mark.skipif(not _kernels.compiled(), reason="not built")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_compiled_block_moments_agree_with_numpy_on_every_width(shape, dtype):
    n, d = shape
    rng = np.random.default_rng(n * 1000 + d)
    X = (rng.standard_normal((n, d)) * rng.uniform(0.1, 5, d) + rng.uniform(-9, 9, d))
    X = X.astype(dtype)
    compiled = _kernels.block_moments(X, use_compiled=True)
    fallback = _kernels.block_moments(X, use_compiled=False)
    np.testing.assert_allclose(compiled[:, 0], fallback[:, 0], rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(compiled[:, 1], fallback[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(compiled[:, 2:], fallback[:, 2:])
    n_, mean, m2, lo, hi = _kernels.merge_blocks(X, compiled)
    X64 = X.astype(np.longdouble)
    ref_mean = X64.mean(0)
    assert n_ == n
    np.testing.assert_allclose(mean, ref_mean.astype(np.float64), rtol=1e-13, atol=1e-13)
    ref_m2 = ((X64 - ref_mean) ** 2).sum(0).astype(np.float64)
    np.testing.assert_allclose(m2, ref_m2, rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(lo, X.min(0))
    np.testing.assert_array_equal(hi, X.max(0))


@pytest.mark.skipif(not _kernels.compiled(), reason="not built")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "shape", [(50, 1), (4100, 7), (2100, 33), (2500, 41), (2500, 100), (2100, 333)], ids=str
)
def test_compiled_block_moments_flag_non_finite_anywhere(shape, bad):
    # every position class: the shift row, a lane of the side-by-side rows,
    # a row left over after them, a split last vector, an overlapping last
    # chunk (column-chunk kernel, 333 columns)
    n, d = shape
    for row in (0, 1, n // 2, n - 1):
        for col in {0, d // 2, d - 1}:
            X = np.ones((n, d))
            X[row, col] = bad
            stats = _kernels.block_moments(X)
            assert not np.isfinite(stats[row // _kernels.MOMENT_BLOCK_ROWS, 0, col])
            others = np.delete(stats[:, 0], col, axis=1)
            assert np.isfinite(others).all()


@pytest.mark.skipif(not _kernels.compiled(), reason="not built")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shape", [(2, 40), (2049, 32), (4100, 33), (2049, 64), (2500, 100), (2100, 150), (700, 400)],
    ids=str,
)
def test_compiled_moments_read_row_strided_views_in_place(shape, dtype, monkeypatch):
    # batch[:, :-1] (the streaming case) and a row step: read where they lie
    # (no copy), the same statistics as the C-ordered copy's to round-off (the
    # copy's narrow rows are summed side by side, the view's one at a time)
    n, d = shape
    rng = np.random.default_rng(d)
    base = (rng.standard_normal((2 * n, d + 5)) * 3 + 1e3).astype(dtype)
    for view in (base[:n, :d], base[::2, 2 : 2 + d]):
        assert not view.flags.c_contiguous and _kernels._rows_contiguous(view)
        expected = _kernels.block_moments(np.ascontiguousarray(view))
        monkeypatch.setattr(np, "copyto", None)  # the buffer route would fail
        got = _kernels.block_moments(view)
        monkeypatch.undo()
        np.testing.assert_allclose(got[:, :2], expected[:, :2], rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(got[:, 2:], expected[:, 2:])
        moments = _kernels.merge_blocks(view, got)
        for ours, theirs in zip(moments, _kernels.merge_blocks(view, expected)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    narrow = base[:n, :7]
    assert not _kernels._rows_contiguous(narrow)  # side by side rows need C order
    with pytest.raises(TypeError, match="contiguous"):
        _kernels._ckernels.block_moments(narrow, np.empty((-(-n // 2048), 4, 7)), 2048)


@pytest.mark.parametrize("use_compiled", ROUTES)
def test_moments_of_non_contiguous_input(use_compiled, monkeypatch):
    rng = np.random.default_rng(5)
    X = np.asfortranarray(rng.standard_normal((5000, 9)) + 1e9)[:, ::2]
    if not use_compiled:
        monkeypatch.setattr(_kernels, "_ckernels", None)
    m = Moments.from_rows(X)
    ref = X.astype(np.longdouble)
    np.testing.assert_allclose(m.mean, ref.mean(0).astype(np.float64), rtol=1e-15)
    exact = ((ref - ref.mean(0)) ** 2).sum(0).astype(np.float64)
    np.testing.assert_allclose(m.m2, exact, rtol=1e-8)  # block means carry 1e9 * eps
    np.testing.assert_array_equal(m.min, X.min(0))
    np.testing.assert_array_equal(m.max, X.max(0))


@pytest.mark.parametrize("use_compiled", ROUTES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("unit", [None, True, False], ids=["no-weights", "unit-weights", "weights"])
@pytest.mark.parametrize("d", [1, 31, 64, 75, 130, 1000])
def test_group_sums_on_every_width(use_compiled, dtype, unit, d):
    # the compiled kernel adds 32-column chunks, then single columns; with
    # every weight 1 it skips the multiply; the minimum may be anywhere
    rng = np.random.default_rng(d)
    n = 301
    X = rng.poisson(1.0, size=(n, d)).astype(dtype)
    rows = rng.integers(0, 5, size=n)
    w = np.ones(n) if unit or unit is None else rng.uniform(0, 3, size=n)
    expected = np.zeros((5, d))
    np.add.at(expected, rows, w[:, None] * X.astype(np.float64))
    w = None if unit is None else w  # None: every weight 1
    for where in [(0, 0), (n - 1, d - 1), (n // 2, d // 2)]:
        Xb = X.copy()
        Xb[where] = -0.25
        out = np.zeros((5, d))
        lowest = _kernels.group_sums(Xb, rows, w, out, use_compiled=use_compiled)
        assert lowest == -0.25
        exp = expected.copy()
        exp[rows[where[0]], where[1]] += (1.0 if w is None else w[where[0]]) * (-0.25 - X[where])
        np.testing.assert_allclose(out, exp, rtol=1e-12, atol=1e-12)
    out = np.zeros((5, d))
    assert _kernels.group_sums(X, rows, w, out, use_compiled=use_compiled) == X.min()


@pytest.mark.parametrize("use_compiled", ROUTES)
@pytest.mark.parametrize("col", [0, 40, 99])
def test_group_sums_minimum_skips_nan(use_compiled, col):
    X = np.full((10, 100), 2.0)
    X[3, col] = np.nan
    X[7, 99 - col] = 0.5
    out = np.zeros((1, 100))
    lowest = _kernels.group_sums(X, np.zeros(10, dtype=np.int64), np.ones(10), out,
                                 use_compiled=use_compiled)
    assert lowest == 0.5
    assert np.isnan(out[0, col])
