"""pca, svd and qr over SPMDStandardScaler + SPMDPCA and skspmd.linalg."""

import numpy as np
from sklearn.utils.extmath import svd_flip

from .._comm import get_comm
from .._threads import ensure_threads
from ._core import (
    Algorithm,
    Result,
    UnsupportedError,
    check_bool,
    check_choice,
    check_int,
    parse_flags,
    row,
)

__all__ = ["pca", "pca_result", "qr", "qr_result", "svd", "svd_result"]


class pca_result(Result):
    """Result of :class:`pca`.

    ``eigenvalues`` (1, r), ``eigenvectors`` (r, p) (one component per row),
    ``means`` and ``variances`` (1, p) or None, ``dataForTransform`` (dict).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0], [4.0, 4.0]])
    >>> res = d4p.pca(resultsToCompute="mean|variance").compute(X)
    >>> res.eigenvectors.round(4)
    array([[ 0.7071,  0.7071],
           [ 0.7071, -0.7071]])
    >>> res.means, res.variances.round(4)
    (array([[2.5, 3.5]]), array([[1.6667, 1.6667]]))
    """


class pca(Algorithm):
    """Principal component analysis of the correlation matrix: daal4py's ``pca``.

    ``'correlationDense'`` is built on the merged cross-products that
    :class:`skspmd.SPMDEmpiricalCovariance` computes (one pass), scaled to the
    global correlation matrix; ``'svdDense'`` standardises the data with
    :class:`skspmd.SPMDStandardScaler` (global mean and standard deviation)
    and runs :class:`skspmd.decomposition.SPMDPCA` on them. Both give what
    scikit-learn's PCA of the standardised data gives.

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'correlationDense', 'defaultDense', 'svdDense'}, default='correlationDense'
        ``'correlationDense'`` (alias ``'defaultDense'``): eigendecomposition
        of the correlation matrix (the covariance of the merged cross-products
        scaled by the standard deviations; one pass, fastest). ``'svdDense'``: SVD of the
        standardised data (SPMDPCA ``svd_solver='full'``, a distributed TSQR;
        more accurate for the small eigenvalues). Both give the eigenvalues
        and eigenvectors of the global correlation matrix, for any number of
        ranks.
    resultsToCompute : str, default=''
        ``'|'``-separated flags among ``'mean'``, ``'variance'``,
        ``'eigenvalue'``: fill ``means``, ``variances`` and the matching
        entries of ``dataForTransform`` (None otherwise, as in daal4py).
    nComponents : int, default=-1
        Number of components returned; ``-1`` or ``0``: all. Honoured in
        distributed mode too (daal4py ignores it there).
    isDeterministic : bool, default=False
        daal4py's sign flip. skspmd always applies it: the entry of largest
        magnitude of each eigenvector is positive (scikit-learn's convention),
        so signs never depend on the number of ranks.
    doScale : bool, default=False
        Accepted for compatibility; ``eigenvalues`` are always the eigenvalues
        of the correlation matrix (daal4py's batch ``svdDense`` returns the
        singular values of the standardised data unless ``doScale=True``).
    isCorrelation : bool, default=False
        Only False (the input is data, not a precomputed correlation matrix).
    normalization : None
        Only None (the built-in z-score normalisation).
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.

    Notes
    -----
    ``eigenvalues`` are SPMDPCA's ``explained_variance_`` of the standardised
    data times ``(n - 1) / n`` (the scaler divides by the ``ddof=0`` standard
    deviation); they sum to the number of features. ``variances`` are the
    ``ddof=1`` column variances. Differences from daal4py: daal4py's
    distributed ``svdDense`` standardises each rank's rows with that rank's
    own mean and standard deviation, so its eigenvalues change with the
    number of ranks; here both methods give the global answer.

    Distributed semantics: ``'correlationDense'`` reads this rank's rows once
    (cross-products); ``'svdDense'`` three times (moments, standardise,
    TSQR). Communication is a few collectives of ``p x p`` matrices,
    independent of the number of rows.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0], [4.0, 4.0]])
    >>> res = d4p.pca().compute(X)
    >>> res.eigenvalues.round(4)
    array([[1.8, 0.2]])
    """

    _name = "pca"

    def __init__(
        self,
        fptype="double",
        method="correlationDense",
        resultsToCompute="",
        nComponents=-1,
        isDeterministic=False,
        doScale=False,
        isCorrelation=False,
        normalization=None,
        distributed=False,
    ):
        self._common(fptype, distributed)
        self.method = check_choice(
            self._name, "method", method, ("correlationDense", "defaultDense", "svdDense")
        )
        self.resultsToCompute = resultsToCompute
        self._flags = parse_flags(
            self._name, "resultsToCompute", resultsToCompute, ("mean", "variance", "eigenvalue")
        )
        self.nComponents = check_int(self._name, "nComponents", nComponents, minimum=-1)
        self.isDeterministic = check_bool(self._name, "isDeterministic", isDeterministic)
        self.doScale = check_bool(self._name, "doScale", doScale)
        if check_bool(self._name, "isCorrelation", isCorrelation):
            raise UnsupportedError(
                "pca: isCorrelation=True (a precomputed correlation matrix as input) is not "
                "provided by skspmd.daal4py; pass the data"
            )
        if normalization is not None:
            raise UnsupportedError(
                "pca: a custom normalization algorithm is not provided by skspmd.daal4py; "
                "the data are always z-score normalised"
            )
        self.normalization = None

    def _run(self, inputs, **_):
        X = inputs["data"]
        p = X.shape[1]
        k = self.nComponents if self.nComponents > 0 else None
        if k is not None and k > p:
            raise ValueError(f"pca: nComponents={k} is larger than the number of features {p}")
        if self.method == "svdDense":
            n, dtype, mean, var, eigenvalues, components = self._svd_dense(X, k, inputs)
        else:
            n, dtype, mean, var, eigenvalues, components = _correlation_eigh(X, k)
        eigenvalues = row(eigenvalues, dtype)
        means = row(mean, dtype) if "mean" in self._flags else None
        variances = None
        if "variance" in self._flags:
            with np.errstate(divide="ignore", invalid="ignore"):
                variances = row(var * (n / (n - 1)), dtype)
        return pca_result(
            eigenvalues=eigenvalues,
            eigenvectors=np.ascontiguousarray(components, dtype=dtype),
            means=means,
            variances=variances,
            dataForTransform={
                "mean": means,
                "variance": variances,
                "eigenvalue": eigenvalues if "eigenvalue" in self._flags else None,
            },
        )


    @staticmethod
    def _svd_dense(X, k, inputs):
        """SPMDPCA ``svd_solver='full'`` (TSQR) of the data standardised by SPMDStandardScaler."""
        from ..decomposition import SPMDPCA
        from ..preprocessing import SPMDStandardScaler

        scaler = SPMDStandardScaler(copy="data" not in inputs.owned).fit(X)
        est = SPMDPCA(n_components=k, svd_solver="full").fit(scaler.transform(X))
        n = est.n_samples_
        dtype = est.explained_variance_.dtype
        eigenvalues = est.explained_variance_ * dtype.type((n - 1) / n)
        return n, dtype, scaler.mean_, scaler.var_, eigenvalues, est.components_


