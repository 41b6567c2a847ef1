"""Distributed preprocessing."""

from ._data import SPMDStandardScaler

__all__ = ["SPMDStandardScaler"]
