"""Benchmarked fits: PCA per solver, truncated SVD, and the distributed QR/SVD (issue 3).

Data: 2,000,000 x 100 standard normal float64 (``_common.rows``), the same rows for
every tool and rank count. ``pca_*`` time ``PCA(n_components=10, svd_solver=...)``;
sklearn's ``'full'`` is a LAPACK SVD of the whole centred matrix in one process.
"""

from _common import Algo

N, D = 2_000_000, 100


def _pca(solver, spmd):
    def fit(X, y):
        if spmd:
            from skspmd.decomposition import SPMDPCA as Est
        else:
            from sklearn.decomposition import PCA as Est
        Est(n_components=10, svd_solver=solver, random_state=0).fit(X)

    return fit


def _tsvd(spmd):
    def fit(X, y):
        if spmd:
            from skspmd.decomposition import SPMDTruncatedSVD as Est
        else:
            from sklearn.decomposition import TruncatedSVD as Est
        Est(n_components=10, random_state=0).fit(X)

    return fit


def _skspmd_linalg(name):
    def fit(X, y):
        from skspmd import linalg

        if name == "qr":
            linalg.qr(X)
        else:
            linalg.svd(X)

    return fit


def _numpy_linalg(name):
    def fit(X, y):
        import scipy.linalg

        if name == "qr":
            scipy.linalg.qr(X, mode="economic", check_finite=False)
        else:
            scipy.linalg.svd(X, full_matrices=False, check_finite=False)

    return fit


ALGOS = {
    "pca_eigh": Algo(_pca("covariance_eigh", True), _pca("covariance_eigh", False), N, D,
                     daal4py="pca_cor"),
    "pca_full": Algo(_pca("full", True), _pca("full", False), N, D, daal4py="pca_svd"),
    "pca_randomized": Algo(_pca("randomized", True), _pca("randomized", False), N, D),
    "tsvd_randomized": Algo(_tsvd(True), _tsvd(False), N, D),
    "qr": Algo(_skspmd_linalg("qr"), _numpy_linalg("qr"), N, D, daal4py="qr"),
    "svd": Algo(_skspmd_linalg("svd"), _numpy_linalg("svd"), N, D, daal4py="svd"),
}
