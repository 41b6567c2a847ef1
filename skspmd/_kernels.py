"""One-pass kernels of the memory-bound fits: compiled when available, NumPy otherwise.

The moments (BasicStatistics, StandardScaler) and the naive Bayes class sums
read every element of ``X`` once and do a few flops with it, so their speed is
the memory bandwidth if each element is read once. NumPy needs one call (one
read of the cached block) per statistic; the optional C extension
``skspmd._ckernels`` (built from ``_ckernels.c`` by ``pip install``) reads
each element once (see the comments in ``_ckernels.c``): the moments of rows
up to 320 columns in address order with a software prefetch, at the read
rate of a BLAS ``dgemv`` over the same rows (wider rows: 0.8-0.9 of it), the
group sums at ~0.95 of a NumPy column sum's, on one core here. Each kernel
here has both versions with one contract; the NumPy one is the fallback when
the extension did not build, and the tests check that both give the same
results. The compiled moments read a row-strided ``X`` whose
rows are contiguous (``batch[:, :-1]``) in place when it has at least 32
columns; other strided ``X`` (a narrow column slice, F order) goes through
them one block at a time, copied into a C-ordered buffer.

Numerics of :func:`block_moments`: each block of ``block`` rows is summed
about its own first row ``s`` (``sum(x - s)``, ``sum((x - s)**2)``), so the
block's centred sum of squares ``m2 = sum((x - s)**2) - sum(x - s)**2 / n_b``
keeps its digits unless ``s`` lies far from the block's mean compared with
its spread; :func:`merge_blocks` detects those blocks and recomputes them
exactly (two passes over the block).
"""

import numpy as np

try:  # the optional compiled kernels (see setup.py)
    from . import _ckernels
except ImportError:  # pragma: no cover - built by pip install; NumPy fallback otherwise
    _ckernels = None

__all__ = [
    "block_moments", "compiled", "compiled_neighbours", "group_sums", "knn_candidates",
    "merge_blocks", "radius_candidates",
]

# The compiled moments read a row-strided X in place from this many columns
# (narrower rows are read several side by side, which needs a C-ordered X).
_VROW_MIN = 32
# Rows per block of the moments (the shift is re-taken every block).
MOMENT_BLOCK_ROWS = 2048
# A block's shift is "far" when sum(x - s)**2 / n_b exceeds this times its m2:
# then the subtraction would cost more than about 3 of the 16 digits.
_FAR_SHIFT = 1e3


def compiled():
    """Whether the compiled kernels are in use."""
    return _ckernels is not None


def compiled_neighbours():
    """Whether the compiled neighbour filters are in use (they need GCC or Clang)."""
    return _ckernels is not None and hasattr(_ckernels, "knn_candidates")


def _native(X, contiguous=True):
    return (
        _ckernels is not None
        and isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype in (np.float64, np.float32)
        and (X.flags.c_contiguous or not contiguous)
    )


def _rows_contiguous(X):
    """Whether the compiled moments read ``X`` in place: contiguous rows, evenly
    spaced (a row-strided view such as ``batch[:, :-1]``), at least 32 columns."""
    size = X.itemsize
    return (
        X.shape[1] >= _VROW_MIN
        and X.strides[1] == size
        and X.strides[0] > 0
        and X.strides[0] % size == 0
        and X.strides[0] >= X.shape[1] * size
    )


