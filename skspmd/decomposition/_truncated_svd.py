"""SPMDTruncatedSVD: sklearn's TruncatedSVD (no centring) with a collective ``fit``."""

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.utils.extmath import safe_sparse_dot, svd_flip

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, get_comm
from .._stats import Moments
from .._validation import validate_spmd_data
from .._svd import truncated_svd

__all__ = ["SPMDTruncatedSVD"]


def _check_n_components(k, n, d, algorithm):
    if algorithm == "arpack" and not k < min(n, d):
        raise ValueError(
            f"n_components={k} must be strictly less than min(n_samples, "
            f"n_features)={min(n, d)} with algorithm='arpack' (n_samples={n} "
            f"rows over all ranks, n_features={d})"
        )
    if algorithm == "randomized" and k > d:
        raise ValueError(f"n_components({k}) must be <= n_features({d}).")


def _projected_variances(X, Vt, comm):
    """This rank's projected rows, the global variance of each projection and of ``X``.

    Returns ``(X @ Vt.T, variances of its columns, total variance of X)``:
    two :class:`~skspmd._stats.Moments` merges (``ddof=0``, as sklearn).
    """
    with agree_on_errors(comm):
        X_transformed = np.asarray(safe_sparse_dot(X, Vt.T), dtype=np.float64)
        projected = Moments.from_rows(X_transformed)
        original = Moments.from_rows(X)
    projected = projected.allreduce(comm)
    original = original.allreduce(comm)
    return X_transformed, projected.m2 / projected.n, np.sum(original.m2) / original.n


class SPMDTruncatedSVD(LocalRowsMixin, TruncatedSVD):
    """Truncated SVD (LSA) of the rows of every MPI rank, without centring.

    The distributed twin of :class:`sklearn.decomposition.TruncatedSVD`:
    the same parameters, attributes and sign convention; ``fit`` is
    collective and leaves a bitwise identical model on every rank.

    Parameters
    ----------
    n_components : int, default=2
        Number of singular triplets to keep.
    algorithm : {'arpack', 'randomized'}, default='randomized'
        ``'randomized'``: distributed randomized range finder (Halko et al.),
        consuming ``random_state`` as sklearn does. ``'arpack'``: the exact
        answer ARPACK converges to; computed by TSQR (a full thin SVD from
        the Householder ``R`` factor, truncated) when the data is
        tall-skinny (``n_samples >= n_features`` and ``n_features <= 1000``),
        otherwise by ARPACK on rank 0 over the implicit Gram operator
        ``X^T X`` whose products every rank serves.
    n_iter : int, default=5
        Number of power iterations of the ``'randomized'`` solver.
    n_oversamples : int, default=10
        Extra random vectors of the ``'randomized'`` solver.
    power_iteration_normalizer : {'auto', 'QR', 'LU', 'none'}, default='auto'
        Normalisation of the power iterations (``'randomized'``). The
        row-distributed iterates are normalised by a distributed CholeskyQR
        pass when this is ``'QR'`` or ``'LU'`` (it spans the same subspace as
        sklearn's LU); the replicated iterates use the method named.
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized test matrix and the ARPACK start vector; drawn
        on rank 0 and broadcast.
    tol : float, default=0.0
        Tolerance for ARPACK (used only on the ARPACK path, see ``algorithm``).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Right singular vectors, with sklearn's sign convention.
    explained_variance_ : ndarray of shape (n_components,)
        Global variance of the training rows projected on each component.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        ``explained_variance_`` over the total (global) variance of the data.
    singular_values_ : ndarray of shape (n_components,)
        Singular values of the global data.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.TruncatedSVD : The single-process estimator.
    SPMDPCA : Distributed PCA (with centring).

    Notes
    -----
    Distributed semantics: ``transform`` and ``inverse_transform`` are local;
    ``fit_transform`` returns this rank's rows projected. Communication per
    fit is independent of the number of rows: for ``'randomized'`` about
    ``2 * n_iter + 3`` reductions of a ``n_features x (n_components +
    n_oversamples)`` matrix plus small Gram reductions; for the TSQR path one
    ``Allgather`` of a ``n_features x n_features`` triangle per rank; for the
    ARPACK path one broadcast and one reduction of a ``n_features`` vector
    per operator product; plus one ``Allgather`` of per-column moments for
    the explained variances. The small SVDs are broadcast from rank 0.
    Sparse CSR/CSC input is supported. Computation is in float64; attributes
    take the input's floating dtype (float64 for integer input).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.decomposition import SPMDTruncatedSVD
    >>> X = np.array([[3.0, 0.0, 1.0], [1.0, 2.0, 0.0], [0.0, 1.0, 4.0], [2.0, 2.0, 2.0]])
    >>> svd = SPMDTruncatedSVD(n_components=2, algorithm="arpack").fit(X)
    >>> svd.singular_values_.round(4)
    array([5.4816, 3.1283])
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False
        return tags

    def fit(self, X, y=None):
        """Fit the model over every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; a rank may hold none.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        self.fit_transform(X)
        return self

    @spmd_fit
    def fit_transform(self, X, y=None):
        """Fit over every rank's rows (collective) and project this rank's rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; a rank may hold none.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            This rank's rows projected on the components (always dense).
        """
        comm = get_comm()
        X, data = validate_spmd_data(
            self, X, comm=comm, accept_sparse=["csr", "csc"], ensure_min_features=2
        )
        k = self.n_components
        _check_n_components(k, data.n_samples, X.shape[1], self.algorithm)
        dtype = X.dtype if X.dtype == np.float32 else np.dtype(np.float64)
        if sp.issparse(X):
            X_work = sp.csr_matrix(X, dtype=np.float64)
        else:
            X_work = np.ascontiguousarray(X, dtype=np.float64)
        _, Sigma, VT = truncated_svd(
            X_work, k, self.algorithm, data, comm,
            tol=self.tol, n_iter=self.n_iter, n_oversamples=self.n_oversamples,
            power_iteration_normalizer=self.power_iteration_normalizer,
            random_state=self.random_state,
        )
        _, VT = svd_flip(None, VT, u_based_decision=False)
        self.components_ = np.ascontiguousarray(VT, dtype=dtype)

        X_transformed, exp_var, full_var = _projected_variances(X_work, VT, comm)
        self.explained_variance_ = exp_var.astype(dtype)
        self.explained_variance_ratio_ = (exp_var / full_var).astype(dtype)
        self.singular_values_ = Sigma.astype(dtype)
        return X_transformed.astype(dtype, copy=False)
