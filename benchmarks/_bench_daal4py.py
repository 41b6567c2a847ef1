"""Peer benchmark: time daal4py's SPMD (distributed) algorithms.

This script is run under a *separate* virtual environment holding daal4py and
Intel MPI, not under skspmd's own environment.  Setup (once)::

    python3 -m venv /work/d4p-venv
    /work/d4p-venv/bin/pip install scikit-learn-intelex==2025.11.0 impi-rt pandas mpi4py

(scikit-learn-intelex 2025.11.0 is the last release whose daal4py still has
``multinomial_naive_bayes_training``; the mpi4py wheel picks up Intel MPI's
``libmpi`` from the venv.)  Run it as::

    export PATH=/work/d4p-venv/bin:$PATH     # Intel's mpirun calls mpiexec.hydra by name
    timeout 300 mpirun -n P python benchmarks/_bench_daal4py.py \\
        --algo ALGO --n N --d D [--k K] [--repeat R] [--threads T]

ALGO is one of: moments, covariance, pca_cor, pca_svd, svd, qr, linreg, ridge,
kmeans, mnb, knn, dbscan. ``knn`` is scikit-learn-intelex's (CPU)
KNeighborsClassifier (k=5, brute force, fit + predict), meant for one process
(``mpirun -n 1 ... --threads 2``); ``dbscan`` is daal4py's distributed
``dbscan``. Both take their data from ``algos_neighbors.py`` (the same rows
skspmd and scikit-learn get there), not from the generator below.  Rank 0 prints one line of JSON::

    {"tool": "daal4py", "algo": ..., "ranks": P, "threads": T, "n": N, "d": D,
     "times": [...], "median": ...}

Each entry of "times" is the wall time in seconds of one distributed
``.compute()`` call (for kmeans: kmeans_init plus kmeans together), taken as
the maximum over ranks, with an MPI barrier before each timing.

``logreg_binary_lbfgs`` and ``logreg_multi_lbfgs`` are scikit-learn-intelex's
CPU ``LogisticRegression`` (one process: ``mpirun -n 1 ... --threads 2``) on
the rows of ``algos_classification.py``; their JSON also has ``"info"``
(iterations and loss evaluations).

Data
----
The global data set has N rows and is split over the P ranks like
``np.array_split``: rank r owns rows [start, stop).  Each rank generates only
its own rows, and the global data does not depend on P: rows are generated in
fixed chunks of CHUNK rows, chunk c coming from
``np.random.default_rng([SEED, c])``, so a rank builds the chunks overlapping
its row range and keeps the rows it owns.  Within a chunk, the numbers are
drawn in this order:

* moments, covariance, pca_*, svd, qr, kmeans: X = standard_normal((rows, D));
* linreg, ridge: X as above, then noise = standard_normal(rows);
  y = X @ w + 0.1 * noise, with w = default_rng(SEED + 1).standard_normal(D);
* mnb: X = poisson(1.0, (rows, D)) as float64, then
  y = integers(0, 20, rows), as float64 with shape (rows, 1).
"""

import argparse
import json
import time

import numpy as np

import daal4py

try:
    from mpi4py import MPI
except ImportError:  # fall back to daal4py-level synchronisation
    MPI = None

SEED = 0
CHUNK = 100_000
MNB_CLASSES = 20
ALGOS = ("moments", "covariance", "pca_cor", "pca_svd", "svd", "qr",
         "linreg", "ridge", "kmeans", "mnb", "knn", "dbscan")


