"""Distributed QR and thin SVD of a matrix whose rows are spread over the ranks.

Every rank holds a block of consecutive rows of one global matrix ``X``
(``n x d``, rank order = row order; a rank may hold no rows, or fewer rows than
columns). :func:`qr` and :func:`svd` are collective: the small factors
(``R``; ``s`` and ``Vt``) come back bitwise identical on every rank, the tall
factors (``Q``, ``U``) stay distributed: each rank gets the rows of ``Q`` or
``U`` that match its rows of ``X``.

How (TSQR, "tall-skinny QR"):

- ``R`` only: each rank reduces its rows to a ``d x d`` triangle with a
  sequential Householder QR over cache-sized blocks of rows (LAPACK ``geqrf``
  on the first block, then ``tpqrt`` folds each next block into the
  triangle); the ranks' triangles are gathered (``Allgather`` of ``d x d``
  doubles per rank), stacked in rank order and reduced by one more QR.
  Householder all the way, so ``R`` is backward stable whatever the
  condition number: singular values computed from it are accurate down to
  ``eps * s_max``.
- ``Q`` too: CholeskyQR2 (Gram matrix, Cholesky factor, product with the
  inverse triangle, twice; all BLAS-3; one reduction of a ``d x d`` matrix per pass) while the
  Gram matrix shows a condition number below ``1e6``, which keeps
  ``Q^T Q = I`` to round-off. Beyond that, or for a rank-deficient matrix,
  every rank falls back to Householder TSQR with ``Q``: a local QR, the
  stacked-triangle QR above, and this rank's block of the stacked ``Q``
  applied to its local ``Q``. The choice is agreed collectively.

``R`` is normalised to a non-negative diagonal (so ``Q`` and ``R`` are
unique for a full-rank ``X``); results are computed in float64 and returned
in the input dtype.

The private helpers at the end (exact, randomized and ARPACK truncated SVDs)
are shared by :class:`skspmd.decomposition.SPMDPCA` and
:class:`skspmd.decomposition.SPMDTruncatedSVD`.
"""

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from mpi4py import MPI
from scipy.linalg import blas, lapack
from sklearn.utils import check_array

from ._comm import (
    agree_on_errors,
    allgather_array,
    allreduce,
    bcast_array,
    ensure_threads,
    get_comm,
)

__all__ = ["qr", "svd"]

# Rows per block of the local sequential Householder QR: a 1024 x 100 float64
# block (800 KiB) and its triangle stay in cache while LAPACK works on them.
_BLOCK_ROWS = 1024
# Rows per block of the products with the inverse triangle in CholeskyQR.
_SOLVE_ROWS = 4096
# CholeskyQR2 is used while cond(X), estimated from the Cholesky factor of the
# Gram matrix, stays below this; its Q is then orthonormal to round-off.
_CHOLQR_MAX_COND = 1e6
# Widest matrix for which the exact TSQR path replaces ARPACK.
_TSQR_MAX_FEATURES = 1000


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _replicate(arrays, comm):
    """Rank 0's values of float64 ``arrays`` on every rank (one ``Bcast``).

    Every rank finishes a model from bitwise identical merged statistics;
    broadcasting the few finished numbers from rank 0 keeps the model
    identical even where LAPACK might round differently (another CPU kind
    or thread count on another node). Shapes must agree on every rank.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    if comm.Get_size() == 1:
        return arrays
    flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.empty(0)
    flat = bcast_array(flat, root=0, comm=comm)
    out, start = [], 0
    for a in arrays:
        out.append(flat[start : start + a.size].reshape(a.shape))
        start += a.size
    return out


def _descending_eigh(M, comm):
    """Eigenpairs of the symmetric ``M`` by decreasing eigenvalue, rank 0's on every rank.

    Returns ``(values, Vt)``: the eigenvalues clipped at 0 (``M`` is a
    positive semi-definite Gram, covariance or correlation matrix; negative
    values are round-off) and the eigenvectors as rows.
    """
    values, vectors = np.linalg.eigh(M)
    values, Vt = _replicate([values[::-1], vectors[:, ::-1].T], comm)
    values[values < 0.0] = 0.0
    return values, Vt


def _all_agree(ok, comm):
    """True on every rank iff ``ok`` holds on every rank."""
    if comm.Get_size() == 1:
        return bool(ok)
    flag = allreduce(np.array([1 if ok else 0], dtype=np.int32), op=MPI.MIN, comm=comm)
    return bool(flag[0])


def _check_rows(X, comm):
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


_CONTROLLER = []


def _one_blas_thread():
    """Context limiting BLAS to one thread, for loops of small BLAS/LAPACK calls.

    On such calls (a ``tpqrt`` per 1024-row block) a second OpenBLAS thread
    made the local TSQR 7-10x slower on the reference machine.
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


