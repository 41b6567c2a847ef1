"""Truncated SVD solvers for row-distributed matrices (exact, randomized, ARPACK).

Private; shared by :class:`skspmd.decomposition.SPMDPCA`,
:class:`skspmd.decomposition.SPMDTruncatedSVD`, the public
:func:`skspmd.linalg.svd` and the daal4py layer. Each is built on the TSQR
core in :mod:`skspmd._tsqr`; ``s`` and ``Vt`` come back replicated (rank 0's
values broadcast), the tall factor stays distributed.
"""

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._comm import agree_on_errors, allgather_array, allreduce, bcast_array, replicate
from ._tsqr import qr_factors, tsqr_r

__all__ = [
    "arpack_svd",
    "descending_eigh",
    "exact_svd",
    "flip_signs",
    "randomized_svd",
    "truncated_svd",
]

# Widest matrix for which the exact TSQR path replaces ARPACK.
_TSQR_MAX_FEATURES = 1000

def descending_eigh(M, comm):
    """Eigenpairs of the symmetric ``M`` by decreasing eigenvalue, rank 0's on every rank.

    Returns ``(values, Vt)``: the eigenvalues clipped at 0 (``M`` is a
    positive semi-definite Gram, covariance or correlation matrix; negative
    values are round-off) and the eigenvectors as rows.
    """
    values, vectors = np.linalg.eigh(M)
    values, Vt = replicate([values[::-1], vectors[:, ::-1].T], comm)
    values[values < 0.0] = 0.0
    return values, Vt


