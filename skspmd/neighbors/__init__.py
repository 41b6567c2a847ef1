"""Distributed nearest-neighbour searches and k-nearest-neighbour estimators.

The fitted model is the training data, which stays on its ranks: the query
methods of these estimators are collective (every rank calls them).
"""

from ._classification import SPMDKNeighborsClassifier
from ._regression import SPMDKNeighborsRegressor
from ._unsupervised import SPMDNearestNeighbors

__all__ = ["SPMDKNeighborsClassifier", "SPMDKNeighborsRegressor", "SPMDNearestNeighbors"]
