"""Distributed descriptive statistics."""

from ._basic_statistics import SPMDBasicStatistics

__all__ = ["SPMDBasicStatistics"]
