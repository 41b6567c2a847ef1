"""What the SPMD neighbour estimators share: ``fit`` keeps this rank's rows,
the queries are collective.

For these estimators the fitted model is the training data itself, and it
stays distributed: after ``fit`` each rank holds its own rows (and, for the
supervised estimators, their targets), plus the replicated facts every rank
needs to take part in a search (rows per rank, the metric and search that
run, the classes). The query methods (``kneighbors``, ``radius_neighbors``,
their graphs, ``predict``, ``predict_proba``, ``score``) are therefore
collective: every rank calls them, with its own query rows (possibly none),
and the training blocks travel between the ranks (see ``_search``). This is
the one documented exception to skspmd's "local predict" rule.
"""

import numbers

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.utils.validation import check_is_fitted, validate_data

from .._comm import agree_on_errors, get_comm
from .._validation import validate_spmd_data
from ._search import SearchRows, effective_metric, join_pieces, resolve_method

__all__ = ["SPMDNeighborsMixin", "as_columns", "neighbor_weights"]


def as_columns(a):
    """A 1-D array as one column (2-D arrays unchanged), also with zero rows."""
    a = np.asarray(a)
    return a[:, np.newaxis] if a.ndim == 1 else a


def neighbor_weights(dist, weights):
    """Vote weights of the neighbours, as scikit-learn weighs them (None for uniform).

    ``'distance'``: ``1 / distance``, except that a query row with neighbours
    at distance zero gives those weight 1 and the others 0. A callable is
    applied to the distance array; a row whose weights are all zero raises.
    """
    if weights is None or (isinstance(weights, str) and weights == "uniform"):
        return None
    if isinstance(weights, str) and weights == "distance":
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        at_zero = np.isinf(w)
        rows = at_zero.any(axis=1)
        w[rows] = at_zero[rows]
        return w
    w = np.asarray(weights(dist))
    if w.shape[0] and (w == 0).all(axis=1).any():
        raise ValueError(
            "All neighbors of some sample is getting zero weights. Please modify "
            "'weights' to avoid this case if you are using a user-defined function."
        )
    return w


def _drop_self(self_ids, ind, *others):
    """Remove each training row from its own neighbour list (k + 1 -> k columns).

    As scikit-learn does: the row's own index is removed; when it is not
    among the k + 1 (more than k exact duplicates), the first column is.
    """
    keep = ind != self_ids[:, None]
    absent = keep.all(axis=1)
    keep[absent, 0] = False
    n, k = ind.shape[0], ind.shape[1] - 1
    return tuple(a[keep].reshape((n, k) + a.shape[2:]) for a in (ind, *others))


def _object_rows(flat, indptr, dtype):
    out = np.empty(len(indptr) - 1, dtype=object)
    for i in range(len(out)):
        out[i] = flat[indptr[i] : indptr[i + 1]].astype(dtype, copy=False)
    return out


def _csr(data, ind, indptr, shape):
    """A CSR graph in the sparse interface scikit-learn is configured for."""
    interface = sklearn.get_config().get("sparse_interface", "spmatrix")
    container = sp.csr_array if interface == "sparray" else sp.csr_matrix
    return container((data, ind, indptr), shape=shape)