def block_moments(X, block=MOMENT_BLOCK_ROWS, use_compiled=None):
    """Per-block ``(sum(x - s), sum((x - s)**2), min, max)`` of dense ``X``.

    Returns a float64 array of shape ``(n_blocks, 4, n_features)``, where
    block ``b`` holds rows ``b * block`` to ``(b + 1) * block`` and ``s`` is
    its first row. A NaN or inf in ``X`` makes its block's first statistic
    non-finite. ``use_compiled=False`` forces the NumPy version.
    """
    n, d = X.shape
    n_blocks = -(-n // block)
    out = np.empty((n_blocks, 4, d))
    if (use_compiled is None or use_compiled) and _native(X, contiguous=False):
        if X.flags.c_contiguous or _rows_contiguous(X):
            _ckernels.block_moments(X, out, block)
            return out
        # other strided X (a narrow column slice, F order): one block at a
        # time into a cached C-ordered buffer
        buf = np.empty((min(block, n), d), dtype=X.dtype)
        for b, a in enumerate(range(0, n, block)):
            rows = buf[: min(block, n - a)]
            np.copyto(rows, X[a : a + block])
            _ckernels.block_moments(rows, out[b : b + 1], block)
        return out
    for b in range(n_blocks):
        rows = np.asarray(X[b * block : (b + 1) * block], dtype=np.float64)
        with np.errstate(invalid="ignore"):  # inf - inf: NaN flags the block
            shifted = rows - rows[0]
        out[b, 0] = shifted.sum(axis=0)
        out[b, 1] = np.einsum("ij,ij->j", shifted, shifted)
        out[b, 2] = rows.min(axis=0)
        out[b, 3] = rows.max(axis=0)
        out[b, 0, ~np.isfinite(rows[0])] = np.nan
    return out


def merge_blocks(X, stats, block=MOMENT_BLOCK_ROWS):
    """``(n, mean, m2, min, max)`` of ``X`` from its :func:`block_moments`.

    The block means and centred sums of squares are combined all at once
    (``m2 = sum(m2_b) + sum(n_b (mean_b - mean)**2)``, the exact parallel
    formula). Blocks whose shift row was too far from their mean for the
    subtraction to keep its digits are recomputed exactly from ``X``
    (:func:`exact_block_moments`).
    """
    n = X.shape[0]
    counts = np.full(stats.shape[0], float(block))
    if stats.shape[0]:
        counts[-1] = n - block * (stats.shape[0] - 1)
    first = np.asarray(X[::block], dtype=np.float64)
    s1 = stats[:, 0]
    m2_b = stats[:, 1].copy()
    # in place on (n_blocks, n_features) arrays: about 0.2 ms for 500 blocks
    # of 100 columns, against 0.9 ms with a temporary per step
    # a NaN or inf in X propagates to the mean (the caller's finiteness check)
    with np.errstate(invalid="ignore", over="ignore"):
        means = s1 / counts[:, None]  # block mean - shift
        correction = s1 * means  # s1**2 / n_b
        m2_b -= correction
        shift_far = correction > _FAR_SHIFT * np.abs(m2_b)
        means += first
        for b in np.flatnonzero(shift_far.any(axis=1)):
            means[b], m2_b[b] = exact_block_moments(X[b * block : (b + 1) * block])
        mean = counts @ means / n
        means -= mean  # each block mean's deviation
        means *= means
        m2 = m2_b.sum(axis=0) + counts @ means
    return float(n), mean, m2, stats[:, 2].min(axis=0), stats[:, 3].max(axis=0)


def exact_block_moments(rows):
    """Mean and centred sum of squares of a cached block, two passes."""
    rows = np.asarray(rows, dtype=np.float64)
    mean = rows.mean(axis=0)
    centred = rows - mean
    return mean, np.einsum("ij,ij->j", centred, centred)


def group_sums(X, rows, weights, out, use_compiled=None):
    """``out[rows[i]] += weights[i] * X[i]`` over dense ``X``; returns ``X``'s minimum.

    ``rows`` are int64 group indices in ``[0, out.shape[0])``, ``weights``
    float64 or None (every weight 1), ``out`` a C-ordered float64
    ``(n_groups, n_features)`` array.
    Every row is multiplied in, even with weight 0, so a NaN or inf in ``X``
    reaches ``out``; the returned minimum ignores NaN. ``use_compiled=False``
    forces the NumPy version (a sparse one-hot product per block).
    """
    if (use_compiled is None or use_compiled) and _native(X) and out.flags.c_contiguous:
        if weights is not None:
            weights = np.ascontiguousarray(weights, dtype=np.float64)
        return _ckernels.group_sums(X, np.ascontiguousarray(rows, dtype=np.int64), weights, out)
    if weights is None:
        weights = np.ones(X.shape[0])
    from ._group_stats import GroupSums
    from ._stats import block_rows

    lowest = np.inf
    step = block_rows(X.shape[1], target_bytes=1 << 22)
    sums = GroupSums(out.shape[0], step, np.float64)
    for start in range(0, X.shape[0], step):
        part = X[start : start + step]
        out += sums.sums(part, rows[start : start + step], weights[start : start + step])
        lowest = min(lowest, np.fmin.reduce(part, axis=None)) if part.size else lowest
    return float(lowest)


def radius_candidates(X, Y, xn, yn, r2, tau, orders=None, use_compiled=None, block=256):
    """Pairs of rows of ``X`` and ``Y`` within squared radius ``r2``, or within a margin of it.

    ``xn``, ``yn`` are the squared norms of the rows (float64). With
    ``s = xn[i] + yn[j]`` and ``v = s - 2 X[i] . Y[j]`` (the squared distance
    by expansion), returns ``(counts, cols, margin)``: per row ``i`` of ``X``,
    ``counts[i]`` columns ``j`` (CSR, rows after rows, columns increasing)
    where ``v - tau * s <= r2``, and ``margin`` (bool per pair) where also
    ``v + tau * s > r2``. With ``tau`` above the relative rounding error of
    the expansion and of any other way of summing the squared distance, the
    pairs without ``margin`` are within ``r2`` for every one of them, the
    pairs left out are beyond it for every one of them, and the caller
    decides the ``margin`` pairs. Float64 only.

    The compiled kernel visits the rows in ``orders`` (a permutation of the
    rows of ``X`` and one of ``Y``, e.g. a tree's order so that consecutive
    rows lie close together; the given order by default): groups of 32 rows of
    ``X`` against tiles of 64 rows of ``Y``, skipping every pair of groups
    whose bounding boxes lie farther apart than the radius and the margin;
    the dot products stay in registers and only candidates are written. The
    NumPy version (``use_compiled=False``) computes ``block`` rows of ``X`` at
    a time with one GEMM. Both give the same pairs, up to rounding at the
    edges of the margin.
    """
    X, Y = np.ascontiguousarray(X, np.float64), np.ascontiguousarray(Y, np.float64)
    xn, yn = np.ascontiguousarray(xn, np.float64), np.ascontiguousarray(yn, np.float64)
    if (use_compiled is None or use_compiled) and compiled_neighbours():
        if orders is None:
            orders = np.arange(X.shape[0]), np.arange(Y.shape[0])
        qo, yo = (np.ascontiguousarray(o, dtype=np.int64) for o in orders)
        counts, cols, margin = _ckernels.radius_candidates(
            X[qo], Y[yo], xn[qo], yn[yo], float(r2), float(tau), qo, yo
        )
        return (
            np.frombuffer(counts, np.int64),
            np.frombuffer(cols, np.int64),
            np.frombuffer(margin, np.bool_),
        )
    counts, cols, margin = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, bool)]
    for start in range(0, X.shape[0], block):
        rows = X[start : start + block]
        norms = xn[start : start + block, None] + yn
        squared = norms - 2.0 * (rows @ Y.T)
        i, j = np.nonzero(squared - tau * norms <= r2)
        counts.append(np.bincount(i, minlength=rows.shape[0]))
        cols.append(j.astype(np.int64))
        margin.append(squared[i, j] + tau * norms[i, j] > r2)
    return np.concatenate(counts).astype(np.int64), np.concatenate(cols), np.concatenate(margin)