def _correlation_eigh(X, k):
    """Eigenpairs of the global correlation matrix from one pass of cross-products.

    The merged centred cross-products (one pass over the rows, as
    SPMDEmpiricalCovariance computes them) scaled by the standard deviations,
    with StandardScaler's rule for constant features (scale 1, so their rows
    and columns are zero). Its eigenvalues are those of scikit-learn's PCA of
    the standardised data times ``(n - 1) / n``; the eigenvectors follow
    PCA's sign rule (largest-magnitude entry positive) and are rank 0's, on
    every rank. Returns ``(n, dtype, mean, ddof-0 variances, eigenvalues,
    eigenvectors as rows)``.
    """
    from .._stats import CrossProducts, constant_features
    from .._svd import descending_eigh
    from .._validation import validate_spmd_data
    from ..covariance import SPMDEmpiricalCovariance

    comm = get_comm()
    ensure_threads(comm)
    X, data = validate_spmd_data(
        SPMDEmpiricalCovariance(), X, comm=comm, dtype=[np.float64, np.float32]
    )
    cp = CrossProducts.merged(X, centered=True, comm=comm)
    n = data.n_samples
    var = np.diag(cp.C) / cp.n  # ddof=0, as the scaler
    var = np.maximum(var, 0.0)
    scale = np.sqrt(var)
    scale[constant_features(var, cp.mean, n)] = 1.0
    corr = cp.C / cp.n / np.outer(scale, scale)
    values, Vt = descending_eigh(corr, comm)
    _, Vt = svd_flip(None, Vt, u_based_decision=False)
    return n, X.dtype, cp.mean, var, values[:k], Vt[:k]


_SINGULAR_MATRIX = ("", "requiredInPackedForm", "notRequired")


