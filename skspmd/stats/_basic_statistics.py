"""SPMDBasicStatistics: low-order moments over the rows of every rank."""

import numpy as np
from sklearn.base import BaseEstimator
from .._compat import StrOptions

from .._base import spmd_fit
from .._comm import agree_on_errors, get_comm
from .._stats import Moments
from .._validation import validate_spmd_data

__all__ = ["SPMDBasicStatistics"]

RESULT_OPTIONS = (
    "min",
    "max",
    "sum",
    "mean",
    "sum_squares",
    "sum_squares_centered",
    "second_order_raw_moment",
    "variance",
    "standard_deviation",
    "variation",
)


class SPMDBasicStatistics(BaseEstimator):
    """Low-order moments of every feature over the rows of every MPI rank.

    The estimator form of daal4py's ``low_order_moments``.

    Parameters
    ----------
    result_options : str or list of str, default="all"
        Which statistics to compute: ``"all"`` or any of ``"min"``, ``"max"``,
        ``"sum"``, ``"mean"``, ``"sum_squares"``, ``"sum_squares_centered"``,
        ``"second_order_raw_moment"``, ``"variance"``,
        ``"standard_deviation"``, ``"variation"``.

    Attributes
    ----------
    min_, max_ : ndarray of shape (n_features,)
        Minimum and maximum.
    sum_ : ndarray of shape (n_features,)
        Sum.
    mean_ : ndarray of shape (n_features,)
        Mean.
    sum_squares_ : ndarray of shape (n_features,)
        Sum of squares, ``sum(x**2)``.
    sum_squares_centered_ : ndarray of shape (n_features,)
        Centred sum of squares, ``sum((x - mean)**2)``.
    second_order_raw_moment_ : ndarray of shape (n_features,)
        ``sum(x**2) / n``.
    variance_ : ndarray of shape (n_features,)
        Sample variance, ``sum_squares_centered / (n - 1)`` (NaN if n == 1).
    standard_deviation_ : ndarray of shape (n_features,)
        ``sqrt(variance_)``.
    variation_ : ndarray of shape (n_features,)
        Coefficient of variation, ``standard_deviation_ / mean_``.
    n_samples_seen_ : int
        Rows over all ranks.
    n_features_in_ : int
        Number of features seen during ``fit``.

    Only the attributes asked for in ``result_options`` are set.

    See Also
    --------
    SPMDStandardScaler : Uses the same partial (count, mean, centred sum of squares).

    Notes
    -----
    Distributed semantics: one fused, blocked pass over this rank's rows gives
    ``(n, mean, M2, min, max)`` per feature; one ``Allgather`` of
    ``4 * n_features + 1`` doubles and one int64 per rank and the same rank-ordered
    Chan-Golub-LeVeque merge on every rank give bitwise identical results.
    Unlike daal4py's distributed ``low_order_moments``, the between-rank
    term of the centred sum of squares is kept, so the variance does not
    depend on how the rows are split. ``partial_fit`` (an skspmd extension)
    merges each collective batch into the running moments.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd import SPMDBasicStatistics
    >>> X = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> SPMDBasicStatistics(result_options=["mean", "variance"]).fit(X).variance_
    array([2., 8.])
    """

    _parameter_constraints = {"result_options": [StrOptions({"all", *RESULT_OPTIONS}), list]}

    def __init__(self, result_options="all"):
        self.result_options = result_options

    def _options(self):
        opts = self.result_options
        if isinstance(opts, str):
            return RESULT_OPTIONS if opts == "all" else (opts,)
        unknown = [o for o in opts if o not in RESULT_OPTIONS]
        if unknown or not opts:
            raise ValueError(
                f"result_options must be 'all' or a non-empty list of {RESULT_OPTIONS}, "
                f"got {opts!r}"
            )
        return tuple(opts)

    @spmd_fit
    def fit(self, X, y=None):
        """Compute the statistics over every rank's rows (collective).

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
        """Add one collective batch of rows to the statistics (skspmd extension).

        After any number of calls the statistics equal ``fit`` on every row
        seen: the moments of the batch are merged into the running ones
        (pairwise Chan update), so a stream of batches
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
        return self._update(X, reset=not hasattr(self, "_moments"))

    def _update(self, X, reset):
        options = self._options()
        comm = get_comm()
        # the finiteness check is fused into the moments' one pass
        X, data = validate_spmd_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            comm=comm,
        )
        with agree_on_errors(comm):
            moments = Moments.from_rows(X, check_finite=True)
        m = moments.allreduce(comm)
        if not reset:
            m = self._moments.merge(m)
        self._moments = m
        n = m.n
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = m.m2 / (n - 1) if n > 1 else np.full_like(m.m2, np.nan)
            std = np.sqrt(variance)
            values = {
                "min": m.min,
                "max": m.max,
                "sum": m.sum,
                "mean": m.mean,
                "sum_squares": m.sum_squares,
                "sum_squares_centered": m.m2,
                "second_order_raw_moment": m.sum_squares / n,
                "variance": variance,
                "standard_deviation": std,
                "variation": std / m.mean,
            }
        for name in RESULT_OPTIONS:
            if hasattr(self, name + "_"):
                delattr(self, name + "_")
        for name in options:
            setattr(self, name + "_", values[name].astype(X.dtype, copy=False))
        self.n_samples_seen_ = int(m.n_rows)
        return self
