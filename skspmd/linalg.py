"""Distributed QR and thin SVD of a matrix whose rows are spread over the ranks.

Every rank holds a block of consecutive rows of one global matrix ``X``
(``n x d``, rank order = row order; a rank may hold no rows, or fewer rows than
columns). :func:`qr` and :func:`svd` are collective: the small factors
(``R``; ``s`` and ``Vt``) come back bitwise identical on every rank, the tall
factors (``Q``, ``U``) stay distributed: each rank gets the rows of ``Q`` or
``U`` that match its rows of ``X``. Results are computed in float64 and
returned in the input dtype.

This module is the public face only; the TSQR core (Householder R factors,
CholeskyQR2, the merge of R factors) lives in :mod:`skspmd._tsqr`, where its
numerics are described.
"""

import scipy.linalg as sla

from ._comm import get_comm, replicate
from ._svd import flip_signs
from ._threads import ensure_threads
from ._tsqr import check_rows, qr_factors, require_tall, tsqr_r

__all__ = ["qr", "svd"]


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
    X, counts, dtype = check_rows(X_local, comm)
    require_tall(counts, X.shape[1], comm, "qr")
    if mode == "r":
        return tsqr_r(X, counts, comm).astype(dtype, copy=False)
    Q, R = qr_factors(X, counts, comm)
    return Q.astype(dtype, copy=False), R.astype(dtype, copy=False)


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
    X, counts, dtype = check_rows(X_local, comm)
    require_tall(counts, X.shape[1], comm, "svd")
    if compute_u:
        Q, R = qr_factors(X, counts, comm)
    else:
        Q, R = None, tsqr_r(X, counts, comm)
    Ur, s, Vt = sla.svd(R, full_matrices=False, check_finite=False)
    Ur, s, Vt = replicate([Ur, s, Vt], comm)
    U = None if Q is None else Q @ Ur
    U, Vt = flip_signs(U, Vt)
    if U is not None:
        U = U.astype(dtype, copy=False)
    return U, s.astype(dtype, copy=False), Vt.astype(dtype, copy=False)
