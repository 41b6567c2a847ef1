"""daal4py's ``dbscan`` over :class:`skspmd.cluster.SPMDDBSCAN`."""

import numpy as np
from mpi4py import MPI

from .._comm import allreduce
from ._core import (
    Algorithm,
    Result,
    UnsupportedError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    parse_flags,
)

__all__ = ["dbscan", "dbscan_result"]

_FLAGS = ("computeCoreIndices", "computeCoreObservations")
_BLOCKS = ("blockIndex", "nBlocks", "leftBlocks", "rightBlocks")


class dbscan_result(Result):
    """Result of :class:`dbscan`.

    ``assignments`` (n_local, 1) int32: cluster of each of this rank's rows,
    -1 for noise; ``nClusters`` (1, 1) int32: clusters over all ranks;
    ``coreIndices`` (n_core_local, 1) int32 and ``coreObservations``
    (n_core_local, p) when asked for with ``resultsToCompute``, else None.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 2.0], [2.0, 2.0], [2.0, 3.0], [8.0, 7.0], [8.0, 8.0], [25.0, 80.0]])
    >>> res = d4p.dbscan(3.0, 2, resultsToCompute="computeCoreIndices").compute(X)
    >>> res
    dbscan_result(assignments=array(6, 1), coreIndices=array(5, 1), coreObservations=None,
                  nClusters=array(1, 1))
    >>> res.coreIndices.ravel()  # sklearn's core_sample_indices_
    array([0, 1, 2, 3, 4], dtype=int32)
    """


class dbscan(Algorithm):
    """Density-based clustering: daal4py's ``dbscan``.

    Built on :class:`skspmd.cluster.SPMDDBSCAN` (euclidean distance, brute
    force). ``compute(data, weights=None)``.

    Parameters
    ----------
    epsilon : float
        Radius of the neighbourhood (``eps``), > 0.
    minObservations : int
        Total weight of a neighbourhood, the row itself included, for the row
        to be a core row (``min_samples``).
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense'}, default='defaultDense'
        Brute-force neighbourhoods.
    memorySavingMode : bool, default=False
        Accepted; it does not change the result (daal4py's memory/speed
        trade-off). skspmd stores each rank's neighbourhoods either way, as
        daal4py does without it.
    resultsToCompute : str, default=''
        ``'|'``-separated flags among ``'computeCoreIndices'`` and
        ``'computeCoreObservations'``.
    blockIndex, nBlocks, leftBlocks, rightBlocks : int, default=-1
        Parameters of daal4py's low-level distributed steps; only the
        defaults are accepted (the steps are skspmd's).
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.

    Notes
    -----
    ``weights`` (n_local, 1), optional: weight of each row (scikit-learn's
    ``sample_weight``). The clusters, the noise and the cluster numbers are
    scikit-learn's ``DBSCAN`` on all ranks' rows (numbered by their first core
    row), for any number of ranks and any split; daal4py's distributed mode
    numbers clusters otherwise and returns float64 assignments. In
    distributed mode ``coreIndices`` are local indices (positions among this
    rank's rows), which daal4py's distributed mode does not return.

    Distributed semantics: see :class:`skspmd.cluster.SPMDDBSCAN` (one
    distributed radius search, the data never gathered).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[1.0, 2.0], [2.0, 2.0], [2.0, 3.0], [8.0, 7.0], [8.0, 8.0], [25.0, 80.0]])
    >>> res = d4p.dbscan(epsilon=3.0, minObservations=2).compute(X)
    >>> res.assignments.ravel()
    array([ 0,  0,  0,  1,  1, -1], dtype=int32)
    >>> int(res.nClusters[0, 0])
    2
    """

    _name = "dbscan"
    _optional = ("weights",)
    _one_d = ("weights",)

    def __init__(
        self,
        epsilon,
        minObservations,
        fptype="double",
        method="defaultDense",
        memorySavingMode=False,
        resultsToCompute="",
        blockIndex=-1,
        nBlocks=-1,
        leftBlocks=-1,
        rightBlocks=-1,
        distributed=False,
    ):
        self._common(fptype, distributed)
        self.epsilon = check_float(self._name, "epsilon", epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"dbscan: epsilon must be > 0, got {self.epsilon}")
        self.minObservations = check_int(self._name, "minObservations", minObservations, 1)
        self.method = check_choice(self._name, "method", method, ("defaultDense",))
        self.memorySavingMode = check_bool(self._name, "memorySavingMode", memorySavingMode)
        self.resultsToCompute = resultsToCompute
        self._flags = parse_flags(self._name, "resultsToCompute", resultsToCompute, _FLAGS)
        for name, value in zip(_BLOCKS, (blockIndex, nBlocks, leftBlocks, rightBlocks)):
            if check_int(self._name, name, value) != -1:
                raise UnsupportedError(
                    f"dbscan: {name} belongs to daal4py's low-level distributed steps, which "
                    "skspmd runs itself; leave it at its default (-1) and use distributed=True"
                )

    def _weights(self, inputs):
        """This rank's weights as a 1-D array, or None (the same answer on every rank)."""
        weights = inputs.tables.get("weights")
        if weights is None:
            return None
        if weights.shape[1] != 1:
            raise ValueError(
                f"dbscan: weights has {weights.shape[1]} columns; expected one weight per row "
                "of data, shape (n, 1)"
            )
        return weights[:, 0]

    def _run(self, inputs, **_):
        from ..cluster import SPMDDBSCAN

        sample_weight = self._weights(inputs)
        est = SPMDDBSCAN(eps=self.epsilon, min_samples=self.minObservations, algorithm="brute")
        est.fit(inputs["data"], sample_weight=sample_weight)
        # the clusters are numbered 0, 1, ... over all ranks: one more than the largest
        largest = allreduce(np.array([est.labels_.max(initial=-1)]), op=MPI.MAX, comm=inputs.comm)
        n_clusters = int(largest[0]) + 1
        core = est.core_sample_indices_
        return dbscan_result(
            assignments=est.labels_.astype(np.int32).reshape(-1, 1),
            nClusters=np.array([[n_clusters]], dtype=np.int32),
            coreIndices=(
                core.astype(np.int32).reshape(-1, 1)
                if "computeCoreIndices" in self._flags
                else None
            ),
            coreObservations=(
                np.ascontiguousarray(est.components_, dtype=self._dtype)
                if "computeCoreObservations" in self._flags
                else None
            ),
        )
