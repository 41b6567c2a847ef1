"""Helpers of the compiled expansion filters in front of the neighbour searches.

The filters (``skspmd._kernels.radius_candidates`` and ``knn_candidates``)
compute squared euclidean distances by the expansion ``|x|^2 + |y|^2 - 2 x.y``
in float64 and keep what scikit-learn's own search must then decide; this
module holds what they share: when they apply, their rounding margin, and
the rows' squared norms and tree order, computed once per search.
"""

import numpy as np
from sklearn.neighbors import KDTree

__all__ = ["QueryRows", "expansion_applies", "margin", "squared_norms"]


def margin(n_features):
    """Relative margin ``tau`` of the expansion filter for ``n_features`` columns.

    A squared euclidean distance computed in float64 by expansion
    (``|x|^2 + |y|^2 - 2 x.y``, any order of the sums, FMA or not) or feature
    by feature is within about ``(2 n_features + 4) u (|x|^2 + |y|^2)`` of the
    exact value (``u = 2**-53``); two such computations differ by at most
    twice that, which ``8 (n_features + 4) u`` covers with room to spare.
    """
    return (n_features + 4) * 2.0**-50


class QueryRows:
    """Rows with their squared norms and a spatial order, each computed when first needed.

    The order is a KD tree's leaf order (nearby rows together), for the
    bounding boxes of :func:`skspmd._kernels.radius_candidates`.
    """

    def __init__(self, X, order=None):
        self.X, self._norms, self._order = X, None, order

    @property
    def norms(self):
        if self._norms is None:
            self._norms = squared_norms(self.X)
        return self._norms

    @property
    def order(self):
        if self._order is None:
            small = self.X.shape[0] < 2
            tree = None if small else KDTree(self.X, leaf_size=16)
            self._order = np.arange(self.X.shape[0]) if small else tree.get_arrays()[1]
        return self._order


def squared_norms(X):
    return np.einsum("ij,ij->i", X, X)


def expansion_applies(Xq, Y, metric):
    """Whether the expansion filters cover a search of ``Y`` for ``Xq`` (euclidean, float64)."""
    return metric == "euclidean" and Xq.dtype == np.float64 and Y.dtype == np.float64
