"""SPMDNearestNeighbors: sklearn's NearestNeighbors over rows that stay on their ranks."""

from sklearn.neighbors import NearestNeighbors

from .._base import spmd_fit
from ._base import SPMDNeighborsMixin

__all__ = ["SPMDNearestNeighbors"]


class SPMDNearestNeighbors(SPMDNeighborsMixin, NearestNeighbors):
    """Unsupervised nearest-neighbour searches over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.neighbors.NearestNeighbors`:
    same parameters and attributes; ``fit`` is collective and keeps each
    rank's rows where they are; ``kneighbors``, ``radius_neighbors`` and their
    graphs are collective and return global row indices.

    Parameters
    ----------
    n_neighbors : int, default=5
        Default number of neighbours of :meth:`kneighbors`.
    radius : float, default=1.0
        Default radius of :meth:`radius_neighbors`.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        The search run on each rank's block of training rows, resolved as
        scikit-learn resolves it (over all ranks' rows): brute force, or a
        tree of the block. Every search is exact (see Notes).
    leaf_size : int, default=30
        Leaf size of the trees.
    metric : {'minkowski', 'euclidean', 'manhattan', 'cosine'}, default='minkowski'
        Distance; ``'minkowski'`` needs ``p=1`` (manhattan) or ``p=2``
        (euclidean). Other metrics raise a ``ValueError`` on every rank.
    p : float, default=2
        Power of the Minkowski metric (1 or 2).
    metric_params : dict, default=None
        Only None (or an empty dict, or ``{'p': 1 or 2}`` with minkowski).
    n_jobs : int, default=None
        Accepted for compatibility; each rank's threads follow
        :func:`skspmd.set_num_threads`.

    Attributes
    ----------
    effective_metric_ : str
        The metric that runs (``'euclidean'``, ``'manhattan'`` or ``'cosine'``).
    effective_metric_params_ : dict
        Always empty.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    n_samples_fit_ : int
        Training rows over all ranks.

    See Also
    --------
    sklearn.neighbors.NearestNeighbors : The single-process estimator.
    SPMDKNeighborsClassifier : Classification by the votes of the neighbours.

    Notes
    -----
    Distributed semantics: the fitted model is the training data, and it
    stays distributed: each rank keeps its own rows; ``fit`` only agrees on
    the rows per rank, ``n_features_in_`` and the search to run. Therefore,
    unlike skspmd's other estimators, the query methods are **collective**:
    every rank calls them, with its own query rows (a rank may pass zero
    rows, or ``X=None`` for its own training rows), and bad input on one rank
    raises the same exception on every rank. Each rank's training block
    travels around the ring of ranks (overlapped with the search of the
    previous block), so a query costs every rank the transfer of the other
    ranks' training rows; query rows never move. Indices are global: the
    position in the concatenation of the ranks' training rows in rank order.

    The results equal scikit-learn's on all rows: brute force runs
    scikit-learn's own compiled reductions on each block (euclidean distances
    by the GEMM expansion, in float64), a tree algorithm a tree of each
    block. For euclidean float64 rows, a compiled filter (register-tiled
    expansion with a rounding margin) first keeps each query row's ``4k``
    nearest, or the pairs possibly within the radius when no distances are
    asked for, and scikit-learn's search decides among them. Among equal
    distances the smaller global index comes first, for
    any number of ranks and any split (scikit-learn keeps the same set of
    neighbours, but orders exact ties by its heap). Only dense input is
    supported. A fitted model pickles this rank's rows only.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDNearestNeighbors
    >>> X = np.array([[0.0, 0.0], [0.0, 0.5], [1.0, 1.0]])
    >>> nn = SPMDNearestNeighbors(n_neighbors=1).fit(X)
    >>> nn.kneighbors([[1.0, 1.0]])
    (array([[0.]]), array([[2]]))
    """

    @spmd_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Keep this rank's training rows and agree on the search (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : None
            Ignored.

        Returns
        -------
        self : SPMDNearestNeighbors
            The fitted estimator (its ``_fit_X`` is this rank's rows only).
        """
        return self._fit_rows(X)
