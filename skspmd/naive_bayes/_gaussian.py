"""SPMDGaussianNB: sklearn's GaussianNB with collective ``fit`` and ``partial_fit``.

Gaussian naive Bayes is fitted from per-class sufficient statistics: the
(weighted) count, mean and centred sum of squares of every feature.
Each rank computes them for its rows (``skspmd._group_stats.GroupMoments``), one
``Allgather`` merges them with the pairwise (Chan) update, and every rank
finishes the model identically.
"""

import numpy as np
from sklearn.naive_bayes import GaussianNB
from sklearn.utils.multiclass import unique_labels

from .._base import GlobalAccuracyMixin, LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, get_comm
from .._group_stats import GroupMoments
from .._stats import Moments
from .._validation import global_classes, validate_spmd_data

__all__ = ["SPMDGaussianNB"]


def _class_index(y, classes):
    """Row -> position in ``classes``; labels outside ``classes`` raise scikit-learn's error."""
    present = np.unique(y)
    known = np.isin(present, classes)
    if not known.all():
        raise ValueError(
            f"The target label(s) {present[~known]} in y do not exist in the initial "
            f"classes {classes}"
        )
    return np.searchsorted(classes, y)


class SPMDGaussianNB(LocalRowsMixin, GlobalAccuracyMixin, GaussianNB):
    """Gaussian naive Bayes, fitted over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.naive_bayes.GaussianNB`: same
    parameters, attributes and prediction methods; ``fit`` and
    ``partial_fit`` are collective and learn from the rows of every rank;
    ``score`` is global.

    Parameters
    ----------
    priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes; not adjusted to the data if given.
    var_smoothing : float, default=1e-9
        Portion of the largest variance of the features (over the rows of
        every rank in the batch) added to the variances for stability.

    Attributes
    ----------
    class_count_ : ndarray of shape (n_classes,)
        Weighted number of rows of each class over all ranks.
    class_prior_ : ndarray of shape (n_classes,)
        Probability of each class.
    classes_ : ndarray of shape (n_classes,)
        Class labels: the union of every rank's labels (``fit``) or the
        ``classes`` of the first ``partial_fit``.
    epsilon_ : float
        Absolute additive value to the variances.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    var_ : ndarray of shape (n_classes, n_features)
        Variance of each feature per class.
    theta_ : ndarray of shape (n_classes, n_features)
        Mean of each feature per class.

    See Also
    --------
    sklearn.naive_bayes.GaussianNB : The single-process estimator.

    Notes
    -----
    Distributed semantics: each rank reads its rows once in cache-sized
    blocks for the per-class (weighted) counts, means and centred sums of
    squares, each block centred on its own class means, and once for the
    unweighted column variances of the batch (for ``epsilon_``). One
    ``Allgather`` of ``n_classes * (2 n_features + 1)`` numbers per rank and
    one of the column moments merge them with the pairwise (Chan) update in
    rank order, which keeps the variances accurate when the means are large;
    every rank then updates the model identically. ``partial_fit`` does the
    same for each collective batch and equals scikit-learn's ``partial_fit``
    fed the same global batches (``epsilon_`` comes from the last batch, as
    in scikit-learn). A rank may see only some classes or no rows.
    ``predict``, ``predict_proba`` and ``predict_log_proba`` are local;
    ``score`` is the global accuracy. Negative sample weights are rejected
    on every rank (scikit-learn accepts them).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.naive_bayes import SPMDGaussianNB
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> Y = np.array([1, 1, 1, 2, 2, 2])
    >>> clf = SPMDGaussianNB().fit(X, Y)
    >>> print(clf.predict([[-0.8, -1]]))
    [1]
    """

    @spmd_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier on every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : array-like of shape (n_samples,)
            This rank's labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        self : object
            Fitted classifier, identical on every rank.
        """
        comm = get_comm()
        X, y, data = self._validate_batch(X, y, sample_weight, True, comm)
        classes = global_classes(y, comm)
        self._add_batch(X, y, data, classes, True, comm)
        return self

    @spmd_fit
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the classifier with one collective batch of rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows of the batch; may have zero rows.
        y : array-like of shape (n_samples,)
            This rank's labels of the batch.
        classes : array-like of shape (n_classes,), default=None
            Every class that can appear; required on the first call (the
            same on every rank), optional afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        self : object
            Updated classifier, identical on every rank.
        """
        comm = get_comm()
        first_call = getattr(self, "classes_", None) is None
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            classes = unique_labels(classes)
            if not first_call and not np.array_equal(self.classes_, classes):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call "
                    f"to partial_fit, was: {self.classes_!r}"
                )
        X, y, data = self._validate_batch(X, y, sample_weight, first_call, comm)
        self._add_batch(X, y, data, classes if first_call else self.classes_, first_call, comm)
        return self

    def _validate_batch(self, X, y, sample_weight, reset, comm):
        return validate_spmd_data(
            self, X, y, reset=reset, sample_weight=sample_weight, comm=comm
        )

    def _check_priors(self, n_classes, dtype):
        priors = np.asarray(self.priors, dtype=dtype)
        if priors.shape[0] != n_classes:
            raise ValueError("Number of priors must match number of classes.")
        if not np.isclose(priors.sum(), 1.0):
            raise ValueError("The sum of the priors should be 1.")
        if np.any(priors < 0):
            raise ValueError("Priors must be non-negative.")
        return priors

    def _add_batch(self, X, y, data, classes, first_call, comm):
        """Merge this batch's per-class moments over the ranks and update the model.

        Nothing is changed when any rank fails, so a bad batch leaves the
        estimator as it was.
        """
        n_classes, n_features = len(classes), X.shape[1]
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        with agree_on_errors(comm):
            index = _class_index(y, classes)
            columns = Moments.from_rows(X)
            groups = GroupMoments.from_rows(X, index, n_classes, data.sample_weight)
        columns, groups = columns.allreduce(comm), groups.allreduce(comm)
        if data.sample_weight is not None and not groups.n.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        priors = None if self.priors is None or not first_call else self._check_priors(
            n_classes, dtype
        )
        epsilon = self.var_smoothing * np.max(columns.variance())
        if first_call:
            count = np.zeros(n_classes)
            theta, var = np.zeros((n_classes, n_features)), np.zeros((n_classes, n_features))
        else:
            count = self.class_count_.astype(np.float64)
            theta = self.theta_.astype(np.float64)
            var = self.var_ - epsilon  # scikit-learn takes off the new batch's epsilon
        merged = GroupMoments(count, theta, var * count[:, None]).merge(groups)
        # scikit-learn updates a class only when its (weighted) count in the batch is not ~0
        updated = (groups.n > 0) & ~np.isclose(groups.n, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            new_var = merged.m2 / merged.n[:, None]
        self.classes_ = classes
        self.epsilon_ = epsilon
        self.theta_ = np.where(updated[:, None], merged.mean, theta).astype(dtype)
        self.var_ = (np.where(updated[:, None], new_var, var) + epsilon).astype(dtype)
        self.class_count_ = (count + groups.n).astype(dtype)
        if priors is not None:
            self.class_prior_ = priors
        elif self.priors is None:
            self.class_prior_ = self.class_count_ / self.class_count_.sum()
