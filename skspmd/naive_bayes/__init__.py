"""Distributed naive Bayes."""

from ._multinomial import SPMDMultinomialNB

__all__ = ["SPMDMultinomialNB"]
