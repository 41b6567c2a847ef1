"""SPMDEmpiricalCovariance: sklearn's EmpiricalCovariance with a collective ``fit``."""

import warnings

import numpy as np
from sklearn.covariance import EmpiricalCovariance, log_likelihood

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, get_comm
from .._stats import CrossProducts
from .._validation import validate_spmd_data

__all__ = ["SPMDEmpiricalCovariance"]


def correlation_from_covariance(covariance):
    """Correlation matrix; a zero-variance feature gets correlation 0 off the diagonal."""
    std = np.sqrt(np.diag(covariance))
    safe = np.where(std > 0, std, 1.0)
    corr = covariance / np.outer(safe, safe)
    np.fill_diagonal(corr, 1.0)
    corr[std == 0, :] = 0.0
    corr[:, std == 0] = 0.0
    corr[np.diag_indices_from(corr)] = 1.0
    return corr


class SPMDEmpiricalCovariance(LocalRowsMixin, EmpiricalCovariance):
    """Maximum likelihood covariance estimator over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.covariance.EmpiricalCovariance`.

    Parameters
    ----------
    store_precision : bool, default=True
        Whether the estimated precision (pseudo-inverse) is stored.
    assume_centered : bool, default=False
        If True, the data are not centered before computation (the mean is
        assumed to be zero).

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Global mean (zeros when ``assume_centered``).
    covariance_ : ndarray of shape (n_features, n_features)
        Maximum likelihood covariance (divided by ``n``, like ``np.cov(bias=True)``).
    precision_ : ndarray of shape (n_features, n_features) or None
        Pseudo-inverse of ``covariance_``, when ``store_precision``.
    correlation_ : ndarray of shape (n_features, n_features)
        ``covariance_`` scaled to unit diagonal; rows and columns of
        zero-variance features are 0 (diagonal 1). Not in sklearn.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.covariance.EmpiricalCovariance : The single-process estimator.

    Notes
    -----
    Distributed semantics: each rank accumulates ``(n, mean, C)``, its centred
    cross-product matrix, over blocks of rows (one BLAS-3 product per block,
    pairwise-merged); an ``Allgather`` of the ``(n, mean)`` pairs gives the
    global mean, each rank shifts ``C`` to it, and one reduction of the
    ``n_features x n_features`` matrix completes the merge. ``mahalanobis`` is
    local; ``score`` is the global Gaussian log-likelihood of the test rows of
    every rank. ``partial_fit`` (an skspmd extension) merges each collective
    batch into the running cross-products.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDEmpiricalCovariance
    >>> X = np.array([[0.0, 0.0], [2.0, 2.0]])
    >>> SPMDEmpiricalCovariance().fit(X).covariance_
    array([[1., 1.],
           [1., 1.]])
    """

    @spmd_fit
    def fit(self, X, y=None):
        """Fit the covariance over every rank's rows (collective).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        return self._update(X, reset=True)

    @spmd_fit
    def partial_fit(self, X, y=None):
        """Add one collective batch of rows to the covariance (skspmd extension).

        After any number of calls the model equals ``fit`` on every row
        seen: the batch's centred cross-products are merged into the running
        ones (pairwise update), so a stream of batches
        (:func:`skspmd.io.iter_rows`) needs memory for one batch only.
        After ``fit``, ``partial_fit`` continues from the rows ``fit`` saw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This rank's rows of the batch; may have zero rows.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank.
        """
        return self._update(X, reset=not hasattr(self, "_cross_products"))

    def _update(self, X, reset):
        comm = get_comm()
        X, data = validate_spmd_data(self, X, reset=reset, comm=comm)
        cp = CrossProducts.merged(X, centered=not self.assume_centered, comm=comm)
        if not reset:
            cp = self._cross_products.merge(cp)
        self._cross_products = cp
        if cp.n == 1:
            warnings.warn(
                "Only one sample available. You may want to reshape your data array"
            )
        if self.assume_centered:
            self.location_ = np.zeros(X.shape[1])
        else:
            self.location_ = cp.mean.astype(X.dtype, copy=False)
        covariance = cp.C / cp.n
        self._set_covariance(covariance)
        self.correlation_ = correlation_from_covariance(self.covariance_)
        return self

    def score(self, X_test, y=None):
        """Global log-likelihood of the test rows of every rank (collective).

        Parameters
        ----------
        X_test : array-like of shape (n_samples, n_features)
            This rank's test rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        res : float
            The same value on every rank: sklearn's ``score`` on the
            concatenation of the ranks' rows.
        """
        comm = get_comm()
        X_test, _ = validate_spmd_data(self, X_test, reset=False, comm=comm)
        with agree_on_errors(comm):
            X_test = X_test - self.location_
        cp = CrossProducts.merged(X_test, centered=False, comm=comm)
        return log_likelihood(cp.C / cp.n, self.get_precision())
