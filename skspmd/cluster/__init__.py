"""Distributed clustering."""

from ._kmeans import SPMDKMeans

__all__ = ["SPMDKMeans"]
