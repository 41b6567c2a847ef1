"""kmeans_init and kmeans over SPMDKMeans (its seeding and its Lloyd iterations)."""

import numpy as np
from sklearn.utils import check_array

from .._comm import agree_on_errors, allgather_array
from ._core import (
    Algorithm,
    Result,
    UnsupportedError,
    as_table,
    check_bool,
    check_choice,
    check_float,
    check_int,
    parse_flags,
)

__all__ = [
    "engines_mcg59",
    "engines_mt19937",
    "engines_mt2203",
    "kmeans",
    "kmeans_init",
    "kmeans_init_result",
    "kmeans_result",
]

_DEFAULT_SEED = 777  # daal4py's default engine: mt19937 seeded with 777


class engines_mt19937:
    """A random engine for :class:`kmeans_init`: its ``seed`` seeds NumPy's MT19937.

    The stream is NumPy's ``RandomState(seed)``, consumed as scikit-learn's
    k-means seeding consumes it, not daal's: the same seed gives the same
    centroids on any number of ranks, but not daal4py's centroids.

    Parameters
    ----------
    seed : int, default=777
    fptype : {'double', 'float'}, default='double'
    method : {'defaultDense'}, default='defaultDense'

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> engine = d4p.engines_mt19937(seed=42)
    >>> d4p.kmeans_init(2, method="plusPlusDense", engine=engine).compute(X).centroids
    array([[ 1.,  1.],
           [10., 10.]])

    The same centroids as ``sklearn.cluster.kmeans_plusplus(X, 2, random_state=42)``.
    """

    _name = "engines_mt19937"

    def __init__(self, seed=_DEFAULT_SEED, fptype="double", method="defaultDense"):
        self.seed = check_int(self._name, "seed", seed, minimum=0)
        self.fptype = check_choice(self._name, "fptype", fptype, ("double", "float"))
        self.method = check_choice(self._name, "method", method, ("defaultDense",))

    def __repr__(self):
        return f"{self._name}(seed={self.seed})"


class engines_mt2203(engines_mt19937):
    """Same as :class:`engines_mt19937` (a seed for NumPy's MT19937).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> def init(engine):
    ...     return d4p.kmeans_init(2, method="randomDense", engine=engine).compute(X).centroids
    >>> np.array_equal(init(d4p.engines_mt2203(7)), init(d4p.engines_mt19937(7)))
    True
    """

    _name = "engines_mt2203"


class engines_mcg59(engines_mt19937):
    """Same as :class:`engines_mt19937` (a seed for NumPy's MT19937).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> def init(engine):
    ...     return d4p.kmeans_init(2, method="randomDense", engine=engine).compute(X).centroids
    >>> np.array_equal(init(d4p.engines_mcg59(7)), init(d4p.engines_mt19937(7)))
    True
    """

    _name = "engines_mcg59"


def _checked_rows(X, comm):
    """This rank's rows, checked finite on every rank (the seeding bypasses fit's validation)."""
    with agree_on_errors(comm):
        return check_array(X, dtype=[np.float64, np.float32], order="C", ensure_min_samples=0)


class kmeans_init_result(Result):
    """Result of :class:`kmeans_init`: ``centroids`` (nClusters, p).

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> d4p.kmeans_init(2).compute(X)
    kmeans_init_result(centroids=array(2, 2))
    """


_INIT_METHODS = (
    "defaultDense",
    "deterministicDense",
    "randomDense",
    "plusPlusDense",
    "parallelPlusDense",
)
_INIT_CSR = ("deterministicCSR", "randomCSR", "plusPlusCSR", "parallelPlusCSR")


