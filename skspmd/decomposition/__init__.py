"""Distributed matrix decompositions: PCA, incremental PCA and truncated SVD."""

from ._incremental_pca import SPMDIncrementalPCA
from ._pca import SPMDPCA
from ._truncated_svd import SPMDTruncatedSVD

__all__ = ["SPMDIncrementalPCA", "SPMDPCA", "SPMDTruncatedSVD"]
