"""Distributed linear models: ordinary least squares and ridge regression."""

from ._base import SPMDLinearRegression
from ._ridge import SPMDRidge

__all__ = ["SPMDLinearRegression", "SPMDRidge"]
