"""SPMDKNeighborsRegressor: k-nearest-neighbour averages over the rows of every rank."""


import numpy as np
from sklearn.neighbors import KNeighborsRegressor

from .._base import spmd_fit
from .._comm import agree_on_errors, get_comm
from .._stats import Moments, r2_from_moments
from ._base import SPMDNeighborsMixin, as_columns, neighbor_weights

__all__ = ["SPMDKNeighborsRegressor"]


class SPMDKNeighborsRegressor(SPMDNeighborsMixin, KNeighborsRegressor):
    """Regression by the k nearest training rows of every MPI rank.

    The distributed twin of :class:`sklearn.neighbors.KNeighborsRegressor`:
    same parameters and attributes; ``fit`` is collective and keeps each
    rank's rows where they are; ``predict``, ``score`` and the neighbour
    queries are collective.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours averaged.
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        Averaging weights: equal, ``1 / distance`` (neighbours at distance
        zero take all the weight), or a function of the distance array.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        The search run on each rank's block of training rows, resolved as
        scikit-learn resolves it; every search is exact.
    leaf_size : int, default=30
        Leaf size of the trees.
    p : float, default=2
        Power of the Minkowski metric (1 or 2).
    metric : {'minkowski', 'euclidean', 'manhattan', 'cosine'}, default='minkowski'
        Distance; other metrics raise a ``ValueError`` on every rank.
    metric_params : dict, default=None
        Only None (or an empty dict, or ``{'p': 1 or 2}`` with minkowski).
    n_jobs : int, default=None
        Accepted for compatibility; each rank's threads follow
        :func:`skspmd.set_num_threads`.

    Attributes
    ----------
    effective_metric_ : str
        The metric that runs.
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
    sklearn.neighbors.KNeighborsRegressor : The single-process estimator.
    SPMDNearestNeighbors : The neighbour searches themselves.

    Notes
    -----
    Distributed semantics: the fitted model is the training data, which
    stays distributed; ``fit`` agrees on the rows per rank and the target
    dtype. ``predict`` and ``score`` are **collective**, unlike skspmd's
    other estimators: every rank calls them with its own rows (possibly
    none). The training blocks travel around the ring of ranks with their
    targets; each rank keeps the running k nearest of its query rows with
    their targets and averages locally. ``score`` is the coefficient of
    determination R^2 over every rank's rows (one small allgather of
    per-output moments).

    Predictions equal scikit-learn's on all rows (see
    :class:`SPMDNearestNeighbors` for the search and for exact ties).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDKNeighborsRegressor
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> reg = SPMDKNeighborsRegressor(n_neighbors=2).fit(X, [0.0, 0.0, 1.0, 1.0])
    >>> reg.predict([[1.5]])
    array([0.5])
    """

    @spmd_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Keep this rank's rows and targets (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Their targets.

        Returns
        -------
        self : SPMDKNeighborsRegressor
            The fitted regressor.
        """
        return self._fit_rows(X, y)

    def _fit_targets(self, y, comm):
        with agree_on_errors(comm) as step:
            y = np.asarray(y)
            if y.dtype.kind not in "biuf":
                y = y.astype(np.float64)
            step.payload = y.dtype.str if y.shape[0] else None
        kinds = [np.dtype(d) for d in step.gathered if d is not None]
        return y.astype(np.result_type(*kinds) if kinds else y.dtype, copy=False)

    def predict(self, X):
        """Targets of this rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None
            This rank's rows (possibly none); None: its training rows, each
            not counted as its own neighbour.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            The (weighted) mean of the neighbours' targets.
        """
        dist, _, targets = self._kneighbors(X, None, with_targets=True)
        with agree_on_errors(get_comm()):
            weights = neighbor_weights(dist, self.weights)
            if weights is None:
                y_pred = np.mean(targets, axis=1)
            else:
                y_pred = np.empty((dist.shape[0], targets.shape[2]), dtype=np.float64)
                denom = np.sum(weights, axis=1)
                for j in range(targets.shape[2]):
                    y_pred[:, j] = np.sum(targets[:, :, j] * weights, axis=1) / denom
        return y_pred.ravel() if self._y.ndim == 1 else y_pred

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 over every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            This rank's test rows (possibly none); None: its training rows,
            each not counted as its own neighbour.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Their true targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        score : float
            :func:`sklearn.metrics.r2_score` (outputs averaged uniformly) of
            all ranks' rows; the same value on every rank.
        """
        predicted = self.predict(X)
        comm = get_comm()
        with agree_on_errors(comm):
            Y = as_columns(np.asarray(y, dtype=np.float64))
            P = as_columns(np.asarray(predicted, dtype=np.float64))
            if Y.shape != P.shape:
                raise ValueError(f"y has shape {np.shape(y)}, the predictions {P.shape}")
            weights = None if sample_weight is None else np.asarray(sample_weight, np.float64)
            moments = Moments.from_rows(np.hstack((Y, Y - P)), weights)
        return r2_from_moments(moments.allreduce(comm), Y.shape[1])