class kmeans_init(Algorithm):
    """Initial centroids for K-means: daal4py's ``kmeans_init``.

    Parameters
    ----------
    nClusters : int
        Number of centroids.
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : str, default='defaultDense'
        ``'defaultDense'``, ``'deterministicDense'``: the first ``nClusters``
        rows of the global data (rank order). ``'randomDense'``:
        ``nClusters`` distinct rows drawn uniformly (SPMDKMeans's
        ``init='random'``). ``'plusPlusDense'``: scikit-learn's greedy
        k-means++ over the global rows (SPMDKMeans's ``init='k-means++'``).
        ``'parallelPlusDense'``: the same exact k-means++; k-means|| is an
        approximation of it for systems whose k-means++ cannot run
        distributed, and skspmd's can.
    nTrials : int, default=-1
        k-means++ candidates per centroid. skspmd uses scikit-learn's
        ``2 + int(ln(nClusters))``; -1 (daal4py's "default") or that value
        is accepted, another raises.
    oversamplingFactor : float, default=nan
        k-means|| only; not used by the exact k-means++, so only the default
        (nan) is accepted.
    nRounds : int, default=-1
        k-means|| only; only the default (-1) is accepted.
    engine : engines_mt19937 or None, default=None
        Seed of the random methods (None: seed 777, daal4py's default). The
        random stream is NumPy's, so the centroids differ from daal4py's but
        are the same for any number of ranks and any split of the rows.
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.

    Notes
    -----
    Result: ``centroids`` (nClusters, p), identical on every rank. With the
    same seed, ``'plusPlusDense'`` gives
    ``sklearn.cluster.kmeans_plusplus(X, nClusters, random_state=seed)`` on
    the concatenated rows, and ``'randomDense'`` the rows scikit-learn's
    ``KMeans(init='random')`` draws first.

    Distributed semantics: ``'defaultDense'`` gathers at most ``nClusters``
    rows. The random methods locate each draw in the global cumulative sum
    from per-rank prefix offsets; k-means++ needs two small collectives per
    centroid.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> d4p.kmeans_init(2).compute(X).centroids
    array([[0., 0.],
           [1., 1.]])
    """

    _name = "kmeans_init"

    def __init__(
        self,
        nClusters,
        fptype="double",
        method="defaultDense",
        nTrials=-1,
        oversamplingFactor=np.nan,
        nRounds=-1,
        engine=None,
        distributed=False,
    ):
        self._common(fptype, distributed)
        self.nClusters = check_int(self._name, "nClusters", nClusters, minimum=1)
        self.method = check_choice(self._name, "method", method, _INIT_METHODS, _INIT_CSR)
        self.nTrials = check_int(self._name, "nTrials", nTrials)
        sklearn_trials = 2 + int(np.log(self.nClusters))
        if self.nTrials not in (-1, sklearn_trials):
            raise UnsupportedError(
                f"kmeans_init: nTrials={self.nTrials} is not provided: skspmd's k-means++ "
                f"uses scikit-learn's 2 + int(ln(nClusters)) = {sklearn_trials} candidates "
                "per centroid; leave nTrials at its default"
            )
        self.oversamplingFactor = check_float(self._name, "oversamplingFactor", oversamplingFactor)
        self.nRounds = check_int(self._name, "nRounds", nRounds)
        if not np.isnan(self.oversamplingFactor) or self.nRounds != -1:
            raise UnsupportedError(
                "kmeans_init: oversamplingFactor and nRounds tune daal4py's k-means|| "
                "approximation; skspmd computes the exact k-means++ seeding that it "
                "approximates (method='parallelPlusDense' or 'plusPlusDense'), so leave "
                "them at their defaults"
            )
        if engine is not None and not isinstance(engine, engines_mt19937):
            raise TypeError(
                "kmeans_init: engine must be None or skspmd.daal4py.engines_mt19937(seed=...), "
                f"got {engine!r}"
            )
        self.engine = engine

    def _run(self, inputs, **_):
        comm = inputs.comm
        X = _checked_rows(inputs["data"], comm)
        n, k = inputs.n_samples, self.nClusters
        if n < k:
            raise ValueError(
                f"kmeans_init: nClusters={k} is larger than the number of rows {n} "
                f"(rows per rank: {inputs.counts.tolist()})"
            )
        if self.method in ("defaultDense", "deterministicDense"):
            centroids = self._first_rows(X, inputs)
        else:
            centroids = self._seed(X, inputs)
        return kmeans_init_result(centroids=np.ascontiguousarray(centroids))

    def _first_rows(self, X, inputs):
        """The first ``nClusters`` global rows, gathered from their owners in rank order."""
        k, offset = self.nClusters, inputs.offset
        take = int(min(max(k - offset, 0), X.shape[0]))
        offer = np.zeros((k, X.shape[1]), dtype=X.dtype)
        offer[:take] = X[:take]
        gathered = allgather_array(offer, inputs.comm)
        starts = np.cumsum(np.r_[0, inputs.counts[:-1]])
        takes = np.minimum(np.maximum(k - starts, 0), inputs.counts)
        return np.concatenate([gathered[r, : takes[r]] for r in range(len(takes))], axis=0)

    def _seed(self, X, inputs):
        """SPMDKMeans's own seeding (k-means++ or random) over the global rows."""
        from ..cluster import kmeans_plusplus
        from ..cluster._seeding import random_rows

        seed = _DEFAULT_SEED if self.engine is None else self.engine.seed
        random_state = np.random.RandomState(seed)
        if self.method == "randomDense":
            centers, _ = random_rows(X, self.nClusters, random_state=random_state)
        else:
            centers, _ = kmeans_plusplus(X, self.nClusters, random_state=random_state)
        return centers


