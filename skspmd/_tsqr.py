"""The TSQR core: R factors and Q of a matrix whose rows are spread over the ranks.

Private foundation of :mod:`skspmd.linalg` (the public ``qr``/``svd``), the
decompositions (:mod:`skspmd._svd`) and the linear models. Every rank holds a
block of consecutive rows of one global matrix ``X`` (rank order = row order;
a rank may hold no rows, or fewer rows than columns).

- ``R`` only (:func:`tsqr_r`): each rank reduces its rows to a ``d x d``
  triangle with a sequential Householder QR over cache-sized blocks of rows
  (LAPACK ``geqrf`` on the first block, then ``tpqrt`` folds each next block
  into the triangle); the ranks' triangles are gathered (``Allgather`` of
  ``d x d`` doubles per rank), stacked in rank order and reduced by one more
  QR. Householder all the way, so ``R`` is backward stable whatever the
  condition number: singular values computed from it are accurate down to
  ``eps * s_max``.
- ``Q`` too (:func:`qr_factors`): CholeskyQR2 (Gram matrix, Cholesky factor,
  product with the inverse triangle, twice; all BLAS-3; one reduction of a
  ``d x d`` matrix per pass) while the Gram matrix shows a condition number
  below ``1e6``, which keeps ``Q^T Q = I`` to round-off. Beyond that, or for
  a rank-deficient matrix, every rank falls back to Householder TSQR with
  ``Q``: a local QR, the stacked-triangle QR above, and this rank's block of
  the stacked ``Q`` applied to its local ``Q``. The choice is agreed
  collectively.

``R`` is normalised to a non-negative diagonal (so ``Q`` and ``R`` are unique
for a full-rank ``X``). Everything here works in float64.
"""

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg import lapack
from sklearn.utils import check_array

from ._comm import agree_on_errors, all_agree, allgather_array, allreduce, replicate
from ._stats import gram
from ._threads import one_blas_thread

__all__ = [
    "CHOLQR_MAX_COND",
    "GramFactor",
    "NORMAL_EQUATIONS_MAX_COND",
    "check_rows",
    "cholesky_qr",
    "cholesky_upper",
    "conditioned_cholesky",
    "householder_qr",
    "local_r",
    "merge_r",
    "qr_factors",
    "require_tall",
    "tsqr_r",
]

# Rows per block of the local sequential Householder QR: a 1024 x 100 float64
# block (800 KiB) and its triangle stay in cache while LAPACK works on them.
_BLOCK_ROWS = 1024
# Rows per block of the products with the inverse triangle in CholeskyQR.
_SOLVE_ROWS = 4096
# Condition numbers up to which a Gram matrix is trusted (see conditioned_cholesky):
# CholeskyQR2, whose Q is then orthonormal to round-off, and the normal
# equations of the least-squares fits, whose solution then loses ~1e-8 at most.
CHOLQR_MAX_COND = 1e6
NORMAL_EQUATIONS_MAX_COND = 1e4


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def check_rows(X, comm):
    """Validate this rank's rows and agree on the shape; float64 C-ordered copy if needed."""
    with agree_on_errors(comm) as step:
        X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=0)
        step.payload = (X.shape[0], X.shape[1], X.dtype.str)
    metas = step.gathered
    widths = [m[1] for m in metas]
    if len(set(widths)) > 1:
        raise ValueError(
            "X has a different number of columns on different ranks: "
            + ", ".join(f"rank {r}: {w}" for r, w in enumerate(widths))
        )
    counts = np.array([m[0] for m in metas], dtype=np.int64)
    dtype = np.result_type(*[np.dtype(m[2]) for m in metas])
    return np.ascontiguousarray(X, dtype=np.float64), counts, dtype


def _sign_fix(R, Q=None):
    """Make the diagonal of ``R`` non-negative, flipping the matching columns of ``Q``."""
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    R *= signs[:, np.newaxis]
    if Q is not None:
        Q *= signs[np.newaxis, : Q.shape[1]]
    return R, Q