def flip_signs(U, Vt):
    """Largest-magnitude entry of each row of ``Vt`` positive (sklearn's v-based ``svd_flip``)."""
    rows = np.arange(Vt.shape[0])
    signs = np.sign(Vt[rows, np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1.0
    Vt *= signs[:, np.newaxis]
    if U is not None:
        U *= signs[np.newaxis, :]
    return U, Vt


def _svd_of_r(X, counts, comm, shift=None):
    """``(s, Vt)`` of the row-distributed ``X - shift`` from the SVD of its TSQR ``R``.

    Not yet replicated: the caller broadcasts rank 0's values.
    """
    R = tsqr_r(X, counts, comm, shift=shift)
    if R.shape[0] == 0:
        return np.zeros(0), np.zeros((0, X.shape[1]))
    _, s, Vt = sla.svd(R, full_matrices=False, check_finite=False)
    return s, Vt


def exact_svd(X, counts, comm, shift=None):
    """``(s, Vt)`` of the row-distributed ``X - shift`` from its Householder ``R``.

    Works for wide matrices too (then ``R`` is trapezoidal); returns
    ``min(n, d)`` singular triplets, replicated.
    """
    n, d = int(counts.sum()), X.shape[1]
    s, Vt = replicate(list(_svd_of_r(X, counts, comm, shift=shift)), comm)
    r = min(n, d)
    return s[:r], Vt[:r]


def matmul(X, B):
    """``X @ B`` as a dense C-ordered float64 array, for dense or sparse ``X``."""
    out = X @ B
    return np.ascontiguousarray(out.toarray() if sp.issparse(out) else out, dtype=np.float64)


def rmatmul(X, Y, comm):
    """Replicated ``X^T @ Y`` summed over the ranks (``X``, ``Y`` row-distributed)."""
    return allreduce(matmul(X.T, Y), comm=comm)


def _product_svd(X, B, comm):
    """``(W, s, Wt)``: this rank's rows of ``W = X @ B`` and the SVD of the distributed ``W``.

    ``s`` and ``Wt`` (not yet replicated) come from the TSQR ``R`` of ``W``,
    whose rows per rank are those of ``X``.
    """
    W = matmul(X, B)
    counts = allgather_array(np.array([W.shape[0]], dtype=np.int64), comm)[:, 0]
    s, Wt = _svd_of_r(W, counts, comm)
    return W, s, Wt


def _normalizers(method, counts, comm):
    """The power iterations' normalisers: ``(replicated side, row-distributed side)``."""
    if method == "none":
        return (lambda A: A), (lambda A: A)
    if method == "LU":
        rep_norm = lambda A: sla.lu(A, permute_l=True, check_finite=False)[0]  # noqa: E731
    else:
        rep_norm = lambda A: sla.qr(A, mode="economic", check_finite=False)[0]  # noqa: E731
    return rep_norm, (lambda A: qr_factors(A, counts, comm, passes=1)[0])


def _sketch_tall(X, omega, n_iter, normalizers, counts, k, compute_u, comm):
    """Range of the tall ``X`` (n x d): sketch ``Q`` (d x l) replicated, ``X @ Q`` distributed."""
    rep_norm, dist_norm = normalizers
    Q = omega
    for _ in range(n_iter):
        Y = dist_norm(matmul(X, Q))
        (Q,) = replicate([rep_norm(rmatmul(X, Y, comm))], comm)
    Y = qr_factors(matmul(X, Q), counts, comm)[0]
    B = rmatmul(Y, X, comm)
    Uhat, s, Vt = sla.svd(B, full_matrices=False, check_finite=False)
    Uhat, s, Vt = replicate([Uhat, s, Vt], comm)
    return (Y @ Uhat[:, :k] if compute_u else None), s, Vt


def _sketch_wide(X, omega_rows, n_iter, normalizers, k, compute_u, comm):
    """sklearn's transposed sketch of the wide ``X``: it works on ``M = X^T`` (d x n).

    ``omega_rows`` is this rank's rows of the ``n x l`` test matrix (the
    columns of ``M`` are our rows).
    """
    rep_norm, dist_norm = normalizers
    Y = omega_rows
    for _ in range(n_iter):
        (Z,) = replicate([rep_norm(rmatmul(X, Y, comm))], comm)
        Y = dist_norm(matmul(X, Z))
    Z = sla.qr(rmatmul(X, Y, comm), mode="economic", check_finite=False)[0]
    (Z,) = replicate([Z], comm)
    # B = Z^T M = (X Z)^T; its SVD from the distributed thin SVD of W = X Z (n x l)
    W, s, Wt = _product_svd(X, Z, comm)
    s, Wt = replicate([s, Wt], comm)
    # M = (Z Wt^T) diag(s) U_W^T, so the right singular vectors of X are
    # Z Wt^T and its left ones U_W = W Wt^T / s
    Vt = (Z @ Wt.T).T
    U = None
    if compute_u:
        with np.errstate(divide="ignore", invalid="ignore"):
            U = (W @ Wt[:k].T) / s[:k]
    return U, s, Vt


def randomized_svd(
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
    (omega,) = replicate([omega], comm)
    if size >= min(n, d):
        s, Vt = exact_svd(X, counts, comm)
        return None, s[:k], Vt[:k]

    normalizers = _normalizers(power_iteration_normalizer, counts, comm)
    if transpose:
        omega_rows = omega[offset : offset + X.shape[0]]
        U, s, Vt = _sketch_wide(X, omega_rows, n_iter, normalizers, k, compute_u, comm)
        return U, s[:k], Vt[:k]
    U, s, Vt = _sketch_tall(X, omega, n_iter, normalizers, counts, k, compute_u, comm)
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
        return rmatmul(X, matmul(X, v.reshape(d, -1)), comm)

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


def arpack_svd(X, n_components, *, tol, random_state, counts, comm):
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
        s, Vt = exact_svd(X, counts, comm)
        return s[:k], Vt[:k]
    if v0.shape[0] != d:
        v0 = random_state.uniform(-1, 1, d)
    (v0,) = replicate([v0], comm)
    with agree_on_errors(comm):
        _, vecs = _gram_eigsh_root(X, k, tol**2, v0, comm)
    (vecs,) = replicate([vecs if comm.Get_rank() == 0 else np.empty((d, k))], comm)
    vecs = np.linalg.qr(vecs)[0]
    _, s, Wt = _product_svd(X, vecs, comm)
    Vt = Wt @ vecs.T
    s, Vt = replicate([s, Vt], comm)
    return s[:k], Vt[:k]


def truncated_svd(X, n_components, solver, data, comm, *, tol, n_iter, n_oversamples,
                  power_iteration_normalizer, random_state, compute_u=False):
    """``(U_local, s, Vt)`` by sklearn's ``'arpack'`` or ``'randomized'`` solver.

    The truncated solvers as SPMDPCA and SPMDTruncatedSVD name them:
    :func:`arpack_svd` (``U_local`` is then None) or :func:`randomized_svd`,
    with the estimator's parameters; ``data`` is the
    :class:`~skspmd._validation.SPMDData` of ``X`` (rows per rank) and
    ``random_state`` is checked here.
    """
    random_state = check_random_state(random_state)
    if solver == "arpack":
        s, Vt = arpack_svd(
            X, n_components, tol=tol, random_state=random_state, counts=data.counts, comm=comm
        )
        return None, s, Vt
    return randomized_svd(
        X,
        n_components,
        n_oversamples=n_oversamples,
        n_iter=n_iter,
        power_iteration_normalizer=power_iteration_normalizer,
        random_state=random_state,
        counts=data.counts,
        offset=data.offset,
        comm=comm,
        compute_u=compute_u,
    )
