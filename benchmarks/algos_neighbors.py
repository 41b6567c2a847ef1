"""Benchmarked neighbour searches (issue: SPMDKNeighborsClassifier, SPMDDBSCAN).

- ``knn``: k=5 nearest-neighbour classification, brute force, of ``n // 10``
  query rows (50,000 for the default 500,000 x 50 training rows) against the
  training rows, ``fit`` plus ``predict``. The training rows are 10 Gaussian
  blobs in d dimensions with 20 classes computed row-wise; the query rows are
  drawn the same way (another seed) and split over the ranks like the training
  rows. The peer is scikit-learn-intelex's (CPU) KNeighborsClassifier in one
  process with 2 threads (``_bench_daal4py.py --algo knn``).
- ``dbscan``: DBSCAN (``eps=2``, ``min_samples=10``, ``algorithm='auto'``, which
  is a KD tree at d=10 in both skspmd and scikit-learn) of 100,000 x 10 rows of
  the same blobs; the peer is daal4py's distributed ``dbscan`` on 2 ranks
  (brute force). ``dbscan_brute``: the same with ``algorithm='brute'``.

Each rank's JSON line from ``worker.py`` includes ``ring_median``: the seconds
a query spent waiting for training blocks to arrive (the part of moving the
blocks not hidden behind the search; the slowest rank), and ``comm_median``,
all communication including it.

The data helpers import only NumPy, so the daal4py environment uses them too.
"""

from _common import Algo, labels, rows

K = 5
DBSCAN_PARAMS = {"eps": 2.0, "min_samples": 10}


def knn_data(n, d, start, stop, n_queries=None):
    """This rank's training rows, their labels and its block of the query rows."""
    X = rows(n, d, start, stop, kind="blobs")
    n_queries = n // 10 if n_queries is None else n_queries
    q_start, q_stop = start * n_queries // n, stop * n_queries // n
    Q = rows(n_queries, d, q_start, q_stop, seed=1, kind="blobs")
    return X, (labels(X), Q)


def dbscan_data(n, d, start, stop):
    return rows(n, d, start, stop, kind="blobs"), None


class _KnnAlgo(Algo):
    peer = (1, 2)  # scikit-learn-intelex: one process, 2 threads

    def data(self, n, d, start, stop):
        return knn_data(n, d, start, stop)


class _DbscanAlgo(Algo):
    peer = (2, 1)  # daal4py distributed: 2 ranks x 1 thread

    def data(self, n, d, start, stop):
        return dbscan_data(n, d, start, stop)


def _skspmd_knn(X, y):
    from skspmd import SPMDKNeighborsClassifier

    SPMDKNeighborsClassifier(K, algorithm="brute").fit(X, y[0]).predict(y[1])


def _sklearn_knn(X, y):
    from sklearn.neighbors import KNeighborsClassifier

    KNeighborsClassifier(K, algorithm="brute").fit(X, y[0]).predict(y[1])


def _dbscan(module, algorithm):
    def fit(X, y):
        import importlib

        cls = importlib.import_module(module)
        estimator = cls.SPMDDBSCAN if module == "skspmd" else cls.DBSCAN
        estimator(algorithm=algorithm, **DBSCAN_PARAMS).fit(X)

    return fit


ALGOS = {
    "knn": _KnnAlgo(_skspmd_knn, _sklearn_knn, 500_000, 50, daal4py="knn"),
    "dbscan": _DbscanAlgo(
        _dbscan("skspmd", "auto"), _dbscan("sklearn.cluster", "auto"), 100_000, 10,
        daal4py="dbscan",
    ),
    "dbscan_brute": _DbscanAlgo(
        _dbscan("skspmd", "brute"), _dbscan("sklearn.cluster", "brute"), 100_000, 10,
        daal4py="dbscan",
    ),
}

