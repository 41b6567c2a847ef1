"""Distributed clustering."""

from ._kmeans import SPMDKMeans
from ._seeding import kmeans_plusplus

__all__ = ["SPMDKMeans", "kmeans_plusplus"]
