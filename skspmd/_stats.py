"""Mergeable sufficient statistics: the partial results of skspmd's algorithms.

Each partial is a small object built from this rank's rows (``from_rows``),
with an associative ``merge`` that is exact when either side is empty, and an
``allreduce`` over the communicator that leaves a bitwise identical result on
every rank. Sibling estimators share them: :class:`Moments` serves
BasicStatistics, StandardScaler and the KMeans tolerance; :class:`CrossProducts`
serves EmpiricalCovariance, PCA (``covariance_eigh``), Ridge (``cholesky``) and
LinearRegression (its well-conditioned route); the per-group statistics (k-means
centre sums, naive Bayes counts and class moments) are in :mod:`skspmd._group_stats`.
The Gram kernel (:func:`syrk`,
:func:`symmetrize`, :func:`gram`) is also the one CholeskyQR2 uses
(:mod:`skspmd._tsqr`).

Numerics: rows are processed in cache-sized blocks. Moments centre each block on
its own mean and combine blocks with the pairwise update of Chan, Golub and
LeVeque, so a column with mean 1e9 and unit variance keeps its variance to
~1e-7 relative where the textbook ``sum(x**2) - n*mean**2`` loses every digit.
Cross-products take the Gram matrix about a shift close to the mean (the first
block's mean) in one pass and correct it to the mean, under a guard that falls
back to the per-block Chan route when the shift is too far from the mean.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import assert_all_finite

from ._comm import agree_on_errors, allgather_array, allgather_arrays, allreduce, get_comm
from ._kernels import block_moments, merge_blocks

__all__ = [
    "BLOCK_BYTES",
    "CrossProducts",
    "Moments",
    "block_rows",
    "column_mean",
    "constant_features",
    "gram",
    "r2_from_moments",
    "ratio_score",
    "symmetrize",
    "syrk",
]

# Rows per block: about 256 KiB of float64, so a block stays in L2 while the
# several passes over it (mean, centre, square, sum, min, max) run.
BLOCK_BYTES = 1 << 18


def block_rows(n_features, itemsize=8, target_bytes=BLOCK_BYTES):
    """Number of rows in a cache-sized block."""
    return max(64, target_bytes // max(1, n_features * itemsize))


def syrk(A, C=None):
    """``C + A^T A`` into the upper triangle of the F-ordered ``C`` (one BLAS ``syrk``).

    ``A`` is float64; ``C=None`` starts from zero. Only the upper triangle is
    written (half the flops of a GEMM): finish with :func:`symmetrize`. A
    C-ordered ``A`` is passed to BLAS as its (F-ordered) transpose, no copy.
    """
    beta = 0.0 if C is None else 1.0
    if C is None:
        C = np.zeros((A.shape[1], A.shape[1]), order="F")
    if A.flags.c_contiguous:
        return dsyrk(1.0, A.T, c=C, beta=beta, trans=0, lower=0, overwrite_c=1)
    return dsyrk(1.0, np.asfortranarray(A), c=C, beta=beta, trans=1, lower=0, overwrite_c=1)


def symmetrize(C):
    """The full symmetric matrix whose upper triangle is that of ``C`` (a new array)."""
    C = np.triu(C)
    C += np.triu(C, 1).T
    return C


def gram(A):
    """``A^T A`` of a float64 array, one BLAS ``syrk``, full symmetric result."""
    if A.shape[0] == 0:
        return np.zeros((A.shape[1], A.shape[1]))
    return symmetrize(syrk(A))


def column_mean(A, sample_weight=None, comm=None):
    """Global ``(sum of weights, weighted column means)`` of row-distributed ``A``.

    Local column sums over cache-sized blocks (accumulated in float64 for
    float32 input too), then one ``Allgather`` of
    ``n_columns + 1`` doubles per rank, summed in rank order on every rank
    (so the result is bitwise identical everywhere).
    """
    comm = comm or get_comm()
    n, d = A.shape
    with agree_on_errors(comm):
        local = np.zeros(d + 1)
        step = block_rows(d)
        for start in range(0, n, step):
            block = A[start : start + step]
            if sample_weight is None:
                local[0] += block.shape[0]
                local[1:] += block.sum(axis=0, dtype=np.float64)
            else:
                w = sample_weight[start : start + step]
                local[0] += w.sum()
                local[1:] += w @ block
    parts = allgather_array(local, comm)
    total = parts.sum(axis=0)
    weight = float(total[0])
    mean = total[1:] / weight if weight > 0 else np.zeros(d)
    return weight, mean


def constant_features(var, mean, n_samples):
    """Features whose variance is within the round-off bound of the two-pass algorithm.

    StandardScaler's rule (its scale is 1 for them); the daal4py correlation
    PCA applies it too.
    """
    eps = np.finfo(np.float64).eps
    return var <= n_samples * eps * var + (n_samples * mean * eps) ** 2


def ratio_score(numerator, denominator):
    """``1 - numerator / denominator`` per output, averaged uniformly.

    scikit-learn's ``force_finite`` conventions of ``r2_score`` and
    ``explained_variance_score``: an output with a zero denominator scores
    1.0 when its numerator is zero too, else 0.0.
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    score = np.ones_like(denominator)
    nonzero = denominator != 0
    score[nonzero] = 1.0 - numerator[nonzero] / denominator[nonzero]
    score[~nonzero & (numerator != 0)] = 0.0
    return float(score.mean())