class svd_result(Result):
    """Result of :class:`svd`.

    ``singularValues`` (1, p), ``rightSingularMatrix`` (p, p) (right singular
    vectors as rows, ``V^T``), ``leftSingularMatrix`` (n_local, p): this
    rank's rows of ``U``. A matrix not required is None.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> res = d4p.svd().compute(np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    >>> res
    svd_result(leftSingularMatrix=array(3, 2), rightSingularMatrix=array(2, 2), \
    singularValues=array(1, 2))
    >>> res.leftSingularMatrix
    array([[1., 0.],
           [0., 1.],
           [0., 0.]])
    """


class svd(Algorithm):
    """Thin singular value decomposition: daal4py's ``svd``.

    Built on :func:`skspmd.linalg.svd` (TSQR). ``X = U diag(s) V^T`` with
    ``U`` distributed like the rows of ``X``.

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense'}, default='defaultDense'
    leftSingularMatrix : {'', 'requiredInPackedForm', 'notRequired'}, default=''
        ``'notRequired'`` skips ``U`` (cheaper; daal4py's distributed mode
        fails with it); ``leftSingularMatrix`` is then None.
    rightSingularMatrix : {'', 'requiredInPackedForm', 'notRequired'}, default=''
        ``'notRequired'``: ``rightSingularMatrix`` is None.
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    Signs are fixed (largest-magnitude entry of each right singular vector
    positive, ``U`` to match), so they do not depend on the number of ranks;
    daal4py's signs are arbitrary. The global matrix needs at least as many
    rows as columns; a rank may hold fewer rows than columns, or none
    (daal4py requires ``n_local >= p`` on every rank).

    Distributed semantics: one TSQR (CholeskyQR2 with a Householder fallback)
    and the SVD of the small ``R`` on rank 0, broadcast; communication is a
    few ``p x p`` matrices. ``U`` stays distributed.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> res = d4p.svd().compute(np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    >>> res.singularValues
    array([[2., 1.]])
    """

    _name = "svd"

    def __init__(
        self,
        fptype="double",
        method="defaultDense",
        leftSingularMatrix="",
        rightSingularMatrix="",
        distributed=False,
        streaming=False,
    ):
        self._common(fptype, distributed, streaming)
        self.method = check_choice(self._name, "method", method, ("defaultDense",))
        self.leftSingularMatrix = check_choice(
            self._name, "leftSingularMatrix", leftSingularMatrix, _SINGULAR_MATRIX
        )
        self.rightSingularMatrix = check_choice(
            self._name, "rightSingularMatrix", rightSingularMatrix, _SINGULAR_MATRIX
        )

    def _run(self, inputs, **_):
        from ..linalg import svd as _svd

        want_u = self.leftSingularMatrix != "notRequired"
        U, s, Vt = _svd(inputs["data"], compute_u=want_u, comm=inputs.comm)
        return svd_result(
            singularValues=row(s),
            rightSingularMatrix=(
                None if self.rightSingularMatrix == "notRequired" else np.ascontiguousarray(Vt)
            ),
            leftSingularMatrix=U,
        )


class qr_result(Result):
    """Result of :class:`qr`: ``matrixQ`` (n_local, p), this rank's rows of Q; ``matrixR``.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 2.0]])
    >>> res = d4p.qr().compute(X)
    >>> res
    qr_result(matrixQ=array(3, 2), matrixR=array(2, 2))
    >>> np.allclose(res.matrixQ @ res.matrixR, X)
    True
    """


class qr(Algorithm):
    """Thin QR decomposition: daal4py's ``qr``.

    Built on :func:`skspmd.linalg.qr` (TSQR). ``X = Q R`` with ``Q``
    distributed like the rows of ``X`` and ``R`` upper triangular.

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense'}, default='defaultDense'
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    ``R`` has a non-negative diagonal (so Q and R are unique for a full-rank
    X and do not depend on the number of ranks); daal4py's signs are
    arbitrary. The global matrix needs at least as many rows as columns; a
    rank may hold fewer rows than columns, or none.

    Distributed semantics: CholeskyQR2 (two reductions of a ``p x p`` Gram
    matrix) while the matrix is well conditioned, Householder TSQR otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> res = d4p.qr().compute(np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 2.0]]))
    >>> res.matrixR[0, 0]
    5.0
    """

    _name = "qr"

    def __init__(self, fptype="double", method="defaultDense", distributed=False, streaming=False):
        self._common(fptype, distributed, streaming)
        self.method = check_choice(self._name, "method", method, ("defaultDense",))

    def _run(self, inputs, **_):
        from ..linalg import qr as _qr

        Q, R = _qr(inputs["data"], comm=inputs.comm)
        return qr_result(matrixQ=Q, matrixR=R)
