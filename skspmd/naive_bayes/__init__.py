"""Distributed naive Bayes."""

from ._gaussian import SPMDGaussianNB
from ._multinomial import SPMDMultinomialNB

__all__ = ["SPMDGaussianNB", "SPMDMultinomialNB"]
