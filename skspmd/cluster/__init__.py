"""Distributed clustering."""

from ._dbscan import SPMDDBSCAN
from ._kmeans import SPMDKMeans
from ._seeding import kmeans_plusplus

__all__ = ["SPMDDBSCAN", "SPMDKMeans", "kmeans_plusplus"]
