"""SPMDKNeighborsClassifier: k-nearest-neighbour votes over the rows of every rank."""

import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.neighbors import KNeighborsClassifier

from .._base import GlobalAccuracyMixin, spmd_fit
from .._comm import agree_on_errors, get_comm
from .._validation import global_classes
from ._base import SPMDNeighborsMixin, as_columns, neighbor_weights

__all__ = ["SPMDKNeighborsClassifier"]


class SPMDKNeighborsClassifier(SPMDNeighborsMixin, GlobalAccuracyMixin, KNeighborsClassifier):
    """Classifier voting among the k nearest training rows of every MPI rank.

    The distributed twin of :class:`sklearn.neighbors.KNeighborsClassifier`:
    same parameters and attributes; ``fit`` is collective and keeps each
    rank's rows where they are; ``predict``, ``predict_proba``, ``score`` and
    the neighbour queries are collective.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        Vote weights: equal, ``1 / distance`` (neighbours at distance zero
        take all the weight), or a function of the distance array.
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
    classes_ : ndarray of shape (n_classes,) or list of such arrays
        The union of every rank's labels (per output), sorted; a rank may
        lack some classes.
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
    outputs_2d_ : bool
        Whether ``y`` was 2-D with more than one column.

    See Also
    --------
    sklearn.neighbors.KNeighborsClassifier : The single-process estimator.
    SPMDNearestNeighbors : The neighbour searches themselves.

    Notes
    -----
    Distributed semantics: the fitted model is the training data, which
    stays distributed; ``fit`` agrees on the union of the classes (a small
    allgather) and on the rows per rank. ``predict``, ``predict_proba`` and
    ``score`` are **collective**, unlike skspmd's other estimators: every
    rank calls them with its own rows (possibly none). The training blocks
    travel around the ring of ranks with their encoded labels; each rank
    keeps the running k nearest of its query rows with their labels and
    votes locally. ``score`` is the accuracy over every rank's rows.

    Predictions and probabilities equal scikit-learn's on all rows (see
    :class:`SPMDNearestNeighbors` for the search and for exact ties).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDKNeighborsClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = SPMDKNeighborsClassifier(n_neighbors=3).fit(X, [0, 0, 1, 1])
    >>> clf.predict([[1.1]])
    array([0])
    >>> clf.predict_proba([[0.9]])
    array([[0.66666667, 0.33333333]])
    """

    @spmd_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Keep this rank's rows and labels; agree on the classes (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's training rows; may have zero rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Their labels.

        Returns
        -------
        self : SPMDKNeighborsClassifier
            The fitted classifier.
        """
        return self._fit_rows(X, y)

    def _fit_targets(self, y, comm):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
        self.outputs_2d_ = bool(y.ndim == 2 and y.shape[1] > 1)
        y = as_columns(y)
        classes = [global_classes(y[:, k], comm) for k in range(y.shape[1])]
        codes = np.empty(y.shape, dtype=np.intp)
        for k, classes_k in enumerate(classes):
            codes[:, k] = np.searchsorted(classes_k, y[:, k])
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        return codes if self.outputs_2d_ else codes.ravel()

    def _votes(self, X):
        """Per output, the weighted votes of the k nearest (collective)."""
        dist, _, codes = self._kneighbors(X, None, with_targets=True)
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        with agree_on_errors(get_comm()):
            weights = neighbor_weights(dist, self.weights)
            if weights is None:
                weights = np.ones(dist.shape)
            rows = np.arange(dist.shape[0])
            votes = []
            for k, classes_k in enumerate(classes):
                counts = np.zeros((dist.shape[0], len(classes_k)))
                for i in range(dist.shape[1]):
                    counts[rows, codes[:, i, k]] += weights[:, i]
                votes.append(counts)
        return votes

    def predict_proba(self, X):
        """Class probabilities of this rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None
            This rank's rows (possibly none); None: its training rows, each
            not counted as its own neighbour.

        Returns
        -------
        p : ndarray of shape (n_queries, n_classes) or list of such arrays
            Probabilities, classes in the order of ``classes_``.
        """
        probabilities = []
        for counts in self._votes(X):
            with np.errstate(invalid="ignore"):
                probabilities.append(counts / counts.sum(axis=1, keepdims=True))
        return probabilities if self.outputs_2d_ else probabilities[0]

    def predict(self, X):
        """Class labels of this rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None
            This rank's rows (possibly none); None: its training rows, each
            not counted as its own neighbour.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            The class with the largest vote (the first in ``classes_`` on a tie).
        """
        votes = self._votes(X)
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        y_pred = np.empty((votes[0].shape[0], len(classes)), dtype=classes[0].dtype)
        for k, (counts, classes_k) in enumerate(zip(votes, classes)):
            y_pred[:, k] = classes_k.take(np.argmax(counts, axis=1))
        return y_pred if self.outputs_2d_ else y_pred.ravel()