def r2_from_moments(moments, n_outputs):
    """scikit-learn's ``r2_score`` (outputs averaged) from merged :class:`Moments`.

    ``moments`` are the merged (weighted) moments of the columns
    ``[Y, Y - predictions]`` over every rank's rows: the total sum of squares
    is the first ``n_outputs`` columns' ``m2`` (about the global weighted mean
    of ``Y``), the residual sum of squares the last ``n_outputs`` columns'
    weighted sum of squares. Fewer than two rows give NaN with scikit-learn's
    warning.
    """
    if moments.n_rows < 2:
        warnings.warn(
            "R^2 score is not well-defined with less than two samples.",
            UndefinedMetricWarning,
        )
        return float("nan")
    return ratio_score(moments.sum_squares[n_outputs:], moments.m2[:n_outputs])


def _weighted_blocks(X, sample_weight, step):
    """``(block, w, n_b, mean_b)`` per block of ``step`` rows of ``X``, as float64.

    ``w`` is the block's weights (None when unweighted), ``n_b`` their sum
    (the row count when unweighted) and ``mean_b`` the block's weighted
    column means. A block whose weights sum to zero is skipped.
    """
    for start in range(0, X.shape[0], step):
        block = np.asarray(X[start : start + step], dtype=np.float64)
        if sample_weight is None:
            yield block, None, float(block.shape[0]), block.mean(axis=0)
            continue
        w = np.asarray(sample_weight[start : start + step], dtype=np.float64)
        n_b = float(w.sum())
        if n_b != 0:
            yield block, w, n_b, (w @ block) / n_b