def knn_candidates(X, Y, xn, yn, m, use_compiled=None, block=256):
    """Per row of ``X``, the ``m`` rows of ``Y`` with the smallest expanded squared distance.

    Returns ``(values, rows)``, each ``(len(X), m)``: ascending
    ``xn[i] + yn[j] - 2 X[i] . Y[j]`` and their rows ``j`` (among equal
    values in any order). ``1 <= m <= len(Y)``; float64 only. The values are
    a filter: the caller decides the neighbours with scikit-learn's own
    distances among the rows kept here (see ``neighbors._search``). The
    compiled kernel keeps the dot products in registers (as
    :func:`radius_candidates`) and touches a row's list only for the rare
    rows below its current m-th value; the NumPy version
    (``use_compiled=False``) computes ``block`` rows of ``X`` at a time.
    """
    X, Y = np.ascontiguousarray(X, np.float64), np.ascontiguousarray(Y, np.float64)
    xn, yn = np.ascontiguousarray(xn, np.float64), np.ascontiguousarray(yn, np.float64)
    n = X.shape[0]
    values, rows = np.empty((n, m)), np.empty((n, m), np.int64)
    if (use_compiled is None or use_compiled) and compiled_neighbours():
        _ckernels.knn_candidates(X, Y, xn, yn, values, rows, int(m))
        return values, rows
    for start in range(0, n, block):
        part = slice(start, start + block)
        squared = (xn[part, None] + yn) - 2.0 * (X[part] @ Y.T)
        top = np.argpartition(squared, m - 1, axis=1)[:, :m]
        vals = np.take_along_axis(squared, top, axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        values[part] = np.take_along_axis(vals, order, axis=1)
        rows[part] = np.take_along_axis(top, order, axis=1)
    return values, rows