# ---------------------------------------------------------------------------
# R factor: local sequential Householder, then the stacked-triangle merge
# ---------------------------------------------------------------------------


def _local_r(X, shift=None):
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
    with _one_blas_thread():
        R = np.asfortranarray(_geqrf_r(_dense_block(X, 0, first, shift)))
        for start in range(first, n, _BLOCK_ROWS):
            B = _dense_block(X, start, min(start + _BLOCK_ROWS, n), shift)
            R, _, _, info = lapack.dtpqrt(0, nb, R, B, overwrite_a=1, overwrite_b=1)
            if info != 0:  # pragma: no cover - LAPACK argument error
                raise np.linalg.LinAlgError(f"dtpqrt failed with info={info}")
    return np.triu(R)


def _merge_r(R_local, counts, comm, want_q=False):
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
    (R,) = _replicate([R], comm)
    if not want_q:
        return R, None
    offset = int(m[:rank].sum())
    return R, Qs[offset : offset + m[rank]]


def _tsqr_r(X, counts, comm, shift=None):
    """Global Householder ``R`` of the row-distributed ``X - shift`` (wide allowed).

    ``R`` has ``min(sum_i min(n_i, d), d)`` rows; its singular values are those
    of ``X - shift``.
    """
    with agree_on_errors(comm):
        R_local = _local_r(X, shift)
    return _merge_r(R_local, counts, comm)[0]


# ---------------------------------------------------------------------------
# Q and R: CholeskyQR2, Householder TSQR fallback
# ---------------------------------------------------------------------------


def _gram(X):
    """``X^T X`` of a float64 array, one BLAS ``syrk``, full symmetric result."""
    n, d = X.shape
    if n == 0:
        return np.zeros((d, d))
    if X.flags.c_contiguous:
        C = blas.dsyrk(1.0, X.T, trans=0, lower=0)  # X.T is F-ordered: no copy
    else:
        C = blas.dsyrk(1.0, np.asfortranarray(X), trans=1, lower=0)
    C = np.triu(C)
    return C + np.triu(C, 1).T


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


def _cholesky_upper(G):
    """Upper Cholesky factor of ``G``, or None if it is not numerically positive definite."""
    try:
        R = sla.cholesky(G, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(R)) or np.any(np.diag(R) <= 0):
        return None
    return R


def _cholesky_qr(X, comm, passes=2):
    """``(Q_local, R)`` by CholeskyQR2, or None (on every rank) if X is too ill-conditioned.

    ``passes=1`` stops after the first pass: ``Q`` then spans the columns of
    X exactly but is orthonormal only to about ``eps * cond(X)**2``, enough to
    normalise power iterations.
    """
    R = _cholesky_upper(allreduce(_gram(X), comm=comm))
    ok = R is not None
    if ok:
        sv = sla.svdvals(R, check_finite=False)
        ok = sv[-1] > 0 and sv[0] / sv[-1] < _CHOLQR_MAX_COND
    if not _all_agree(ok, comm):
        return None
    Q = _solve_upper_right(X, R, np.empty_like(X))
    if passes == 2:
        R2 = _cholesky_upper(allreduce(_gram(Q), comm=comm))
        if not _all_agree(R2 is not None, comm):
            return None
        _solve_upper_right(Q, R2, Q)
        R = np.triu(R2 @ R)
    (R,) = _replicate([R], comm)
    return Q, R


