"""SPMDIncrementalPCA: sklearn's IncrementalPCA with collective ``fit`` and ``partial_fit``."""

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import IncrementalPCA
from sklearn.utils import gen_batches

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, allgather_array, get_comm
from .._stats import Moments
from .._svd import exact_svd, flip_signs
from .._validation import validate_spmd_data

__all__ = ["SPMDIncrementalPCA"]


def _overlap(a, b, lo, hi):
    return max(0, min(b, hi) - max(a, lo))


class SPMDIncrementalPCA(LocalRowsMixin, IncrementalPCA):
    """Incremental principal components analysis over MPI ranks.

    The distributed twin of :class:`sklearn.decomposition.IncrementalPCA`:
    same parameters, attributes, ``transform`` and ``inverse_transform``;
    ``fit`` and ``partial_fit`` are collective. After each ``partial_fit``
    the model equals sklearn's fed the same global batches (the union of
    the ranks' batch rows, in rank order) in the same order.

    Parameters
    ----------
    n_components : int, default=None
        Number of components to keep; None keeps
        ``min(n_features, rows of the first global batch)``.
    whiten : bool, default=False
        Scale the projected data to unit variance in ``transform``.
    copy : bool, default=True
        Kept for compatibility: ``fit`` and ``partial_fit`` never modify
        ``X`` (each batch is centred in a scratch copy of that batch).
    batch_size : int, default=None
        Rows per global batch in ``fit`` (``5 * n_features`` when None).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Principal axes, sorted by decreasing explained variance.
    explained_variance_ : ndarray of shape (n_components,)
        Variance explained by each component.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Fraction of the total variance explained by each component.
    singular_values_ : ndarray of shape (n_components,)
        Singular values of the centred data seen so far.
    mean_ : ndarray of shape (n_features,)
        Global per-feature mean of the rows seen.
    var_ : ndarray of shape (n_features,)
        Global per-feature variance of the rows seen.
    noise_variance_ : float
        Estimated noise covariance (probabilistic PCA model).
    n_components_ : int
        Number of components kept.
    n_samples_seen_ : float
        Rows seen over all ranks.
    batch_size_ : int
        Global batch size used by ``fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.IncrementalPCA : The single-process estimator.
    SPMDPCA : Principal components of all rows at once.

    Notes
    -----
    Distributed semantics: a batch is the union of the ranks' rows. Its
    per-feature moments are merged with one ``Allgather`` of
    ``4 * n_features + 2`` doubles per rank and combined with the running
    mean and variance (the pairwise Chan update). The SVD of sklearn's
    stacked matrix (previous singular values times components, the centred
    batch, one mean-correction row) is computed by TSQR: each rank reduces
    its centred batch rows to a triangle (rank 0 adds the stacked rows), one
    ``Allgather`` of the ``n_features x n_features`` triangles and a QR of
    their stack give the R factor, whose SVD on rank 0 is broadcast. So a
    batch costs communication independent of its number of rows, and no
    rank holds more than its own batch rows.

    ``fit`` cuts the global rows (in rank order) into batches of
    ``batch_size_`` rows exactly as sklearn's ``fit`` cuts ``X``, so a batch
    may span several ranks, and each rank passes its part of every batch;
    ``X`` is not copied (a memory-mapped file works). ``partial_fit`` takes
    this rank's rows of one global batch, e.g. from
    :func:`skspmd.io.iter_rows`. The SVD is computed in float64 whatever the
    input dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDIncrementalPCA
    >>> X = np.random.RandomState(0).rand(40, 5)
    >>> ipca = SPMDIncrementalPCA(n_components=2, batch_size=10).fit(X)
    >>> ipca.transform(X).shape
    (40, 2)
    >>> float(ipca.n_samples_seen_)
    40.0
    """

    @spmd_fit
    def fit(self, X, y=None):
        """Fit on every rank's rows in global batches of ``batch_size_`` rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        comm = get_comm()
        self.components_ = None
        self.n_samples_seen_ = 0
        self.mean_ = 0.0
        self.var_ = 0.0
        self.singular_values_ = None
        self.explained_variance_ = None
        self.explained_variance_ratio_ = None
        self.noise_variance_ = None
        X, data = validate_spmd_data(
            self,
            X,
            accept_sparse=["csr", "csc", "lil"],
            dtype=[np.float64, np.float32],
            comm=comm,
        )
        self.batch_size_ = 5 * X.shape[1] if self.batch_size is None else self.batch_size
        lo = data.offset
        bounds = np.concatenate(([0], np.cumsum(data.counts)))
        for batch in gen_batches(
            data.n_samples, self.batch_size_, min_batch_size=self.n_components or 0
        ):
            counts = np.array(
                [_overlap(batch.start, batch.stop, a, b) for a, b in zip(bounds, bounds[1:])]
            )
            start = max(batch.start, lo) - lo
            X_batch = X[start : start + counts[data.rank]]
            if sp.issparse(X_batch):
                X_batch = X_batch.toarray()
            self._fit_batch(X_batch, counts, comm)
        return self

    @spmd_fit
    def partial_fit(self, X, y=None, check_input=True):
        """Update the model with one global batch: this rank's rows of it (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows of the batch; may have zero rows (the batch,
            over all ranks, may not).
        y : Ignored
            Not used, present for API consistency.
        check_input : bool, default=True
            Validate ``X`` (locally and across ranks).

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        comm = get_comm()
        if check_input:
            with agree_on_errors(comm):
                if sp.issparse(X):
                    raise TypeError(
                        "IncrementalPCA.partial_fit does not support sparse input. Either "
                        "convert data to dense or use IncrementalPCA.fit to do so in batches."
                    )
            X, data = validate_spmd_data(
                self,
                X,
                reset=not hasattr(self, "components_"),
                dtype=[np.float64, np.float32],
                comm=comm,
            )
            counts = data.counts
        else:
            counts = allgather_array(np.array([X.shape[0]], dtype=np.int64), comm)[:, 0]
        return self._fit_batch(X, counts, comm)

    def _resolve_n_components(self, n_samples, n_features, first_pass):
        """sklearn's rules for ``n_components_`` (the global batch size counts)."""
        if self.n_components is None:
            if self.components_ is None:
                return min(n_samples, n_features)
            return self.components_.shape[0]
        if not self.n_components <= n_features:
            raise ValueError(
                f"n_components={self.n_components!r} invalid for n_features={n_features}, "
                "need more rows than columns for IncrementalPCA processing"
            )
        if self.n_components > n_samples and first_pass:
            raise ValueError(
                f"n_components={self.n_components} must be less or equal to the batch "
                f"number of samples {n_samples} for the first partial_fit call."
            )
        return self.n_components

    def _fit_batch(self, X, counts, comm):
        """One step of sklearn's ``partial_fit``; ``counts`` are the batch's rows per rank."""
        n_samples, n_features = int(counts.sum()), X.shape[1]
        first_pass = not hasattr(self, "components_")
        if first_pass:
            self.components_ = None
        self.n_components_ = self._resolve_n_components(n_samples, n_features, first_pass)
        if self.components_ is not None and self.components_.shape[0] != self.n_components_:
            raise ValueError(
                f"Number of input features has changed from {self.components_.shape[0]} "
                f"to {self.n_components_} between calls to partial_fit! Try setting "
                "n_components to a fixed value."
            )
        if not hasattr(self, "n_samples_seen_"):
            self.n_samples_seen_ = 0
            self.mean_ = 0.0
            self.var_ = 0.0

        with agree_on_errors(comm):
            batch = Moments.from_rows(X)
        batch = batch.allreduce(comm)
        n_seen = float(self.n_samples_seen_)
        previous = Moments.empty(n_features)
        if n_seen > 0:
            previous.n, previous.mean, previous.m2 = n_seen, self.mean_, self.var_ * n_seen
        total = previous.merge(batch)

        with agree_on_errors(comm):
            rows, shift = self._stacked_rows(X, batch.mean, total, n_seen, comm)
        stack_counts = counts.copy()
        if n_seen > 0:
            stack_counts[0] += self.components_.shape[0] + 1
        S, Vt = exact_svd(rows, stack_counts, comm, shift=shift)
        _, Vt = flip_signs(None, Vt)

        n_total = total.n
        explained_variance = S**2 / (n_total - 1)
        explained_variance_ratio = S**2 / np.sum(total.m2)
        k = self.n_components_
        self.n_samples_seen_ = np.float64(n_total)
        self.components_ = Vt[:k]
        self.singular_values_ = S[:k]
        self.mean_ = total.mean
        self.var_ = total.m2 / n_total
        self.explained_variance_ = explained_variance[:k]
        self.explained_variance_ratio_ = explained_variance_ratio[:k]
        if k not in (n_samples, n_features):
            self.noise_variance_ = explained_variance[k:].mean()
        else:
            self.noise_variance_ = 0.0
        return self

    def _stacked_rows(self, X, batch_mean, total, n_seen, comm):
        """This rank's rows of sklearn's stacked matrix, and the shift to subtract from them.

        First batch: the batch rows minus the new global mean. Later batches:
        the batch rows minus the batch mean, and on rank 0 also the previous
        singular values times components and the mean-correction row.
        """
        if n_seen == 0:
            return X, total.mean
        if comm.Get_rank() != 0:
            return X, batch_mean
        n_samples = total.n - n_seen
        correction = np.sqrt((n_seen / total.n) * n_samples) * (self.mean_ - batch_mean)
        centred = np.asarray(X, dtype=np.float64) - batch_mean
        previous = self.singular_values_[:, np.newaxis] * self.components_
        return np.vstack((previous, centred, correction[np.newaxis])), None
