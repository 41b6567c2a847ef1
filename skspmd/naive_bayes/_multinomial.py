"""SPMDMultinomialNB: sklearn's MultinomialNB with collective ``fit`` and ``partial_fit``.

The counts of multinomial naive Bayes are a sufficient statistic: per class,
the (weighted) number of rows and the per-feature sums. Each rank counts its
own rows with a sparse one-hot matrix of its labels times its rows, one
``Allreduce`` adds the counts of every rank, and scikit-learn's own
``_update_feature_log_prob`` / ``_update_class_log_prior`` finish the model
identically on every rank.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.naive_bayes import MultinomialNB
from sklearn.utils.multiclass import unique_labels
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import check_non_negative, validate_data

from .._base import GlobalAccuracyMixin, LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allreduce, get_comm
from .._kernels import group_sums
from .._group_stats import GroupSums
from .._validation import validate_spmd_data

__all__ = ["SPMDMultinomialNB"]


def _batch_labels(y, comm):
    """The sorted union of every rank's labels in this batch, and this rank's (collective).

    Each rank validates its labels as scikit-learn does (``unique_labels``:
    classification targets only) and sends its distinct labels; the union
    is computed identically on every rank, so a mix of label types across
    ranks fails the same way everywhere. Numeric labels are validated on
    their distinct values (the same verdict as on every row, for a fraction
    of the cost); the distinct values and each row's index among them
    (:func:`_distinct`) are returned for the counting.
    """
    distinct = None
    with agree_on_errors(comm) as step:
        if y.shape[0] and y.dtype.kind in "iuf":
            distinct = _distinct(y)
            step.payload = unique_labels(distinct[0])
        elif y.shape[0]:
            step.payload = unique_labels(y)
            distinct = _distinct(y)
    parts = [labels for labels in step.gathered if labels is not None]
    if not parts:
        return np.empty(0), distinct
    return unique_labels(*parts), distinct


def _distinct(y):
    """``np.unique(y, return_inverse=True)``; O(n) by a lookup table for small-range integers."""
    y = np.ravel(y)
    if y.dtype.kind in "iu" and y.size:
        low, high = int(y.min()), int(y.max())
        limit = max(1 << 16, y.size)
        base = 0 if low >= 0 and high < limit else low  # 0: index the table by y itself
        span = high - base + 1
        if span <= limit:
            shifted = (y - base if base else y).astype(np.intp, copy=False)
            present = np.bincount(shifted, minlength=span) > 0
            table = np.cumsum(present) - 1
            return (np.flatnonzero(present) + base).astype(y.dtype), table[shifted]
    local, inverse = np.unique(y, return_inverse=True)
    return local, inverse.ravel()


def _class_indices(y, classes, batch_is_binary, distinct=None):
    """Row -> class index as scikit-learn's binarisation counts it (-1: not counted).

    One class: every row counts for it. Two classes in a batch with at most
    two distinct labels: rows of the second class count for it and every
    other row for the first (``label_binarize``'s binary column). Otherwise
    labels outside ``classes`` are not counted.
    """
    n_classes = len(classes)
    if n_classes == 1:
        return np.zeros(y.shape[0], dtype=np.intp)
    position = {label: i for i, label in enumerate(classes.tolist())}
    local, inverse = _distinct(y) if distinct is None else distinct
    idx = np.array([position.get(label, -1) for label in local.tolist()], dtype=np.intp)
    if np.array_equal(idx, np.arange(len(idx))):  # this rank has the first classes: as is
        return inverse.astype(np.intp, copy=False)
    idx = idx[inverse]
    if n_classes == 2 and batch_is_binary:
        idx = (idx == 1).astype(np.intp)
    return idx


def _local_counts(X, idx, weights, n_classes, estimator_name):
    """``[class_count, n_nonzero_weights, feature_count.ravel()]`` of this rank's rows.

    ``weights`` None: every row has weight 1 (no array of ones is made
    unless some labels are not counted).

    Also sklearn's input checks on ``X``, fused into the same pass: dense
    rows are read once, each added to its class's sums while its minimum is
    taken (:func:`skspmd._kernels.group_sums`: compiled, or a sparse one-hot
    product per cached block in NumPy). A
    NaN or inf anywhere reaches the class sums (every row is multiplied in,
    even with weight 0), and only then is the exact check run for
    scikit-learn's message; a negative minimum raises scikit-learn's
    non-negativity error.
    """
    n, n_features = X.shape
    all_counted = n == 0 or idx.min() >= 0
    rows = idx if all_counted else np.where(idx >= 0, idx, 0)
    data = None  # every row counted with weight 1
    if weights is not None or not all_counted:
        data = np.ones(n) if weights is None else weights
        data = data if all_counted else np.where(idx >= 0, data, 0.0)
    buf = np.zeros(n_classes + 1 + n_classes * n_features)
    buf[:n_classes] = np.bincount(rows, weights=data, minlength=n_classes)
    buf[n_classes] = n if weights is None else np.count_nonzero(weights)
    counts = buf[n_classes + 1 :].reshape(n_classes, n_features)
    lowest = np.inf
    if sp.issparse(X):
        if X.nnz:
            lowest = X.data.min()
        data = np.ones(n) if data is None else data
        counts += GroupSums(n_classes, n, np.float64).sums(X, rows, data)
    else:
        lowest = group_sums(X, rows, data, counts)
    if not (np.isfinite(counts).all() and lowest == lowest):
        assert_all_finite(X, input_name="X", estimator_name=estimator_name)
    if lowest < 0:
        check_non_negative(X, "MultinomialNB (input X)")
    return buf


class SPMDMultinomialNB(LocalRowsMixin, GlobalAccuracyMixin, MultinomialNB):
    """Naive Bayes classifier for multinomial models, fitted over MPI ranks.

    The distributed twin of :class:`sklearn.naive_bayes.MultinomialNB`: same
    parameters, attributes and prediction methods; ``fit`` and
    ``partial_fit`` are collective and count the rows of every rank.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Additive (Laplace/Lidstone) smoothing parameter (0 for no smoothing,
        with ``force_alpha=True``).
    force_alpha : bool, default=True
        If False and alpha is below 1e-10, alpha is set to 1e-10.
    fit_prior : bool, default=True
        Whether to learn class prior probabilities; if False, uniform priors.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes; not adjusted to the data if given.

    Attributes
    ----------
    class_count_ : ndarray of shape (n_classes,)
        Weighted number of rows of each class over all ranks.
    class_log_prior_ : ndarray of shape (n_classes,)
        Smoothed empirical log probability of each class.
    classes_ : ndarray of shape (n_classes,)
        Class labels: the union of the labels of every rank (``fit``) or the
        ``classes`` given to the first ``partial_fit``.
    feature_count_ : ndarray of shape (n_classes, n_features)
        Weighted per-class sums of each feature over all ranks.
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Empirical log probability of features given a class.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.naive_bayes.MultinomialNB : The single-process estimator.

    Notes
    -----
    Distributed semantics: a rank may see only some of the classes, or no
    rows at all. ``fit`` makes three small collectives: the input agreement
    of :func:`skspmd._validation.validate_spmd_data`, an ``allgather`` of each
    rank's distinct labels (their union is ``classes_``) and one
    ``Allreduce`` of the ``n_classes * (n_features + 1) + 1`` counts, which
    each rank computes as a sparse one-hot matrix of its labels times its
    rows (dense or CSR). Dense rows are read once, in blocks of about
    4 MiB: scikit-learn's finiteness and non-negativity checks run on each
    block while it is in cache, and a failed batch leaves the estimator
    unchanged. ``partial_fit`` does the same for each collective
    batch; its label exchange only decides how labels outside ``classes``
    are counted, exactly as scikit-learn's binarisation does for the whole
    batch. ``predict``, ``predict_proba`` and ``predict_log_proba`` are
    local (a rank with zero rows gets empty results); ``score`` is the
    global accuracy, the same on every rank. Negative sample weights are
    rejected on every rank (scikit-learn accepts them and produces NaN
    probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.naive_bayes import SPMDMultinomialNB
    >>> rng = np.random.RandomState(1)
    >>> X = rng.randint(5, size=(6, 100))
    >>> y = np.array([1, 2, 3, 4, 5, 6])
    >>> clf = SPMDMultinomialNB().fit(X, y)
    >>> print(clf.predict(X[2:3]))
    [3]
    """

    @spmd_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier on every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows (non-negative counts); may have zero rows.
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
        classes, distinct = _batch_labels(y, comm)
        counts = self._merged_counts(X, y, data, classes, len(classes) <= 2, comm, distinct)
        self.classes_ = classes
        self._init_counters(len(classes), X.shape[1])
        self._add_counts(*counts)
        return self

    @spmd_fit
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the classifier with one collective batch of rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows of the batch (non-negative counts); may have
            zero rows.
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
        first_call = not hasattr(self, "classes_")
        X, y, data = self._validate_batch(X, y, sample_weight, first_call, comm)
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            classes = unique_labels(classes)
            if not first_call and not np.array_equal(self.classes_, classes):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call "
                    f"to partial_fit, was: {self.classes_!r}"
                )
        batch, distinct = _batch_labels(y, comm)
        known = classes if first_call else self.classes_
        counts = self._merged_counts(X, y, data, known, len(batch) <= 2, comm, distinct)
        if first_call:
            self.classes_ = classes
            self._init_counters(len(classes), X.shape[1])
        self._add_counts(*counts)
        return self

    def _validate_batch(self, X, y, sample_weight, reset, comm):
        # finiteness and non-negativity of X are checked in the counting pass
        return validate_spmd_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse="csr",
            ensure_all_finite=False,
            sample_weight=sample_weight,
            comm=comm,
        )

    def _merged_counts(self, X, y, data, classes, batch_is_binary, comm, distinct=None):
        """Every rank's class and feature counts of this batch, added (collective).

        Checks ``X`` on the way (every rank raises if one does) and leaves
        the estimator untouched, so a batch that fails changes nothing.
        """
        n_classes = len(classes)
        with agree_on_errors(comm):
            idx = _class_indices(y, classes, batch_is_binary, distinct)
            local = _local_counts(X, idx, data.sample_weight, n_classes, type(self).__name__)
        total = allreduce(local, comm=comm)
        if total[n_classes] == 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return total[:n_classes], total[n_classes + 1 :].reshape(n_classes, X.shape[1])

    def _add_counts(self, class_count, feature_count):
        """Add a batch's merged counts and update the model (identical on every rank)."""
        self.class_count_ += class_count
        self.feature_count_ += feature_count
        alpha = self._check_alpha()
        self._update_feature_log_prob(alpha)
        self._update_class_log_prior(class_prior=self.class_prior)

    def _check_X(self, X):
        # local prediction accepts a rank with zero rows
        return validate_data(
            self, X, accept_sparse="csr", reset=False, ensure_min_samples=0
        )
