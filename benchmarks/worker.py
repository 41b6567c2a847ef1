"""Time one algorithm's fit in this process (or this MPI job); rank 0 prints one JSON line.

    mpiexec -n 2 python benchmarks/worker.py --algo pca_eigh --impl skspmd
    python benchmarks/worker.py --algo pca_eigh --impl sklearn

Algorithms are collected from the ``ALGOS`` dicts of ``benchmarks/algos_*.py``.
"""

import argparse
import glob
import importlib
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def registry():
    algos = {}
    for path in sorted(glob.glob(os.path.join(HERE, "algos_*.py"))):
        module = importlib.import_module(os.path.basename(path)[:-3])
        algos.update(module.ALGOS)
    return algos


def peak_extra_memory(fit, X, y):
    """Peak memory one fit allocates beyond its input, as a fraction of this rank's ``X``.

    Measured with ``tracemalloc`` (NumPy reports its array buffers to it) in
    one more, untimed fit, so the tracing costs no timed run anything.
    """
    import tracemalloc

    tracemalloc.start()
    try:
        fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / max(X.nbytes, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algo", required=True)
    parser.add_argument("--impl", choices=["skspmd", "sklearn"], required=True)
    parser.add_argument("--n", type=int)
    parser.add_argument("--d", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from _common import block

    algo = registry()[args.algo]
    n, d = args.n or algo.n, args.d or algo.d
    if args.impl == "skspmd":
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        start, stop = block(n, comm.Get_size(), comm.Get_rank())
        X, y = algo.data(n, d, start, stop)
        fit, barrier, ranks, rank = algo.skspmd, comm.Barrier, comm.Get_size(), comm.Get_rank()
    else:
        X, y = algo.data(n, d, 0, n)
        fit, barrier, ranks, rank = algo.sklearn, None, 1, 0
    from threadpoolctl import threadpool_info

    from _common import timed

    fit(X, y)  # warm-up (imports, first-touch, thread pools)
    comm_seconds, ring_seconds = [], []
    if args.impl == "skspmd":
        from skspmd._comm import COMM_STATS, RING_STATS

        def fit_measuring_comm():
            before, ring_before = COMM_STATS["seconds"], RING_STATS["seconds"]
            fit(X, y)
            comm_seconds.append(COMM_STATS["seconds"] - before)
            ring_seconds.append(RING_STATS["seconds"] - ring_before)

        times = timed(fit_measuring_comm, args.repeat, barrier)
        # the slowest rank's share: communication including waiting for others
        comm_seconds = [comm.allreduce(c, op=MPI.MAX) for c in comm_seconds]
        # waiting for row blocks passed around the ranks (neighbour searches)
        ring_seconds = [comm.allreduce(c, op=MPI.MAX) for c in ring_seconds]
    else:
        times = timed(lambda: fit(X, y), args.repeat, barrier)
    extra = peak_extra_memory(fit, X, y)
    if args.impl == "skspmd":  # the rank with the largest share
        extra = comm.allreduce(extra, op=MPI.MAX)
    if rank == 0:
        threads = max(
            [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
            or [1]
        )
        print(
            json.dumps(
                {
                    "tool": args.impl,
                    "algo": args.algo,
                    "ranks": ranks,
                    "threads": threads,
                    "n": n,
                    "d": d,
                    "info": algo.info() if hasattr(algo, "info") else None,
                    "times": times,
                    "median": statistics.median(times),
                    "min": min(times),
                    "max": max(times),
                    "peak_extra": extra,
                    "comm_median": statistics.median(comm_seconds) if comm_seconds else None,
                    "ring_median": statistics.median(ring_seconds) if ring_seconds else None,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
