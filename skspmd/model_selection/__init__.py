"""Model selection under MPI: global scorers, SPMD-safe search and cross-validation."""

from ._scorers import GlobalScorer, get_scorer, get_scorer_names
from ._search import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
    spmd_splits,
)

__all__ = [
    "GlobalScorer",
    "GridSearchCV",
    "KFold",
    "RandomizedSearchCV",
    "cross_val_score",
    "cross_validate",
    "get_scorer",
    "get_scorer_names",
    "spmd_splits",
]
