"""Shared pieces of the benchmarks: deterministic per-rank data and timing.

The global data set is defined independently of the number of ranks: rows are
generated in chunks of ``CHUNK`` rows, chunk ``c`` from
``numpy.random.default_rng([seed, c])``; a rank generates only the chunks that
overlap its block of rows. So 1 rank, 2 ranks and sklearn in one process see
exactly the same rows.
"""

import time

import numpy as np

CHUNK = 1 << 16


def block(n_rows, size, rank):
    """``(start, stop)`` of this rank's rows, like ``skspmd.io.partition``."""
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def rows(n_rows, n_cols, start, stop, seed=0, kind="normal"):
    """Rows ``[start, stop)`` of the global ``(n_rows, n_cols)`` data set.

    kind: ``"normal"`` (standard normal), ``"counts"`` (Poisson(1) counts as
    float64), ``"blobs"`` (10 well-separated Gaussian clusters), or
    ``"ill"`` (standard normal columns scaled from 1 down to 1e-6: condition
    number about 1e6, which sends LinearRegression to its TSQR route).
    """
    out = np.empty((stop - start, n_cols))
    first, last = start // CHUNK, (stop - 1) // CHUNK if stop > start else start // CHUNK - 1
    for c in range(first, last + 1):
        rng = np.random.default_rng([seed, c])
        c0 = c * CHUNK
        c1 = min(c0 + CHUNK, n_rows)
        if kind == "counts":
            chunk = rng.poisson(1.0, size=(c1 - c0, n_cols)).astype(np.float64)
        elif kind == "blobs":
            centers = np.random.default_rng([seed, 10**9]).uniform(-10, 10, (10, n_cols))
            labels = rng.integers(0, 10, size=c1 - c0)
            chunk = centers[labels] + rng.standard_normal((c1 - c0, n_cols))
        else:
            chunk = rng.standard_normal((c1 - c0, n_cols))
            if kind == "ill":
                chunk *= np.logspace(0, -6, n_cols)
        lo, hi = max(start, c0), min(stop, c1)
        out[lo - start : hi - start] = chunk[lo - c0 : hi - c0]
    return out


def targets(X, seed=0, n_targets=1):
    """A linear target with noise, computed row-wise (so it splits like X)."""
    w = np.random.default_rng([seed, 7]).standard_normal((X.shape[1], n_targets))
    noise = np.sin(np.arange(X.shape[0]) + X[:, 0])  # deterministic, row-local
    y = X @ w + 0.1 * noise[:, None] + 3.0
    return y[:, 0] if n_targets == 1 else y


def labels(X, n_classes=20):
    """Class labels computed row-wise from X."""
    return (np.abs(X[:, :5].sum(axis=1) * 7.3).astype(np.int64)) % n_classes


def timed(fn, repeat, barrier=None):
    """Wall-clock times of ``repeat`` calls of ``fn``, each after a barrier."""
    times = []
    for _ in range(repeat):
        if barrier is not None:
            barrier()
        t0 = time.perf_counter()
        fn()
        if barrier is not None:
            barrier()
        times.append(time.perf_counter() - t0)
    return times


class Algo:
    """One benchmarked fit: how to make its data and how each tool fits it."""

    def __init__(self, skspmd, sklearn, n, d, kind="normal", target=None, daal4py=None):
        self.skspmd = skspmd  # callable(X, y) running the collective fit
        self.sklearn = sklearn  # callable(X, y) running sklearn's fit in one process
        self.n, self.d = n, d  # default global size
        self.kind = kind  # data kind for rows()
        self.target = target  # None, "regression" or "classes"
        self.daal4py = daal4py  # algo name in _bench_daal4py.py, if the peer has it

    def data(self, n, d, start, stop):
        X = rows(n, d, start, stop, kind=self.kind)
        if self.target == "regression":
            return X, targets(X)
        if self.target == "classes":
            return X, labels(X)
        return X, None