class SPMDNeighborsMixin:
    """Collective fit that keeps the rows, and the collective neighbour queries.

    Put it first among the bases, before the scikit-learn estimator.
    """

    # the fitted model is the distributed training data: queries are collective
    # and need the communicator of fit (a pickled model holds one rank's rows)
    _skspmd_collective_queries = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # dense rows only travel between the ranks
        return tags

    def _fit_rows(self, X, y="no_validation"):
        """Validate, agree and keep this rank's rows (collective)."""
        comm = get_comm()
        params = dict(dtype=[np.float64, np.float32], order="C", min_samples=1, comm=comm)
        if isinstance(y, str) and y == "no_validation":
            X, data = validate_spmd_data(self, X, **params)
        else:
            X, y, data = validate_spmd_data(self, X, y, multi_output=True, **params)
        with agree_on_errors(comm):
            self._check_algorithm_metric()
            metric = effective_metric(self.metric, self.p, self.metric_params)
        targets = None if isinstance(y, str) else self._fit_targets(y, comm)
        self.effective_metric_ = metric
        self.effective_metric_params_ = {}
        self.n_samples_fit_ = data.n_samples
        self._fit_X = X
        self._fit_method = resolve_method(
            self.algorithm, metric, X.shape[1], data.n_samples, self.n_neighbors
        )
        self._tree = None
        self._counts = data.counts
        if targets is not None:
            self._y = targets
        return self

    def _fit_targets(self, y, comm):  # pragma: no cover - supervised subclasses
        """This rank's targets as they travel with its rows (collective; may agree on classes)."""
        raise NotImplementedError

    # -- the searches ---------------------------------------------------------

    def _searcher(self, comm):
        if comm.Get_size() != len(self._counts):
            raise ValueError(
                f"{type(self).__name__} was fitted on {len(self._counts)} rank(s) and is "
                f"queried on {comm.Get_size()}: the queries need the communicator of fit"
            )
        return SearchRows(
            self._fit_X,
            self._counts,
            self.effective_metric_,
            self._fit_method,
            self.leaf_size,
            comm,
        )

    def _self_ids(self, comm):
        """Global indices of this rank's training rows."""
        start = int(self._counts[: comm.Get_rank()].sum())
        return np.arange(start, start + self._fit_X.shape[0])

    def _query_rows(self, X):
        """This rank's validated query rows in the training dtype (its training rows for None)."""
        if X is None:
            return self._fit_X
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], order="C", ensure_min_samples=0
        )
        return np.ascontiguousarray(X, dtype=self._fit_X.dtype)

    def _check_k(self, n_neighbors, query_is_train):
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if not isinstance(k, numbers.Integral) or isinstance(k, bool):
            raise TypeError(f"n_neighbors does not take {type(k)} value, enter integer value")
        if k <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {k}")
        if k + query_is_train > self.n_samples_fit_:
            relation = "<" if query_is_train else "<="
            raise ValueError(
                f"Expected n_neighbors {relation} n_samples_fit, but n_neighbors = {k}, "
                f"n_samples_fit = {self.n_samples_fit_} (over all ranks)"
            )
        return int(k)

    def _kneighbors(self, X, n_neighbors, with_targets=False):
        """Collective k-nearest search: ``(distances, global indices, neighbour targets)``.

        With ``with_targets``, the training targets (``_y``, as columns) travel
        with the blocks and the third result holds them per query and neighbour.
        """
        comm = get_comm()
        with agree_on_errors(comm):
            check_is_fitted(self)
            k = self._check_k(n_neighbors, X is None)
            queries = self._query_rows(X)
            targets = as_columns(self._y) if with_targets else None
        search = self._searcher(comm)
        dist, ind, found = search.kneighbors(queries, k + (X is None), targets)
        if X is not None:
            return dist, ind, found
        extra = () if found is None else (found,)
        ind, dist, *rest = _drop_self(self._self_ids(comm), ind, dist, *extra)
        return dist, ind, (rest[0] if rest else None)

    def _radius_csr(self, X, radius, return_distance, sort_results):
        """Collective radius search: CSR ``(indptr, global indices, distances)``."""
        comm = get_comm()
        with agree_on_errors(comm):
            check_is_fitted(self)
            if sort_results and not return_distance:
                raise ValueError("return_distance must be True if sort_results is True.")
            queries = self._query_rows(X)
            radius = self.radius if radius is None else radius
        search = self._searcher(comm)
        pieces = search.radius(queries, radius, return_distance)
        indptr, ind, dist = join_pieces(pieces, search.offsets, sort_results)
        if X is None:
            own = np.repeat(self._self_ids(comm), np.diff(indptr))
            keep = ind != own
            ind, dist = ind[keep], (dist[keep] if len(dist) else dist)
            rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            kept = np.bincount(rows[keep], minlength=len(indptr) - 1)
            indptr = np.concatenate(([0], np.cumsum(kept))).astype(np.int64)
        return indptr, ind, dist

    # -- the public query methods -------------------------------------------

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest training rows of every rank (collective).

        Every rank calls it, with its own query rows (possibly none).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            This rank's query rows. None: this rank's training rows, each
            not counted as its own neighbour.
        n_neighbors : int, default=None
            Neighbours per query row (default: ``self.n_neighbors``).
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances, sorted increasingly per row; only with ``return_distance``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Global indices of the neighbours: positions in the concatenation
            of every rank's training rows in rank order. Among equal
            distances the smaller index comes first.
        """
        dist, ind, _ = self._kneighbors(X, n_neighbors)
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the training rows of every rank within ``radius`` (collective).

        Every rank calls it, with its own query rows (possibly none).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            This rank's query rows. None: this rank's training rows, each
            not counted as its own neighbour.
        radius : float, default=None
            Limiting distance (default: ``self.radius``); rows at exactly
            this distance are included.
        return_distance : bool, default=True
            Whether to return the distances.
        sort_results : bool, default=False
            Sort each row's neighbours by distance (then index); otherwise they
            are in global index order. Needs ``return_distance=True``.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,) of arrays
            Distances per query row; only with ``return_distance``.
        neigh_ind : ndarray of shape (n_queries,) of arrays
            Global indices of the neighbours per query row.
        """
        indptr, ind, dist = self._radius_csr(X, radius, return_distance, sort_results)
        neigh_ind = _object_rows(ind, indptr, np.intp)
        if not return_distance:
            return neigh_ind
        return _object_rows(dist, indptr, np.float64), neigh_ind

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Graph of the training rows of every rank within ``radius`` (collective).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            This rank's query rows (None: its training rows, without self-edges).
        radius : float, default=None
            Limiting distance (default: ``self.radius``).
        mode : {'connectivity', 'distance'}, default='connectivity'
            Ones, or the distances, as edge values.
        sort_results : bool, default=False
            With ``mode='distance'``, sort each row's entries by distance.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR; row i holds query row i's neighbours at their global indices.
        """
        with agree_on_errors(get_comm()):
            if mode not in ("connectivity", "distance"):
                raise ValueError(
                    'Unsupported mode, must be one of "connectivity", '
                    f'or "distance" but got "{mode}" instead'
                )
        distance = mode == "distance"
        indptr, ind, dist = self._radius_csr(X, radius, distance, sort_results and distance)
        data = dist if distance else np.ones(len(ind))
        return _csr(data, ind, indptr, (len(indptr) - 1, self.n_samples_fit_))
