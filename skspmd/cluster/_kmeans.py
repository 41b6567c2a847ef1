"""SPMDKMeans: sklearn's KMeans whose ``fit`` runs over the rows of every MPI rank.

The model (initial centers, every Lloyd iteration, the stopping decisions, the
best of ``n_init`` runs) is the one scikit-learn computes on the concatenation
of the ranks' rows in rank order. The parts live beside this module:

- :mod:`._kmeans_kernels`: the local NumPy kernels (labels, per-cluster sums,
  distances), testable in one process;
- :mod:`._shard`: this rank's rows in the global row order;
- :mod:`._seeding`: k-means++ and random seeding over the global rows
  (:func:`kmeans_plusplus` is public);
- :mod:`._lloyd`: the Lloyd iterations, one small ``Allreduce`` each.

The estimator here validates the input on every rank, computes the
data-dependent quantities globally (the mean used to centre dense data and
the tolerance, mean feature variance times ``tol``, from
:func:`skspmd._stats.column_mean` or the merged :class:`~skspmd._stats.Moments`),
runs the ``n_init`` runs and keeps the best.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import LocalRowsMixin, spmd_fit
from .._rows import CentredRows, keep_unmodified, memory_mapped
from .._comm import agree_on_errors, allreduce, bcast_array, get_comm
from .._stats import Moments, column_mean
from .._threads import one_blas_thread
from .._validation import validate_spmd_data
from ._kmeans_kernels import (
    ROWS_FORMAT,
    assign,
    distances_to_assigned,
    lloyd_block_rows,
)
from ._lloyd import lloyd, same_clustering
from ._seeding import draw_rows, greedy_plusplus, shared_random_state
from ._shard import Shard

__all__ = ["SPMDKMeans"]


class SPMDKMeans(LocalRowsMixin, KMeans):
    """K-Means clustering over the rows of every MPI rank.

    The distributed twin of :class:`sklearn.cluster.KMeans`: same parameters,
    attributes and methods. ``fit`` is collective; for the same
    ``random_state`` it returns scikit-learn's model for the concatenation of
    the ranks' rows in rank order, for any number of ranks and any split.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters (at most the number of rows over all ranks).
    init : {'k-means++', 'random'} or array-like of shape (n_clusters, n_features), \
            default='k-means++'
        ``'k-means++'``: scikit-learn's greedy k-means++ over the global rows;
        ``'random'``: ``n_clusters`` global rows drawn with probability
        proportional to their weight; an array: the initial centers (taken
        from rank 0). A callable is not supported (it would see only this
        rank's rows) and raises ``TypeError`` on every rank.
    n_init : 'auto' or int, default='auto'
        Number of runs with different seeds; the run with the lowest global
        inertia wins. ``'auto'``: 10 for ``'random'``, 1 otherwise.
    max_iter : int, default=300
        Maximum number of Lloyd iterations of one run.
    tol : float, default=1e-4
        Convergence when the squared Frobenius norm of the center shift is at
        most ``tol`` times the mean feature variance of the global data.
    verbose : int, default=0
        Verbosity; messages are printed by rank 0 only.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation. An int gives scikit-learn's result. A
        RandomState instance is first set to rank 0's state on every rank;
        ``None`` draws a seed from rank 0's global NumPy generator.
    copy_x : bool, default=True
        Dense data are centred on their global mean (as scikit-learn does).
        If True, on a copy of this rank's rows; if False, in place, and
        restored after ``fit``. A memory-mapped ``X`` (such as
        ``skspmd.io.read_rows(path, mmap=True)``), and with ``copy_x=False``
        a read-only ``X``, is neither copied nor modified: its rows are
        centred block by block as each pass reads them (the same values;
        the extra memory is a block of about 1 MiB).
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        ``'elkan'`` is accepted and runs the same Lloyd iterations: both reach
        the same fixed point (scikit-learn documents that they give the same
        result up to ties), and Lloyd's per-iteration merge is one small
        collective. ``n_iter_`` may therefore differ from scikit-learn's
        Elkan run.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centers (identical on every rank).
    labels_ : ndarray of shape (n_local_samples,)
        Labels of this rank's rows.
    inertia_ : float
        Sum of weighted squared distances of all ranks' rows to their center.
    n_iter_ : int
        Number of iterations of the best run.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : The single-process estimator.
    kmeans_plusplus : The seeding of ``init='k-means++'``, as a function.

    Notes
    -----
    Distributed semantics: ``predict``, ``transform`` and ``fit_predict``
    (``labels_``) are local to this rank's rows; ``score`` is the global
    negative inertia, the same value on every rank. ``fit`` communicates:

    - once: the input agreement of ``validate_spmd_data``, an ``Allgather``
      of two numbers per rank (total and positive weights), and the merge of
      the column sums (``tol=0``) or of the per-feature moments
      (``tol > 0``, for the tolerance) giving the global mean used to centre
      dense data;
    - k-means++ (as :func:`kmeans_plusplus`): per center, an ``Allreduce``
      of the ``2 + ln k`` candidate rows and an ``Allgather`` of each rank's
      potential for every candidate (the global potentials, and the prefix
      offsets of the next center's cumulative sum); ``'random'`` init: per round of draws, an
      ``Allgather`` of one number per rank and an ``Allreduce`` of the drawn
      indices, then one of the chosen rows;
    - per Lloyd iteration: one ``Allreduce`` of ``k * (d + 1) + 2`` numbers
      (per-cluster weighted sums and weights, changed labels, and the inertia
      printed in verbose mode). An iteration in which clusters become empty
      adds an ``Allgather`` of each rank's farthest points and an
      ``Allreduce`` of the chosen rows;
    - per run: one ``Allreduce`` of ``k + 1`` numbers (final inertia, cluster
      sizes), and an ``Allgather`` of ``k + 1`` integers per rank when a later
      run must be compared with the best one.

    Local work per iteration: the labels of this rank's rows come from
    scikit-learn's own compiled E-step (256-row chunks, distances as
    ``||c||^2 - 2 x.c`` from a GEMM, first nearest center on ties; OpenMP
    threads = this rank's share of the node's cores, see
    :func:`skspmd.set_num_threads`, with one BLAS thread as in
    scikit-learn's loop). The per-cluster sums are computed on the first
    iteration (a sparse one-hot matrix times blocks of rows) and then only
    updated by the rows whose label changed. Without that compiled kernel
    (another scikit-learn version) a NumPy/BLAS version over blocks of
    about 256 KiB of rows gives the same labels. Temporary memory is bounded
    for any number of rows (k-means++ keeps ``2 + ln k`` candidate
    distances per row, as scikit-learn does). A memory-mapped ``X`` (or a
    read-only one with ``copy_x=False``) is never copied: each pass centres
    the blocks it reads (1 MiB at a time), and k-means++ keeps one distance
    per row, recomputing the chosen candidate's distances (one more pass
    per center).

    ``labels_`` and ``predict`` use the same rule (first nearest center
    from the GEMM distances). Differences from scikit-learn, all at
    round-off level or documented: ``cluster_centers_`` and ``inertia_``
    agree to round-off and ``labels_`` exactly on data without
    (near-)ties. Seeding positions are located in a
    cumulative sum computed per rank plus prefix offsets; a draw landing
    within round-off of a boundary between two rows could pick the
    neighbour (for float32 data, whose weighted distances scikit-learn
    accumulates in float32, such near-boundary draws are more frequent).
    Ties between equally far points when relocating empty clusters are
    broken by the lower global index. Negative sample weights are rejected
    (scikit-learn's seeding rejects them too). ``predict``, ``transform`` and
    ``score`` accept a rank with zero rows. With ``verbose``, only rank 0
    prints.

    Examples
    --------
    >>> import numpy as np
    >>> from skspmd.cluster import SPMDKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> km = SPMDKMeans(n_clusters=2, random_state=0, n_init="auto").fit(X)
    >>> km.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> km.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    """

    @spmd_fit
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering over every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows (non-negative, not all zero over all
            ranks). Used by the seeding unless ``init`` is an array.

        Returns
        -------
        self : object
            Fitted estimator, identical on every rank (except ``labels_``).
        """
        comm = get_comm()
        X, data = self._check_fit_data(X, sample_weight, comm)
        init = self._check_init(X, comm)
        self._resolve_n_init()
        self._resolve_algorithm()
        X_mean = self._global_mean_and_tolerance(X, comm)

        # centre dense data on the global mean for more accurate distances: in place,
        # or block by block as the passes read X when it must stay untouched
        in_place = X_mean is not None and not keep_unmodified(X, self.copy_x)
        rows = CentredRows(X, X_mean) if X_mean is not None and not in_place else X
        # agrees on the weights (raises on every rank if they are all zero);
        # the shard's norms are computed on first use, from the centred rows
        shard = Shard(rows, data.sample_weight, data.counts, comm, n_clusters=self.n_clusters)
        if in_place:
            X -= X_mean
        if X_mean is not None and not isinstance(init, str):
            init -= X_mean
        random_state = shared_random_state(self.random_state, comm)
        with one_blas_thread():
            best = self._best_run(shard, init, random_state)

        centers = best.centers
        if X_mean is not None:
            if in_place and not self.copy_x:
                X += X_mean
            centers = centers + X_mean
        if best.n_distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({best.n_distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = best.labels
        self.inertia_ = float(best.inertia)
        self.n_iter_ = best.n_iter
        return self

    def _check_fit_data(self, X, sample_weight, comm):
        """This rank's validated rows and the agreed facts (with the validated weights).

        Errors (bad input on any rank, a callable ``init``, more clusters than
        rows over all ranks) are raised on every rank.
        """

        def reject_callable_init(X, _):
            if callable(self.init):
                raise TypeError(
                    "SPMDKMeans does not support a callable init: it would see only "
                    "this rank's rows. Use 'k-means++', 'random' or an array."
                )

        X, data = validate_spmd_data(
            self,
            X,
            copy=self.copy_x and not memory_mapped(X),
            local_check=reject_callable_init,
            sample_weight=sample_weight,
            comm=comm,
            **ROWS_FORMAT,
        )
        if data.n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={data.n_samples} should be >= n_clusters={self.n_clusters}."
            )
        return X, data

    def _check_init(self, X, comm):
        """``init`` as a string, or as an array of rank 0's initial centers (a copy)."""
        if isinstance(self.init, str):
            return self.init
        init = check_array(self.init, dtype=X.dtype, copy=True, order="C")
        self._validate_center_shape(X, init)
        return bcast_array(init, comm=comm)

    def _global_mean_and_tolerance(self, X, comm):
        """The global column mean in X's dtype (None for sparse X); sets ``self._tol``.

        ``tol > 0`` needs the feature variances: the merged moments, whose
        mean serves too. Otherwise only dense data need the mean, to centre
        them: the merged column sums.
        """
        dense = not sp.issparse(X)
        if self.tol:
            with agree_on_errors(comm):
                moments = Moments.from_rows(X)
            moments = moments.allreduce(comm)
            mean = moments.mean
            # sklearn's _tolerance: mean of the (unweighted) feature variances times tol
            self._tol = float(np.mean(moments.variance()) * self.tol)
        else:
            mean = column_mean(X, comm=comm)[1] if dense else None
            self._tol = 0
        return mean.astype(X.dtype) if dense else None

    def _best_run(self, shard, init, random_state):
        """The ``n_init`` runs; returns the best :class:`~._lloyd.LloydRun`."""
        best = None
        for _ in range(self._n_init):
            if not isinstance(init, str):
                centers_init = init
            elif init == "k-means++":
                centers_init, _ = greedy_plusplus(shard, self.n_clusters, random_state)
            else:
                centers_init, _ = draw_rows(shard, self.n_clusters, random_state)
            if self.verbose and shard.comm.Get_rank() == 0:
                print("Initialization complete")
            run = lloyd(shard, centers_init, self.max_iter, self._tol, self.verbose)
            # a better run replaces the best unless it is the same clustering relabelled
            if best is None or (
                run.inertia < best.inertia
                and not same_clustering(run.labels, best.labels, self.n_clusters, shard.comm)
            ):
                best = run
        return best

    def _resolve_algorithm(self):
        self._algorithm = self.algorithm
        if self._algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. "
                "Using 'lloyd' instead.",
                RuntimeWarning,
            )
            self._algorithm = "lloyd"

    def _resolve_n_init(self):
        if self.n_init == "auto":
            if isinstance(self.init, str) and self.init == "random":
                self._n_init = 10
            else:
                self._n_init = 1
        else:
            self._n_init = self.n_init
        if not isinstance(self.init, str) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init "
                f"in {self.__class__.__name__} instead of n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1

    def _check_test_data(self, X):
        # local methods accept a rank with zero rows
        return validate_data(self, X, reset=False, ensure_min_samples=0, **ROWS_FORMAT)

    def predict(self, X):
        """Index of the closest cluster center for each of this rank's rows (local).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to assign; may have zero rows.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each row belongs to (the rule used for
            ``labels_``: first nearest center).
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        with one_blas_thread():
            return assign(X, centers, lloyd_block_rows(X.shape[1], centers.shape[0]))

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit (collective), then distances of this rank's rows to the centers (local).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distance of each of this rank's rows to each center.
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the global k-means objective on every rank's rows (collective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            This rank's rows; may have zero rows.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this rank's rows.

        Returns
        -------
        score : float
            Minus the weighted sum of squared distances of all ranks' rows to
            their closest center; the same value on every rank.
        """
        check_is_fitted(self)
        comm = get_comm()
        X, data = validate_spmd_data(
            self, X, reset=False, sample_weight=sample_weight, comm=comm, **ROWS_FORMAT
        )
        with agree_on_errors(comm), one_blas_thread():
            weights = data.sample_weight
            if weights is None:
                weights = np.ones(X.shape[0])
            centers = self.cluster_centers_.astype(X.dtype, copy=False)
            block = lloyd_block_rows(X.shape[1], centers.shape[0], X.dtype.itemsize)
            labels = assign(X, centers, block)
            dist = distances_to_assigned(X, centers, labels, block).astype(np.float64)
            local = np.array([dist @ weights, np.count_nonzero(weights)])
        total = allreduce(local, comm=comm)
        if total[1] == 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return -float(total[0])
