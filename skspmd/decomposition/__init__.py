"""Distributed matrix decompositions: PCA and truncated SVD."""

from ._pca import SPMDPCA
from ._truncated_svd import SPMDTruncatedSVD

__all__ = ["SPMDPCA", "SPMDTruncatedSVD"]
