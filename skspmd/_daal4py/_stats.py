"""low_order_moments and covariance over SPMDBasicStatistics and SPMDEmpiricalCovariance."""

import numpy as np

from ._core import Algorithm, Result, check_choice, row

__all__ = [
    "covariance",
    "covariance_result",
    "low_order_moments",
    "low_order_moments_result",
]

_DENSE_METHODS = ("defaultDense", "singlePassDense")
_OTHER_METHODS = ("sumDense", "fastCSR", "singlePassCSR", "sumCSR")

# daal4py field -> SPMDBasicStatistics result option
_MOMENTS = {
    "minimum": "min",
    "maximum": "max",
    "sum": "sum",
    "sumSquares": "sum_squares",
    "sumSquaresCentered": "sum_squares_centered",
    "mean": "mean",
    "secondOrderRawMoment": "second_order_raw_moment",
    "variance": "variance",
    "standardDeviation": "standard_deviation",
    "variation": "variation",
}
_ESTIMATES = {
    "": tuple(_MOMENTS),
    "estimatesAll": tuple(_MOMENTS),
    "estimatesMinMax": ("minimum", "maximum"),
    "estimatesMeanVariance": ("mean", "variance"),
}


class low_order_moments_result(Result):
    """Result of :class:`low_order_moments`: each field a ``(1, n_features)`` array.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> res = d4p.low_order_moments(estimatesToCompute="estimatesMinMax").compute(X)
    >>> res
    low_order_moments_result(maximum=array(1, 2), minimum=array(1, 2))
    >>> res.maximum
    array([[3., 6.]])
    >>> res.mean
    Traceback (most recent call last):
        ...
    AttributeError: low_order_moments_result.mean was not computed:
    estimatesToCompute='estimatesMinMax'
    """


class low_order_moments(Algorithm):
    """Low-order moments of every column: daal4py's ``low_order_moments``.

    Built on :class:`skspmd.SPMDBasicStatistics`.

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense', 'singlePassDense'}, default='defaultDense'
        Both give the same (stable, blocked single-pass) computation.
    estimatesToCompute : {'', 'estimatesAll', 'estimatesMinMax', 'estimatesMeanVariance'}, \
            default=''
        ``''`` and ``'estimatesAll'``: every field; ``'estimatesMinMax'``:
        ``minimum`` and ``maximum``; ``'estimatesMeanVariance'``: ``mean`` and
        ``variance``. Fields not computed raise ``AttributeError`` (daal4py
        leaves uninitialised tables in them).
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    Result fields (each ``(1, p)``): ``minimum``, ``maximum``, ``sum``,
    ``sumSquares``, ``sumSquaresCentered``, ``mean``,
    ``secondOrderRawMoment`` (``sumSquares / n``), ``variance`` (``ddof=1``),
    ``standardDeviation``, ``variation`` (``standardDeviation / mean``).

    Distributed semantics: one pass over this rank's rows and one small
    ``Allgather`` (see :class:`skspmd.SPMDBasicStatistics`). Unlike daal4py's
    distributed mode, ``variance`` and ``sumSquaresCentered`` keep the
    between-rank term, so they do not depend on how the rows are split.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> res = d4p.low_order_moments().compute(np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> res.variance
    array([[2., 8.]])
    """

    _name = "low_order_moments"

    def __init__(
        self,
        fptype="double",
        method="defaultDense",
        estimatesToCompute="",
        distributed=False,
        streaming=False,
    ):
        self._common(fptype, distributed, streaming)
        self.method = check_choice(self._name, "method", method, _DENSE_METHODS, _OTHER_METHODS)
        self.estimatesToCompute = check_choice(
            self._name, "estimatesToCompute", estimatesToCompute, tuple(_ESTIMATES)
        )

    def _run(self, inputs, **_):
        from ..stats import SPMDBasicStatistics

        fields = _ESTIMATES[self.estimatesToCompute]
        est = SPMDBasicStatistics(result_options=[_MOMENTS[f] for f in fields])
        est.fit(inputs["data"])
        values = {f: row(getattr(est, _MOMENTS[f] + "_")) for f in fields}
        reason = f"estimatesToCompute={self.estimatesToCompute!r}"
        missing = {f: reason for f in _MOMENTS if f not in fields}
        return low_order_moments_result(not_computed=missing, **values)


class covariance_result(Result):
    """Result of :class:`covariance`: ``covariance``, ``correlation`` (p, p), ``mean`` (1, p).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0], [4.0, 4.0]])
    >>> res = d4p.covariance().compute(X)
    >>> res
    covariance_result(correlation=array(2, 2), covariance=array(2, 2), mean=array(1, 2))
    >>> res.correlation  # numpy.corrcoef(X.T)
    array([[1. , 0.8],
           [0.8, 1. ]])
    >>> res.mean
    array([[2.5, 3.5]])
    """


class covariance(Algorithm):
    """Variance-covariance and correlation matrices: daal4py's ``covariance``.

    Built on :class:`skspmd.SPMDEmpiricalCovariance`.

    Parameters
    ----------
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense', 'singlePassDense'}, default='defaultDense'
        Both give the same computation (blocked, pairwise-merged centred
        cross-products).
    outputMatrixType : {'', 'covarianceMatrix', 'correlationMatrix'}, default=''
        The matrix daal4py computes. skspmd always fills both fields
        correctly: ``covariance`` holds the covariance and ``correlation`` the
        correlation whatever this is (daal4py fills both fields with the one
        matrix it computed).
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.
    streaming : bool, default=False
        Only False is supported.

    Notes
    -----
    ``covariance`` is the sample covariance (``ddof=1``, as ``numpy.cov``),
    the maximum-likelihood covariance of :class:`skspmd.SPMDEmpiricalCovariance`
    times ``n / (n - 1)``; ``correlation`` is ``numpy.corrcoef``; ``mean`` is
    the column mean.

    Distributed semantics: one pass over this rank's rows, an ``Allgather`` of
    the per-rank means and one reduction of a ``p x p`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> res = d4p.covariance().compute(np.array([[0.0, 0.0], [2.0, 2.0]]))
    >>> res.covariance
    array([[2., 2.],
           [2., 2.]])
    """

    _name = "covariance"

    def __init__(
        self,
        fptype="double",
        method="defaultDense",
        outputMatrixType="",
        distributed=False,
        streaming=False,
    ):
        self._common(fptype, distributed, streaming)
        self.method = check_choice(self._name, "method", method, _DENSE_METHODS, _OTHER_METHODS)
        self.outputMatrixType = check_choice(
            self._name,
            "outputMatrixType",
            outputMatrixType,
            ("", "covarianceMatrix", "correlationMatrix"),
        )

    def _run(self, inputs, **_):
        from ..covariance import SPMDEmpiricalCovariance

        est = SPMDEmpiricalCovariance(store_precision=False).fit(inputs["data"])
        n = inputs.n_samples
        dtype = est.covariance_.dtype
        if n > 1:
            cov = est.covariance_ * dtype.type(n / (n - 1))
        else:
            cov = np.full_like(est.covariance_, np.nan)
        return covariance_result(
            covariance=cov.astype(self._dtype, copy=False),
            correlation=est.correlation_.astype(self._dtype, copy=False),
            mean=row(est.location_, self._dtype),
        )