class kmeans_result(Result):
    """Result of :class:`kmeans`.

    ``centroids`` (k, p), ``objectiveFunction`` (1, 1), ``nIterations``
    (1, 1) int32, and ``assignments`` (n_local, 1) int32 when asked for.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> centroids = d4p.kmeans_init(2, method="plusPlusDense").compute(X).centroids
    >>> res = d4p.kmeans(2, 10, assignFlag=True).compute(X, centroids)
    >>> res
    kmeans_result(assignments=array(4, 1), centroids=array(2, 2), nIterations=array(1, 1),
                  objectiveFunction=array(1, 1))
    >>> res.assignments.ravel(), res.objectiveFunction  # sklearn's labels_ and inertia_
    (array([0, 0, 1, 1], dtype=int32), array([[2.]]))
    """


class kmeans(Algorithm):
    """Lloyd's K-means from given centroids: daal4py's ``kmeans``.

    Built on :class:`skspmd.cluster.SPMDKMeans` (``init=inputCentroids,
    n_init=1``). ``compute(data, inputCentroids)``.

    Parameters
    ----------
    nClusters : int
        Number of clusters (rows of ``inputCentroids``).
    maxIterations : int
        Maximum number of Lloyd iterations. 0 runs none: daal4py's way to
        assign rows to given centroids (``kmeans(k, 0, assignFlag=True)``);
        the result holds ``inputCentroids`` unchanged, the objective of those
        centroids, ``nIterations`` 0, and the ``assignments``.
    fptype : {'double', 'float'}, default='double'
        Precision of the computation (the input is converted).
    method : {'defaultDense', 'lloydDense'}, default='defaultDense'
    accuracyThreshold : float, default=nan
        Stop when the squared norm of the centroid shift of an iteration,
        summed over the clusters, is at most this (the test daal4py's batch
        mode applies). Mapped to SPMDKMeans's relative ``tol`` by dividing by
        the mean column variance (``ddof=0``) of the global data, which costs
        one more pass over the rows. nan or 0 (default): ``tol=0``, iterate
        until no label changes or ``maxIterations``. daal4py's distributed
        mode tests the change of the objective function instead, a
        different criterion that can stop at a different iteration.
    gamma : float, default=nan
        Weight of categorical features; not supported (only the default).
    distanceType : {'', 'euclidean'}, default=''
    resultsToEvaluate : str, default=''
        ``'|'``-separated flags among ``'computeCentroids'``,
        ``'computeAssignments'``, ``'computeExactObjectiveFunction'``;
        ``'computeAssignments'`` is the same as ``assignFlag=True``. The
        centroids and the exact objective are always computed.
    assignFlag : bool, default=False
        Return ``assignments``: this rank's labels, ``(n_local, 1)`` int32
        (daal4py's distributed mode aborts with it).
    distributed : bool, default=False
        Collective over the ranks when True; this rank's rows alone otherwise.

    Notes
    -----
    ``objectiveFunction`` is the inertia of the final centroids (after the
    last update), like daal4py's batch mode and scikit-learn's ``inertia_``
    (daal4py's distributed mode reports the value before the last update).
    ``nIterations`` is scikit-learn's ``n_iter_``. The result is the same for
    any number of ranks and any split of the rows.

    Distributed semantics: one ``Allreduce`` of ``k * (p + 1) + 2`` numbers
    per iteration (see :class:`skspmd.cluster.SPMDKMeans`); the centroids
    are taken from rank 0.

    Examples
    --------
    >>> import numpy as np
    >>> import skspmd.daal4py as d4p
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0], [10.0, 10.0]])
    >>> res = d4p.kmeans(2, 10).compute(X, np.array([[0.0, 0.0], [9.0, 9.0]]))
    >>> res.centroids
    array([[0.5, 0.5],
           [9.5, 9.5]])

    With ``maxIterations=0``, the assignments to given centroids:

    >>> res = d4p.kmeans(2, 0, assignFlag=True).compute(X, np.array([[0.0, 0.0], [9.0, 9.0]]))
    >>> res.assignments.ravel(), res.objectiveFunction, res.nIterations
    (array([0, 0, 1, 1], dtype=int32), array([[4.]]), array([[0]], dtype=int32))
    """

    _name = "kmeans"
    _others = ("inputCentroids",)

    def __init__(
        self,
        nClusters,
        maxIterations,
        fptype="double",
        method="defaultDense",
        accuracyThreshold=np.nan,
        gamma=np.nan,
        distanceType="",
        resultsToEvaluate="",
        assignFlag=False,
        distributed=False,
    ):
        self._common(fptype, distributed)
        self.nClusters = check_int(self._name, "nClusters", nClusters, minimum=1)
        self.maxIterations = check_int(self._name, "maxIterations", maxIterations, minimum=0)
        self.method = check_choice(
            self._name, "method", method, ("defaultDense", "lloydDense"), ("lloydCSR",)
        )
        threshold = check_float(self._name, "accuracyThreshold", accuracyThreshold)
        if not np.isnan(threshold) and threshold < 0:
            raise ValueError(f"kmeans: accuracyThreshold must be >= 0, got {threshold}")
        self.accuracyThreshold = threshold
        self.gamma = check_float(self._name, "gamma", gamma)
        if not np.isnan(self.gamma):
            raise UnsupportedError(
                "kmeans: gamma (the weight of categorical features) is not provided by "
                "skspmd.daal4py; leave it at its default"
            )
        self.distanceType = check_choice(
            self._name, "distanceType", distanceType, ("", "euclidean")
        )
        self.resultsToEvaluate = resultsToEvaluate
        flags = parse_flags(
            self._name,
            "resultsToEvaluate",
            resultsToEvaluate,
            ("computeCentroids", "computeAssignments", "computeExactObjectiveFunction"),
        )
        self.assignFlag = check_bool(self._name, "assignFlag", assignFlag)
        self._assign = self.assignFlag or "computeAssignments" in flags

    def _centroids(self, value, inputs, fmt, rank):
        """``inputCentroids`` on every rank, checked to be ``(nClusters, p)`` everywhere."""
        p = inputs["data"].shape[1]
        with agree_on_errors(inputs.comm):
            C, _ = as_table(value, "kmeans: inputCentroids", fmt, rank, self._dtype)
            if C is None or C.shape != (self.nClusters, p):
                shape = "no rows" if C is None else f"shape {C.shape}"
                raise ValueError(
                    f"kmeans: inputCentroids has {shape}; expected ({self.nClusters}, {p}) "
                    "(nClusters x number of features)"
                )
            C = check_array(C, dtype=[np.float64, np.float32])
        return C

    def _run(self, inputs, inputCentroids=None, fmt=(), rank=0, **_):
        from ..cluster import SPMDKMeans
        from ..stats import SPMDBasicStatistics

        X = inputs["data"]
        centroids = self._centroids(inputCentroids, inputs, fmt, rank)
        if self.maxIterations == 0:
            return self._assign_only(X, centroids)
        tol = 0.0
        threshold = self.accuracyThreshold
        if not np.isnan(threshold) and threshold > 0:
            stats = SPMDBasicStatistics(result_options=["sum_squares_centered"]).fit(X)
            mean_var = float(np.mean(stats.sum_squares_centered_ / inputs.n_samples))
            tol = threshold / mean_var if mean_var > 0 else 0.0
        est = SPMDKMeans(
            n_clusters=self.nClusters,
            init=centroids,
            n_init=1,
            max_iter=self.maxIterations,
            tol=tol,
            copy_x="data" not in inputs.owned,
        ).fit(X)
        fields = dict(
            centroids=np.ascontiguousarray(est.cluster_centers_),
            objectiveFunction=np.array([[est.inertia_]], dtype=self._dtype),
            nIterations=np.array([[est.n_iter_]], dtype=np.int32),
        )
        if self._assign:
            fields["assignments"] = est.labels_.astype(np.int32).reshape(-1, 1)
        else:
            fields["assignments"] = None
        return kmeans_result(**fields)

    def _assign_only(self, X, centroids):
        """``maxIterations=0``: labels of the given centroids and their objective, no update.

        A model of SPMDKMeans whose centres are ``inputCentroids`` (not fitted:
        ``predict`` and ``score`` read only the centres), so the labels and the
        objective use SPMDKMeans's own arithmetic and tie rule. ``predict`` is
        local; ``score`` is one ``Allreduce`` of two numbers when distributed.
        daal4py returns ``assignments`` for ``maxIterations=0`` even without
        ``assignFlag``, so they are returned here too.
        """
        from ..cluster import SPMDKMeans

        model = SPMDKMeans(n_clusters=self.nClusters, init=centroids, n_init=1)
        model.cluster_centers_ = centroids
        model.n_features_in_ = centroids.shape[1]
        objective = -model.score(X)
        return kmeans_result(
            centroids=centroids.copy(),
            objectiveFunction=np.array([[objective]], dtype=self._dtype),
            nIterations=np.zeros((1, 1), dtype=np.int32),
            assignments=model.predict(X).astype(np.int32).reshape(-1, 1),
        )
