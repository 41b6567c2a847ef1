"""SPMDStandardScaler: sklearn's StandardScaler with a collective ``fit``."""

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

from .._base import LocalRowsMixin, spmd_fit
from .._comm import agree_on_errors, get_comm
from .._stats import Moments, constant_features
from .._validation import validate_spmd_data

__all__ = ["SPMDStandardScaler"]


class SPMDStandardScaler(LocalRowsMixin, StandardScaler):
    """Standardize features by removing the mean and scaling to unit variance, over MPI ranks.

    The distributed twin of :class:`sklearn.preprocessing.StandardScaler`: same
    parameters, attributes and ``transform``; ``fit`` and ``partial_fit`` are
    collective and learn from the rows of every rank.

    Parameters
    ----------
    copy : bool, default=True
        If False, try to avoid a copy and scale in place in ``transform``.
    with_mean : bool, default=True
        Center the data before scaling. Must be False for sparse input.
    with_std : bool, default=True
        Scale the data to unit variance.

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,) or None
        Per-feature scaling factor ``sqrt(var_)``; 1 for constant features.
    mean_ : ndarray of shape (n_features,) or None
        Global per-feature mean.
    var_ : ndarray of shape (n_features,) or None
        Global per-feature variance (``ddof=0``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    n_samples_seen_ : int or float
        Rows seen over all ranks (sum of weights when ``sample_weight`` is given).

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The single-process estimator.

    Notes
    -----
    Distributed semantics: each rank reduces its rows to ``(n, mean, M2)`` per
    feature in cache-sized blocks (Chan-Golub-LeVeque pairwise merge, so large
    means do not destroy the variance); one ``Allgather`` of
    ``4 * n_features + 1`` doubles and one int64 per rank merges them in rank order, giving a
    bitwise identical scaler on every rank. ``transform`` and
    ``inverse_transform`` are local. ``partial_fit`` merges each collective
    batch into the running moments. Unlike sklearn, NaN in ``X`` is rejected
    during ``fit`` (on every rank) rather than treated as missing.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDStandardScaler
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> SPMDStandardScaler().fit(X).mean_
    array([1., 2.])
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False  # NaN is rejected on every rank (see Notes)
        return tags

    def fit(self, X, y=None, sample_weight=None):
        """Compute the global mean and standard deviation (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        self : object
            Fitted scaler, identical on every rank.
        """
        self._reset()
        return self.partial_fit(X, y, sample_weight)

    @spmd_fit
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the mean and standard deviation with one collective batch.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows of the batch; may have zero rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        self : object
            Fitted scaler, identical on every rank.
        """
        comm = get_comm()
        first_call = not hasattr(self, "n_samples_seen_")

        def reject_sparse_centering(X, _):
            if sp.issparse(X) and self.with_mean:
                raise ValueError(
                    "Cannot center sparse matrices: pass `with_mean=False` "
                    "instead. See docstring for motivation and alternatives."
                )

        X, data = validate_spmd_data(
            self,
            X,
            reset=first_call,
            accept_sparse=("csr", "csc"),
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,  # checked in the moments' one pass
            local_check=reject_sparse_centering,
            sample_weight=sample_weight,
            comm=comm,
        )
        with agree_on_errors(comm):
            batch = Moments.from_rows(X, data.sample_weight, check_finite=True)
        batch = batch.allreduce(comm)
        if batch.n == 0 and data.n_samples > 0:
            raise ValueError(
                "Sample weights must contain at least one non-zero number "
                "(over all ranks)."
            )
        previous = Moments.empty(X.shape[1]) if first_call else self._seen_moments()
        total = previous.merge(batch)

        # sklearn's conventions: with neither centring nor scaling it counts rows
        # (an int64 unless weighted); otherwise the sum of weights, as a float
        if not (self.with_mean or self.with_std):
            seen = (0 if first_call else self.n_samples_seen_) + data.n_samples
            self.n_samples_seen_ = np.int64(seen) if sample_weight is None else np.float64(seen)
        else:
            self.n_samples_seen_ = np.float64(total.n)
        self._set_moments(total, sp.issparse(X))
        return self

    def _seen_moments(self):
        """The moments of the rows seen so far, as the fitted attributes hold them."""
        previous = Moments.empty(self.n_features_in_)
        n_prev = float(self.n_samples_seen_)
        previous.n = n_prev
        if self.mean_ is not None:
            previous.mean = self.mean_
        if self.var_ is not None:
            previous.m2 = self.var_ * n_prev
        return previous

    def _set_moments(self, total, sparse):
        """``mean_``, ``var_`` and ``scale_`` from the merged moments, as sklearn keeps them."""
        keep_mean = (self.with_mean or self.with_std) and not (sparse and not self.with_std)
        self.mean_ = total.mean if keep_mean else None
        if self.with_std:
            self.var_ = total.m2 / total.n if total.n > 0 else np.zeros_like(total.m2)
            scale = np.sqrt(self.var_)
            scale[constant_features(self.var_, total.mean, total.n)] = 1.0
            self.scale_ = scale
        else:
            self.var_ = None
            self.scale_ = None