def _geqrf_r(A):
    """Upper-trapezoidal ``R`` (``min(m, n) x n``) of an F-ordered float64 array (overwritten)."""
    m, n = A.shape
    if m == 0:
        return np.zeros((0, n))
    qr_, _, _, info = lapack.dgeqrf(A, lwork=max(1, 64 * n), overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise np.linalg.LinAlgError(f"dgeqrf failed with info={info}")
    return np.triu(qr_[: min(m, n)])


def _dense_block(X, start, stop, shift=None):
    """Rows ``start:stop`` of X (dense or sparse) minus ``shift``, as an F-ordered float64 copy."""
    block = X[start:stop]
    if sp.issparse(block):
        block = block.toarray()
    out = np.empty(block.shape, dtype=np.float64, order="F")
    out[...] = block
    if shift is not None:
        out -= shift  # after the copy: a subtract into a transposed layout is 5x slower
    return out



# ---------------------------------------------------------------------------
# R factor: local sequential Householder, then the stacked-triangle merge
# ---------------------------------------------------------------------------

def local_r(X, shift=None):
    """Householder ``R`` (``min(n, d) x d``) of this rank's rows (minus ``shift``).

    Blocks of ``_BLOCK_ROWS`` rows are folded one at a time into the running
    triangle with LAPACK ``tpqrt`` (QR of a triangle stacked on a block), so
    the working set stays in cache; about 3x faster than one ``geqrf`` over
    a tall shard, and as stable.
    """
    n, d = X.shape
    first = max(d, _BLOCK_ROWS)
    if n <= first:
        return _geqrf_r(_dense_block(X, 0, n, shift))
    nb = min(d, 32)
    with one_blas_thread():
        R = np.asfortranarray(_geqrf_r(_dense_block(X, 0, first, shift)))
        for start in range(first, n, _BLOCK_ROWS):
            B = _dense_block(X, start, min(start + _BLOCK_ROWS, n), shift)
            R, _, _, info = lapack.dtpqrt(0, nb, R, B, overwrite_a=1, overwrite_b=1)
            if info != 0:  # pragma: no cover - LAPACK argument error
                raise np.linalg.LinAlgError(f"dtpqrt failed with info={info}")
    return np.triu(R)


def merge_r(R_local, counts, comm, want_q=False):
    """Combine the ranks' local triangles into the global ``R``.

    ``R_local`` is this rank's ``min(n_i, d) x d`` factor. The factors are
    gathered, stacked in rank order and reduced by one Householder QR on
    every rank; rank 0's ``R`` (diagonal made non-negative) is broadcast so it
    is bitwise identical everywhere. With ``want_q`` also returns this rank's
    block of the stacked ``Q`` (``min(n_i, d) x r``), the map from its local
    ``Q`` to its rows of the global ``Q``.
    """
    size, rank = comm.Get_size(), comm.Get_rank()
    d = R_local.shape[1]
    m = np.minimum(counts, d)
    if size == 1:
        stack = R_local
    else:
        k = int(m.max())
        padded = np.zeros((k, d))
        padded[: R_local.shape[0]] = R_local
        gathered = allgather_array(padded, comm)
        stack = np.concatenate([gathered[j, : m[j]] for j in range(size)], axis=0)
    M = stack.shape[0]
    if want_q:
        if M == 0:
            Qs, R = np.zeros((0, 0)), np.zeros((0, d))
        else:
            Qs, R = sla.qr(stack, mode="economic", check_finite=False)
        R, Qs = _sign_fix(R, Qs)
    else:
        R = stack if size == 1 else _geqrf_r(np.asfortranarray(stack))
        R, _ = _sign_fix(np.array(R))
    (R,) = replicate([R], comm)
    if not want_q:
        return R, None
    offset = int(m[:rank].sum())
    return R, Qs[offset : offset + m[rank]]


def tsqr_r(X, counts, comm, shift=None):
    """Global Householder ``R`` of the row-distributed ``X - shift`` (wide allowed).

    ``R`` has ``min(sum_i min(n_i, d), d)`` rows; its singular values are those
    of ``X - shift``.
    """
    with agree_on_errors(comm):
        R_local = local_r(X, shift)
    return merge_r(R_local, counts, comm)[0]



# ---------------------------------------------------------------------------
# Q and R: CholeskyQR2, Householder TSQR fallback
# ---------------------------------------------------------------------------

def _solve_upper_right(X, R, out):
    """``out = X @ inv(R)`` for upper-triangular ``R``, by row blocks (``out`` may be ``X``).

    Multiplies by the explicit triangular inverse (LAPACK ``trtri``): a GEMM,
    several times faster than a triangular solve when ``R`` is small, and as
    accurate here since CholeskyQR2 only uses well-conditioned ``R`` (and its
    second pass corrects the first).
    """
    R_inv, info = lapack.dtrtri(R, lower=0)
    if info != 0:  # pragma: no cover - R comes from a successful Cholesky
        raise np.linalg.LinAlgError(f"dtrtri failed with info={info}")
    R_inv = np.triu(R_inv)
    for start in range(0, X.shape[0], _SOLVE_ROWS):
        stop = start + _SOLVE_ROWS
        if out is X:
            out[start:stop] = X[start:stop] @ R_inv
        else:
            np.matmul(X[start:stop], R_inv, out=out[start:stop])
    return out


def cholesky_upper(G):
    """Upper Cholesky factor of ``G``, or None if it is not numerically positive definite."""
    try:
        R = sla.cholesky(G, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(R)) or np.any(np.diag(R) <= 0):
        return None
    return R


class GramFactor(NamedTuple):
    """A Cholesky factor ``R`` (``R^T R = A^T A``) and its singular values (those of ``A``).

    ``U`` and ``Vt`` complete the SVD ``R = U diag(s) Vt`` when it was asked for.
    """

    R: np.ndarray
    s: np.ndarray
    U: np.ndarray | None = None
    Vt: np.ndarray | None = None


def conditioned_cholesky(G, max_cond, svd=False):
    """Cholesky factor of the Gram matrix ``G = A^T A`` while ``cond(A) < max_cond``, else None.

    Returns a :class:`GramFactor`: ``R`` upper triangular with a positive
    diagonal, so ``R`` is the R factor of ``A`` (up to row signs), and ``s``
    the singular values of ``R``, which are those of ``A``; ``s[0] / s[-1]``
    estimates ``cond(A)``. ``svd=True`` also returns ``U`` and ``Vt`` (one
    SVD of the small ``R`` instead of its singular values alone), for a
    caller that solves with ``R`` next. None when ``G`` is not numerically
    positive definite or the estimate reaches ``max_cond``. A large estimate
    is itself reliable: rounding in ``G`` can only make the computed smallest
    singular value larger, by about ``sqrt(eps) * s[0]``.

    The two callers trust the Gram matrix to different condition numbers,
    because they lose accuracy differently:

    - :func:`cholesky_qr` (``CHOLQR_MAX_COND = 1e6``): the first pass's ``Q``
      is orthonormal only to about ``eps * cond(A)**2`` (1e-4 at the limit),
      and the second pass brings it to round-off as long as that is well
      below 1, i.e. ``cond(A)`` well below 1e8; 1e6 leaves two digits of
      margin. Beyond it, Householder TSQR.
    - the least-squares fits of :mod:`skspmd.linear_model`
      (``NORMAL_EQUATIONS_MAX_COND = 1e4``): the coefficients solved from
      the Cholesky factor of ``X^T X`` keep an ``eps * cond(X)**2`` relative
      error (about 1e-8 at the limit) that no second pass corrects, so the
      limit is lower; beyond it, TSQR of the centred data.
    """
    R = cholesky_upper(G)
    if R is None:
        return None
    if svd:
        U, s, Vt = sla.svd(R, full_matrices=False, check_finite=False)
    else:
        U, Vt = None, None
        s = sla.svdvals(R, check_finite=False)
    if not (s.size and s[-1] > 0 and s[0] < max_cond * s[-1]):
        return None
    return GramFactor(R, s, U, Vt)


def cholesky_qr(X, comm, passes=2):
    """``(Q_local, R)`` by CholeskyQR2, or None (on every rank) if X is too ill-conditioned.

    ``passes=1`` stops after the first pass: ``Q`` then spans the columns of
    X exactly but is orthonormal only to about ``eps * cond(X)**2``, enough to
    normalise power iterations.
    """
    factor = conditioned_cholesky(allreduce(gram(X), comm=comm), CHOLQR_MAX_COND)
    if not all_agree(factor is not None, comm):
        return None
    R = factor.R
    Q = _solve_upper_right(X, R, np.empty_like(X))
    if passes == 2:
        R2 = cholesky_upper(allreduce(gram(Q), comm=comm))
        if not all_agree(R2 is not None, comm):
            return None
        _solve_upper_right(Q, R2, Q)
        R = np.triu(R2 @ R)
    (R,) = replicate([R], comm)
    return Q, R


def householder_qr(X, counts, comm):
    """``(Q_local, R)`` by Householder TSQR; stable for any X (rank-deficient too)."""
    n_local, d = X.shape
    if n_local == 0:
        Q_local, R_local = np.zeros((0, 0)), np.zeros((0, d))
    else:
        Q_local, R_local = sla.qr(X, mode="economic", check_finite=False)
    R, Q_block = merge_r(R_local, counts, comm, want_q=True)
    return np.ascontiguousarray(Q_local @ Q_block), R


def qr_factors(X, counts, comm, passes=2):
    """Distributed ``(Q_local, R)`` of a float64 C-ordered X with ``sum(counts) >= d``."""
    result = cholesky_qr(X, comm, passes)
    if result is None:
        result = householder_qr(X, counts, comm)
    return result


def require_tall(counts, d, comm, what):
    n = int(counts.sum())
    if n < d:
        raise ValueError(
            f"{what} needs a tall-skinny matrix (at least as many rows as columns) "
            f"but X has {n} row(s) in total over {comm.Get_size()} rank(s) "
            f"(rows per rank: {counts.tolist()}) and {d} columns"
        )
