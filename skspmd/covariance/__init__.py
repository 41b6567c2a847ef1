"""Distributed covariance estimation."""

from ._empirical_covariance import SPMDEmpiricalCovariance

__all__ = ["SPMDEmpiricalCovariance"]