def row_range(n, nranks, rank):
    """Rows [start, stop) of `rank` in an np.array_split-style partition."""
    base, extra = divmod(n, nranks)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def local_data(algo, n, d, start, stop):
    """This rank's rows [start, stop) of the global data: X, and y or None."""
    if algo.startswith("logreg"):  # the rows skspmd and scikit-learn get
        from algos_classification import ALGOS as LOGREG

        return LOGREG[algo].data(n, d, start, stop)
    rows = stop - start
    X = np.empty((rows, d))
    y = np.empty((rows, 1)) if algo in ("linreg", "ridge", "mnb") else None
    w = np.random.default_rng(SEED + 1).standard_normal(d)
    for c in range(start // CHUNK, (stop - 1) // CHUNK + 1 if rows else 0):
        c0, c1 = c * CHUNK, min((c + 1) * CHUNK, n)
        rng = np.random.default_rng([SEED, c])
        if algo == "mnb":
            Xc = rng.poisson(1.0, (c1 - c0, d)).astype(np.float64)
            yc = rng.integers(0, MNB_CLASSES, c1 - c0).astype(np.float64)
        else:
            Xc = rng.standard_normal((c1 - c0, d))
            if y is not None:
                yc = Xc @ w + 0.1 * rng.standard_normal(c1 - c0)
        lo, hi = max(start, c0), min(stop, c1)  # overlap with our rows
        X[lo - start:hi - start] = Xc[lo - c0:hi - c0]
        if y is not None:
            y[lo - start:hi - start, 0] = yc[lo - c0:hi - c0]
    return X, y


def neighbor_data(algo, n, d, start, stop):
    """The rows of the neighbour benchmarks, as algos_neighbors.py makes them."""
    import algos_neighbors

    if algo == "knn":
        return algos_neighbors.knn_data(n, d, start, stop)
    return algos_neighbors.dbscan_data(n, d, start, stop)


def run_once(algo, X, y, k):
    """One distributed computation; returns its result."""
    kw = dict(distributed=True)
    if algo == "knn":
        from sklearnex.neighbors import KNeighborsClassifier

        import algos_neighbors

        clf = KNeighborsClassifier(algos_neighbors.K, algorithm="brute")
        return clf.fit(X, y[0]).predict(y[1])
    if algo == "dbscan":
        import algos_neighbors

        params = algos_neighbors.DBSCAN_PARAMS
        return daal4py.dbscan(epsilon=params["eps"], minObservations=params["min_samples"],
                              **kw).compute(X)
    if algo == "moments":
        return daal4py.low_order_moments(**kw).compute(X)
    if algo == "covariance":
        return daal4py.covariance(**kw).compute(X)
    if algo == "pca_cor":
        return daal4py.pca(method="correlationDense", **kw).compute(X)
    if algo == "pca_svd":
        return daal4py.pca(method="svdDense", **kw).compute(X)
    if algo == "svd":
        return daal4py.svd(**kw).compute(X)
    if algo == "qr":
        return daal4py.qr(**kw).compute(X)
    if algo == "linreg":
        return daal4py.linear_regression_training(
            interceptFlag=True, **kw).compute(X, y)
    if algo == "ridge":
        return daal4py.ridge_regression_training(
            interceptFlag=True, **kw).compute(X, y)
    if algo == "kmeans":
        init = daal4py.kmeans_init(
            nClusters=k, method="plusPlusDense", **kw).compute(X)
        return daal4py.kmeans(nClusters=k, maxIterations=50,
                              accuracyThreshold=0, **kw).compute(
                                  X, init.centroids)
    if algo == "mnb":
        return daal4py.multinomial_naive_bayes_training(
            nClasses=MNB_CLASSES, **kw).compute(X, y)
    if algo.startswith("logreg"):
        return sklearnex_logreg(algo, X, y)
    raise ValueError(algo)


# scikit-learn-intelex's CPU LogisticRegression, in one process (mpirun -n 1,
# --threads 2), on algos_classification.py's data. Its CPU path replaces
# scikit-learn's _logistic_regression_path by daal4py's (oneDAL's loss and
# gradient under scipy's L-BFGS-B); scikit-learn-intelex 2025.11 predates the
# callback arguments scikit-learn 1.9 passes to that function, so they are
# dropped here (they carry no callbacks in these fits).
LOGREG_INFO = {}
ALGOS += ("logreg_binary_lbfgs", "logreg_multi_lbfgs")


def sklearnex_logreg(algo, X, y):
    import daal4py.sklearn.linear_model.logistic_path as path
    from sklearnex.linear_model import LogisticRegression

    from algos_classification import ALGOS as LOGREG

    original, loss_and_grad = path.logistic_regression_path, path._daal4py_loss_and_grad
    calls = [0]

    def without_callbacks(*args, callback_ctx=None, estimator=None, **kwargs):
        return original(*args, **kwargs)

    def counted(*args, **kwargs):
        calls[0] += 1
        return loss_and_grad(*args, **kwargs)

    path.logistic_regression_path, path._daal4py_loss_and_grad = without_callbacks, counted
    try:
        est = LogisticRegression(solver=LOGREG[algo].solver).fit(X, y)
    finally:
        path.logistic_regression_path, path._daal4py_loss_and_grad = original, loss_and_grad
    LOGREG_INFO.update(n_iter=int(np.max(est.n_iter_)), evaluations=calls[0], hessians=0)
    return est


def barrier():
    if MPI is not None:
        MPI.COMM_WORLD.Barrier()
    else:  # a tiny distributed computation synchronises all ranks
        daal4py.low_order_moments(distributed=True).compute(np.zeros((1, 1)))


def max_over_ranks(t):
    if MPI is not None:
        return MPI.COMM_WORLD.allreduce(t, op=MPI.MAX)
    return t  # without mpi4py: rank 0's own time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", required=True, choices=ALGOS)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--d", type=int, required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()

    daal4py.daalinit(a.threads)
    rank, nranks = daal4py.my_procid(), daal4py.num_procs()
    bounds = row_range(a.n, nranks, rank)
    if a.algo in ("knn", "dbscan"):
        X, y = neighbor_data(a.algo, a.n, a.d, *bounds)
    else:
        X, y = local_data(a.algo, a.n, a.d, *bounds)

    times = []
    for _ in range(a.repeat):
        barrier()
        t0 = time.perf_counter()
        run_once(a.algo, X, y, a.k)
        times.append(max_over_ranks(time.perf_counter() - t0))

    if rank == 0:
        print(json.dumps({"tool": "daal4py", "algo": a.algo, "ranks": nranks,
                          "threads": a.threads, "n": a.n, "d": a.d,
                          "info": LOGREG_INFO or None,
                          "times": times, "median": float(np.median(times))}),
              flush=True)
    daal4py.daalfini()


if __name__ == "__main__":
    main()