def _chan_merge(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
    """Pairwise merge of (count, mean, centred sum of squares); exact if a side is empty."""
    n = n_a + n_b
    if n_b == 0:
        return n_a, mean_a, m2_a
    if n_a == 0:
        return n_b, mean_b, m2_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    return n, mean, m2


class Moments:
    """Per-column count, mean, centred sum of squares, minimum and maximum.

    ``n`` is the sum of sample weights (the row count when unweighted) and
    ``n_rows`` the number of rows. All arrays are float64.
    """

    __slots__ = ("n", "n_rows", "mean", "m2", "min", "max")

    def __init__(self, n, n_rows, mean, m2, minimum, maximum):
        self.n = float(n)
        self.n_rows = int(n_rows)
        self.mean = mean
        self.m2 = m2
        self.min = minimum
        self.max = maximum

    @classmethod
    def empty(cls, n_features):
        return cls(
            0.0,
            0,
            np.zeros(n_features),
            np.zeros(n_features),
            np.full(n_features, np.inf),
            np.full(n_features, -np.inf),
        )

    @classmethod
    def from_rows(cls, X, sample_weight=None, check_finite=False):
        """Moments of this rank's rows (dense ndarray or scipy sparse).

        With ``check_finite``, scikit-learn's finiteness check of ``X`` is
        fused into the pass: a NaN or inf reaches the mean, and only then is
        the exact check run, for scikit-learn's error message. (Validate
        ``X`` with ``ensure_all_finite=False`` to save the separate pass.)
        """
        moments = cls._from_rows(X, sample_weight)
        if check_finite and not np.isfinite(moments.mean).all():
            assert_all_finite(X, input_name="X")
        return moments

    @classmethod
    def _from_rows(cls, X, sample_weight):
        if sp.issparse(X):
            return cls._from_sparse(sp.csr_matrix(X), sample_weight)
        n_rows, n_features = X.shape
        if sample_weight is None and n_rows:
            # one read of every element (compiled kernel, or NumPy per block)
            n, mean, m2, minimum, maximum = merge_blocks(X, block_moments(X))
            return cls(n, n_rows, mean, m2, minimum, maximum)
        acc = cls.empty(n_features)
        step = block_rows(n_features)
        n, mean, m2 = acc.n, acc.mean, acc.m2
        minimum, maximum = acc.min, acc.max
        for block, w, n_b, mean_b in _weighted_blocks(X, sample_weight, step):
            centred = block - mean_b
            np.multiply(centred, centred, out=centred)
            m2_b = centred.sum(axis=0) if w is None else w @ centred
            np.minimum(minimum, block.min(axis=0), out=minimum)
            np.maximum(maximum, block.max(axis=0), out=maximum)
            n, mean, m2 = _chan_merge(n, mean, m2, n_b, mean_b, m2_b)
        return cls(n, n_rows, mean, m2, minimum, maximum)

    @classmethod
    def _from_sparse(cls, X, sample_weight):
        n_rows, n_features = X.shape
        w = np.ones(n_rows) if sample_weight is None else np.asarray(sample_weight, float)
        n = float(w.sum())
        if n_rows == 0 or n == 0:
            out = cls.empty(n_features)
            out.n_rows = n_rows
            return out
        Xw = sp.diags(w) @ X if sample_weight is not None else X
        mean = np.asarray(Xw.sum(axis=0)).ravel() / n
        # centred sum of squares over stored entries, plus the implicit zeros
        coo = X.tocoo()
        dev = coo.data - mean[coo.col]
        m2 = np.bincount(coo.col, weights=w[coo.row] * dev * dev, minlength=n_features)
        w_stored = np.bincount(coo.col, weights=w[coo.row], minlength=n_features)
        m2 += (n - w_stored) * mean * mean
        nnz = np.bincount(coo.col, minlength=n_features)
        data_min = np.full(n_features, np.inf)
        data_max = np.full(n_features, -np.inf)
        np.minimum.at(data_min, coo.col, coo.data)
        np.maximum.at(data_max, coo.col, coo.data)
        has_zero = nnz < n_rows
        data_min[has_zero] = np.minimum(data_min[has_zero], 0.0)
        data_max[has_zero] = np.maximum(data_max[has_zero], 0.0)
        return cls(n, n_rows, mean, m2, data_min, data_max)

    def merge(self, other):
        """The moments of both row sets together."""
        n, mean, m2 = _chan_merge(self.n, self.mean, self.m2, other.n, other.mean, other.m2)
        return Moments(
            n,
            self.n_rows + other.n_rows,
            mean,
            m2,
            np.minimum(self.min, other.min),
            np.maximum(self.max, other.max),
        )

    def allreduce(self, comm=None):
        """Merge every rank's moments; identical on every rank.

        One ``Allgather`` of ``4 * n_features + 1`` doubles and the row count
        (an int64) per rank, then the same rank-ordered pairwise merge on
        every rank.
        """
        comm = comm or get_comm()
        if comm.Get_size() == 1:
            return self
        packed = np.concatenate(([self.n], self.mean, self.m2, self.min, self.max))
        parts = allgather_arrays([np.array(self.n_rows, dtype=np.int64), packed], comm)
        d = self.mean.shape[0]
        out = None
        for n_rows, row in parts:
            part = Moments(
                row[0], int(n_rows), row[1 : 1 + d], row[1 + d : 1 + 2 * d],
                row[1 + 2 * d : 1 + 3 * d], row[1 + 3 * d :],
            )
            out = part if out is None else out.merge(part)
        return out

    # Derived statistics -------------------------------------------------

    @property
    def sum(self):
        return self.mean * self.n

    @property
    def sum_squares(self):
        return self.m2 + self.n * self.mean * self.mean

    def variance(self, ddof=0):
        denom = self.n - ddof
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.m2 / denom if denom > 0 else np.full_like(self.m2, np.nan)


class CrossProducts:
    """Count, column means and the (centred) cross-product matrix of the rows.

    With ``centered=True``, ``C = sum_i w_i (x_i - mean)(x_i - mean)^T``; with
    ``centered=False``, ``C = sum_i w_i x_i x_i^T`` (the raw Gram matrix).
    """

    __slots__ = ("n", "mean", "C", "centered")

    def __init__(self, n, mean, C, centered):
        self.n = float(n)
        self.mean = mean
        self.C = C
        self.centered = centered

    # Correcting a Gram matrix taken about a shift ``s`` to the mean loses about
    # eps * (mean - s)^2 / variance relative accuracy per column; the one-pass
    # route is kept only below this (at most ~2 digits), else the exact route.
    _MAX_SHIFT2_OVER_VAR = 1e2

    @classmethod
    def from_rows(cls, X, sample_weight=None, centered=True):
        """Cross-products of this rank's rows (any row-sliceable 2-D array-like).

        One pass over the rows in blocks of about 2 MiB: each block is copied
        into a reused buffer minus a shift ``s`` (the mean of the first
        block), with a column of ones appended and rows scaled by
        ``sqrt(w)``, and folded into ``C`` with one BLAS ``syrk`` that stays in
        cache. The appended column yields the weighted sums (so the mean) in
        the same product, and ``C`` is corrected from the shift to the mean
        (``- n (mean - s)(mean - s)^T``). That correction is accurate while
        every column's ``(mean - s)^2 / variance`` stays below 100 (it is
        about ``1 / block rows`` for rows in no particular order); otherwise
        (rows sorted by a column, say) the blocks are redone exactly: each
        centred on its own mean and merged with the pairwise (Chan) update,
        which keeps a column with mean 1e9 exact to ~1e-7.

        Row sources other than ndarrays may provide ``fill_shifted(start, stop, out,
        shift)`` (write rows ``[start, stop)`` minus ``shift`` into ``out``);
        otherwise ``X[start:stop]`` is used.
        """
        n_rows, d = X.shape
        if n_rows:
            out = cls._from_shifted_blocks(X, sample_weight, centered)
            if out is not None:
                return out
        return cls._from_blocks(X, sample_weight, centered)

    @classmethod
    def merged(cls, X, sample_weight=None, centered=True, comm=None):
        """Every rank's cross-products merged, identical on every rank (collective).

        :meth:`from_rows` on this rank's rows (a failure on any rank raises
        on every rank), then :meth:`allreduce`.
        """
        comm = comm or get_comm()
        with agree_on_errors(comm):
            local = cls.from_rows(X, sample_weight, centered=centered)
        return local.allreduce(comm)

    @classmethod
    def _from_shifted_blocks(cls, X, sample_weight, centered):
        """The one-pass route of :meth:`from_rows`, or None where it would lose digits."""
        n_rows, d = X.shape
        step = block_rows(d + 1, target_bytes=1 << 21)
        fill = getattr(X, "fill_shifted", None)
        if fill is None:

            def fill(start, stop, out, shift):
                np.subtract(X[start:stop], shift, out=out)

        shift = np.zeros(d)
        if centered:
            head = np.asarray(X[0:step], dtype=np.float64)
            # a column constant over the first block shifts by its value (exact)
            constant = head.max(axis=0) == head.min(axis=0)
            shift = np.where(constant, head[0], head.mean(axis=0))
            del head  # before the block buffer: one block-sized buffer at a time
        buf = np.empty((min(step, n_rows), d + 1))
        C = None
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            work = buf[: stop - start]
            fill(start, stop, work[:, :d], shift)
            if sample_weight is None:
                work[:, d] = 1.0
            else:
                root = np.sqrt(np.asarray(sample_weight[start:stop], dtype=np.float64))
                work[:, :d] *= root[:, np.newaxis]
                work[:, d] = root
            C = syrk(work, C)
        C = symmetrize(C)
        n = C[d, d]
        if n == 0:
            return cls(0.0, np.zeros(d), np.zeros((d, d)), centered)
        delta = C[:d, d] / n  # weighted mean minus the shift
        G = C[:d, :d]
        mean = shift + delta
        if centered:
            G -= n * np.outer(delta, delta)
            variance = np.diag(G) / n
            if np.any(delta * delta > cls._MAX_SHIFT2_OVER_VAR * variance):
                return None
        return cls(n, mean, np.ascontiguousarray(G), centered)

    def merge(self, other):
        """The cross-products of both row sets together (pairwise update, exact if one is empty)."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        C = self.C + other.C
        if self.centered:
            C += np.outer(delta, delta) * (self.n * other.n / n)
        return CrossProducts(n, mean, C, self.centered)

    @classmethod
    def _from_blocks(cls, X, sample_weight, centered):
        """Centred (or weighted) row blocks, each folded in with one syrk and a Chan update."""
        d = X.shape[1]
        n = 0.0
        mean = np.zeros(d)
        C = np.zeros((d, d), order="F")  # upper triangle, accumulated in place
        buffers = {}
        # bigger blocks than Moments: the Gram product is BLAS-3 and likes them
        step = block_rows(d, target_bytes=1 << 21)
        for block, w, n_b, mean_b in _weighted_blocks(X, sample_weight, step):
            rows = block.shape[0]
            if centered or w is not None:
                order = "F" if block.flags.f_contiguous and not block.flags.c_contiguous else "C"
                buf = buffers.get(order)
                if buf is None or buf.shape[0] < rows:
                    buf = buffers[order] = np.empty((rows, d), order=order)
                work = buf[:rows]
                if centered:
                    np.subtract(block, mean_b, out=work)
                else:
                    work[...] = block
                if w is not None:
                    work *= np.sqrt(w)[:, np.newaxis]
            else:
                work = block
            C = syrk(work, C)
            if centered and n > 0:
                delta = mean_b - mean
                C += np.outer(delta, delta) * (n * n_b / (n + n_b))
            n_new = n + n_b
            mean = mean + (mean_b - mean) * (n_b / n_new)
            n = n_new
        return cls(n, mean, symmetrize(C), centered)

    def allreduce(self, comm=None):
        """Merge every rank's cross-products; identical on every rank.

        One ``Allgather`` of the ``(n, mean)`` pairs (``n_features + 1``
        doubles per rank) gives every rank the global mean in the same order;
        each rank then shifts its centred matrix to the global mean
        (``C_i + n_i d_i d_i^T``) and one sum-reduction of the
        ``n_features x n_features`` matrix finishes the merge.
        """
        comm = comm or get_comm()
        if comm.Get_size() == 1:
            return self
        pairs = allgather_array(np.concatenate(([self.n], self.mean)), comm)
        counts, means = pairs[:, 0], pairs[:, 1:]
        n = float(counts.sum())
        mean = (counts @ means) / n if n > 0 else np.zeros_like(self.mean)
        C = self.C
        if self.centered and self.n > 0:
            delta = self.mean - mean
            C = C + np.outer(delta, delta) * self.n
        C = allreduce(C, comm=comm)
        return CrossProducts(n, mean, C, self.centered)