def _householder_qr(X, counts, comm):
    """``(Q_local, R)`` by Householder TSQR; stable for any X (rank-deficient too)."""
    n_local, d = X.shape
    if n_local == 0:
        Q_local, R_local = np.zeros((0, 0)), np.zeros((0, d))
    else:
        Q_local, R_local = sla.qr(X, mode="economic", check_finite=False)
    R, Q_block = _merge_r(R_local, counts, comm, want_q=True)
    return np.ascontiguousarray(Q_local @ Q_block), R


def _qr(X, counts, comm, passes=2):
    """Distributed ``(Q_local, R)`` of a float64 C-ordered X with ``sum(counts) >= d``."""
    result = _cholesky_qr(X, comm, passes)
    if result is None:
        result = _householder_qr(X, counts, comm)
    return result


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


def _require_tall(counts, d, comm, what):
    n = int(counts.sum())
    if n < d:
        raise ValueError(
            f"{what} needs a tall-skinny matrix (at least as many rows as columns) "
            f"but X has {n} row(s) in total over {comm.Get_size()} rank(s) "
            f"(rows per rank: {counts.tolist()}) and {d} columns"
        )


def qr(X_local, *, mode="reduced", comm=None):
    """QR factorization of a tall-skinny matrix whose rows are spread over the ranks.

    Collective: every rank calls it with its own block of consecutive rows of
    the global matrix ``X`` (rank order = row order).

    Parameters
    ----------
    X_local : array-like of shape (n_local, n_features)
        This rank's rows. A rank may hold fewer rows than columns, or none;
        the global matrix needs at least as many rows as columns.
    mode : {'reduced', 'r'}, default='reduced'
        ``'reduced'`` returns ``(Q_local, R)``; ``'r'`` returns ``R`` only
        (cheaper: Householder TSQR, no ``Q``), as in :func:`numpy.linalg.qr`.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.

    Returns
    -------
    Q_local : ndarray of shape (n_local, n_features)
        This rank's rows of ``Q``; ``Q`` has orthonormal columns. Not
        returned for ``mode='r'``.
    R : ndarray of shape (n_features, n_features)
        Upper triangular with a non-negative diagonal, bitwise identical on
        every rank.

    Raises
    ------
    ValueError
        On every rank, if the global matrix has fewer rows than columns or
        any rank's block is invalid (NaN, infinity, wrong width).

    See Also
    --------
    numpy.linalg.qr : The single-process factorization.
    svd : Thin SVD through the same ``R``.

    Notes
    -----
    Distributed semantics: ``R`` is computed from one ``Allgather`` of a
    ``n_features x n_features`` triangle per rank (Householder TSQR) or, for
    ``Q``, from two reductions of a ``n_features x n_features`` Gram matrix
    (CholeskyQR2, used while the estimated condition number is below
    ``1e6``; Householder TSQR beyond). Communication does not depend on the
    number of rows. Computation is in float64; the outputs have the input
    dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linalg import qr
    >>> X = np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 2.0]])
    >>> Q, R = qr(X)
    >>> np.allclose(Q @ R, X), np.allclose(Q.T @ Q, np.eye(2))
    (True, True)
    >>> float(R[0, 0])
    5.0
    """
    comm = comm or get_comm()
    ensure_threads(comm)
    if mode not in ("reduced", "r"):
        raise ValueError(f"mode must be 'reduced' or 'r', got {mode!r}")
    X, counts, dtype = _check_rows(X_local, comm)
    _require_tall(counts, X.shape[1], comm, "qr")
    if mode == "r":
        return _tsqr_r(X, counts, comm).astype(dtype, copy=False)
    Q, R = _qr(X, counts, comm)
    return Q.astype(dtype, copy=False), R.astype(dtype, copy=False)


def _flip_signs(U, Vt):
    """Largest-magnitude entry of each row of ``Vt`` positive (sklearn's v-based ``svd_flip``)."""
    rows = np.arange(Vt.shape[0])
    signs = np.sign(Vt[rows, np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1.0
    Vt *= signs[:, np.newaxis]
    if U is not None:
        U *= signs[np.newaxis, :]
    return U, Vt


def svd(X_local, *, compute_u=True, comm=None):
    """Thin SVD of a tall-skinny matrix whose rows are spread over the ranks.

    Collective: ``X = U @ diag(s) @ Vt`` with ``U`` distributed like ``X``
    and ``s``, ``Vt`` bitwise identical on every rank.

    Parameters
    ----------
    X_local : array-like of shape (n_local, n_features)
        This rank's rows (may be fewer than the columns, or none); the global
        matrix needs at least as many rows as columns.
    compute_u : bool, default=True
        Whether to compute ``U``. Without it only the (Householder) ``R``
        factor is needed, which is cheaper and accurate down to the smallest
        singular values.
    comm : mpi4py.MPI.Comm, optional
        Defaults to :func:`skspmd.get_comm`.

    Returns
    -------
    U_local : ndarray of shape (n_local, n_features) or None
        This rank's rows of ``U``; None when ``compute_u=False``.
    s : ndarray of shape (n_features,)
        Singular values in decreasing order.
    Vt : ndarray of shape (n_features, n_features)
        Right singular vectors (rows). Signs are fixed so that the entry of
        largest magnitude of each row is positive (sklearn's ``svd_flip``
        with ``u_based_decision=False``), so the result does not depend on
        the number of ranks.

    See Also
    --------
    numpy.linalg.svd : The single-process decomposition.
    qr : The distributed QR it is built on.

    Notes
    -----
    Distributed semantics: one distributed QR (see :func:`qr`), then the SVD
    of the small ``R``, broadcast from rank 0 (``2 d^2 + d`` doubles); ``U`` is
    this rank's ``Q`` times the left singular vectors of ``R``, computed
    locally.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.linalg import svd
    >>> X = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> U, s, Vt = svd(X)
    >>> s
    array([2., 1.])
    """
    comm = comm or get_comm()
    ensure_threads(comm)
    X, counts, dtype = _check_rows(X_local, comm)
    _require_tall(counts, X.shape[1], comm, "svd")
    if compute_u:
        Q, R = _qr(X, counts, comm)
    else:
        Q, R = None, _tsqr_r(X, counts, comm)
    Ur, s, Vt = sla.svd(R, full_matrices=False, check_finite=False)
    Ur, s, Vt = _replicate([Ur, s, Vt], comm)
    U = None if Q is None else Q @ Ur
    U, Vt = _flip_signs(U, Vt)
    if U is not None:
        U = U.astype(dtype, copy=False)
    return U, s.astype(dtype, copy=False), Vt.astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# Truncated SVDs shared by the decomposition estimators (private)
# ---------------------------------------------------------------------------


def _exact_svd(X, counts, comm, shift=None):
    """``(s, Vt)`` of the row-distributed ``X - shift`` from its Householder ``R``.

    Works for wide matrices too (then ``R`` is trapezoidal); returns
    ``min(n, d)`` singular triplets, replicated.
    """
    n, d = int(counts.sum()), X.shape[1]
    R = _tsqr_r(X, counts, comm, shift=shift)
    if R.shape[0] == 0:
        s, Vt = np.zeros(0), np.zeros((0, d))
    else:
        _, s, Vt = sla.svd(R, full_matrices=False, check_finite=False)
    s, Vt = _replicate([s, Vt], comm)
    r = min(n, d)
    return s[:r], Vt[:r]


def _matmul(X, B):
    """``X @ B`` as a dense C-ordered float64 array, for dense or sparse ``X``."""
    out = X @ B
    return np.ascontiguousarray(out.toarray() if sp.issparse(out) else out, dtype=np.float64)


def _rmatmul(X, Y, comm):
    """Replicated ``X^T @ Y`` summed over the ranks (``X``, ``Y`` row-distributed)."""
    return allreduce(_matmul(X.T, Y), comm=comm)


def _randomized_svd(
    X,
    n_components,
    *,
    n_oversamples,
    n_iter,
    power_iteration_normalizer,
    random_state,
    counts,
    offset,
    comm,
    compute_u=False,
):
    """Randomized truncated SVD (Halko et al.) of a row-distributed matrix.

    Mirrors scikit-learn's ``randomized_svd`` step for step, consuming
    ``random_state`` the same way (a normal ``d x l`` test matrix, or
    ``n x l`` when the global matrix is wide and sklearn transposes it), so the
    same ``random_state`` gives sklearn's answer up to round-off. Products
    with the row-distributed side are local plus one reduction of a ``d x l``
    matrix; the replicated side is normalised as sklearn does (LU or QR);
    the distributed side by one CholeskyQR pass (Householder TSQR when
    ill-conditioned), which spans the same subspace as sklearn's LU, and the
    final basis by CholeskyQR2. When ``l = n_components + n_oversamples``
    reaches ``min(n, d)`` the sketch spans the whole range and the exact
    (TSQR) answer is returned, as sklearn's is up to round-off.

    Returns ``(U_local, s, Vt)``: ``s`` and ``Vt`` replicated, with
    ``min(n_components, n, d)`` rows; ``U_local`` this rank's rows of the
    approximate left singular vectors when ``compute_u`` and the sketch is
    not exact, else None (then ``X @ Vt.T = U * s`` to round-off).
    """
    n, d = int(counts.sum()), X.shape[1]
    k = n_components
    size = k + n_oversamples
    if n_iter == "auto":
        n_iter = 7 if k < 0.1 * min(n, d) else 4
    if power_iteration_normalizer == "auto":
        power_iteration_normalizer = "none" if n_iter <= 2 else "LU"
    transpose = n < d
    omega = random_state.normal(size=(n if transpose else d, size))
    (omega,) = _replicate([omega], comm)
    if size >= min(n, d):
        s, Vt = _exact_svd(X, counts, comm)
        return None, s[:k], Vt[:k]

    if power_iteration_normalizer == "none":
        rep_norm = dist_norm = lambda A: A  # noqa: E731
    else:
        if power_iteration_normalizer == "LU":
            rep_norm = lambda A: sla.lu(A, permute_l=True, check_finite=False)[0]  # noqa: E731
        else:
            rep_norm = lambda A: sla.qr(A, mode="economic", check_finite=False)[0]  # noqa: E731
        dist_norm = lambda A: _qr(A, counts, comm, passes=1)[0]  # noqa: E731

    if not transpose:
        # range of X (n x d): sketch Q (d x l) replicated, X @ Q distributed
        Q = omega
        for _ in range(n_iter):
            Y = dist_norm(_matmul(X, Q))
            (Q,) = _replicate([rep_norm(_rmatmul(X, Y, comm))], comm)
        Y = _qr(_matmul(X, Q), counts, comm)[0]
        B = _rmatmul(Y, X, comm)
        Uhat, s, Vt = sla.svd(B, full_matrices=False, check_finite=False)
        Uhat, s, Vt = _replicate([Uhat, s, Vt], comm)
        U = Y @ Uhat[:, :k] if compute_u else None
        return U, s[:k], Vt[:k]

    # wide: sklearn works on M = X^T (d x n), whose columns are our rows
    Y = omega[offset : offset + X.shape[0]]
    for _ in range(n_iter):
        (Z,) = _replicate([rep_norm(_rmatmul(X, Y, comm))], comm)
        Y = dist_norm(_matmul(X, Z))
    Z = sla.qr(_rmatmul(X, Y, comm), mode="economic", check_finite=False)[0]
    (Z,) = _replicate([Z], comm)
    # B = Z^T M = (X Z)^T; its SVD from the distributed thin SVD of X Z (n x l)
    W = _matmul(X, Z)
    w_counts = allgather_array(np.array([W.shape[0]], dtype=np.int64), comm)[:, 0]
    R = _tsqr_r(W, w_counts, comm)
    _, s, Wt = sla.svd(R, full_matrices=False, check_finite=False)
    s, Wt = _replicate([s, Wt], comm)
    # M = (Z Wt^T) diag(s) U_W^T, so the right singular vectors of X are
    # Z Wt^T and its left ones U_W = W Wt^T / s
    Vt = (Z @ Wt.T).T
    U = None
    if compute_u:
        with np.errstate(divide="ignore", invalid="ignore"):
            U = (W @ Wt[:k].T) / s[:k]
    return U, s[:k], Vt[:k]


def _gram_eigsh_root(X, k, tol, v0, comm):
    """Top-``k`` eigenpairs of ``X^T X`` by ARPACK on rank 0, matvecs served by all ranks.

    Only rank 0 runs ARPACK, so only rank 0 decides when to stop; each
    product ``X^T (X v)`` is one broadcast of ``v`` and one reduction of a
    ``d``-vector. Returns ``(vals, vecs)`` on rank 0, ``(None, None)``
    elsewhere.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    d = X.shape[1]
    rank = comm.Get_rank()

    def product(v):
        return _rmatmul(X, _matmul(X, v.reshape(d, -1)), comm)

    if comm.Get_size() == 1:
        op = LinearOperator((d, d), matvec=lambda v: product(v)[:, 0], dtype=np.float64)
        return eigsh(op, k=k, tol=tol, v0=v0)
    if rank == 0:
        state = {"error": None}

        def matvec(v):
            bcast_array(np.array([1], dtype=np.int64), comm=comm)
            v = bcast_array(np.ascontiguousarray(v, dtype=np.float64).ravel(), comm=comm)
            return product(v)[:, 0]

        op = LinearOperator((d, d), matvec=matvec, dtype=np.float64)
        try:
            result = eigsh(op, k=k, tol=tol, v0=v0)
        except Exception as exc:  # tell the others to stop, then re-raise below
            state["error"] = exc
            result = (None, None)
        bcast_array(np.array([0], dtype=np.int64), comm=comm)
        if state["error"] is not None:
            raise state["error"]
        return result
    while bcast_array(np.zeros(1, dtype=np.int64), comm=comm)[0] == 1:
        v = bcast_array(np.empty(d), comm=comm)
        product(v)
    return None, None


def _arpack_svd(X, n_components, *, tol, random_state, counts, comm):
    """Top-``n_components`` singular triplets ``(s, Vt)`` (replicated), the 'arpack' solver.

    Tall-skinny matrices (``n >= d`` and ``d <= 1000``) take the exact TSQR
    path (a full thin SVD from the Householder ``R``, truncated), which is
    what ARPACK converges to. Otherwise ARPACK runs on rank 0 on the implicit
    Gram operator ``X^T X``, as :func:`scipy.sparse.linalg.svds` does, and the
    singular values are refined from the distributed thin SVD of ``X V``.
    """
    n, d = int(counts.sum()), X.shape[1]
    k = n_components
    # consume the random state as sklearn does (start vector of size min(n, d))
    v0 = random_state.uniform(-1, 1, min(n, d))
    if n >= d and d <= _TSQR_MAX_FEATURES:
        s, Vt = _exact_svd(X, counts, comm)
        return s[:k], Vt[:k]
    if v0.shape[0] != d:
        v0 = random_state.uniform(-1, 1, d)
    (v0,) = _replicate([v0], comm)
    with agree_on_errors(comm):
        _, vecs = _gram_eigsh_root(X, k, tol**2, v0, comm)
    (vecs,) = _replicate([vecs if comm.Get_rank() == 0 else np.empty((d, k))], comm)
    vecs = np.linalg.qr(vecs)[0]
    AV = _matmul(X, vecs)
    av_counts = allgather_array(np.array([AV.shape[0]], dtype=np.int64), comm)[:, 0]
    R = _tsqr_r(AV, av_counts, comm)
    _, s, Wt = sla.svd(R, full_matrices=False, check_finite=False)
    Vt = Wt @ vecs.T
    s, Vt = _replicate([s, Vt], comm)
    return s[:k], Vt[:k]
