"""What the runtime checks cost per collective: off (the default), and SKSPMD_TIMEOUT on.

Every skspmd collective goes through ``skspmd._comm._timed``; the runtime
checks (launcher mismatch, ``SKSPMD_TIMEOUT``) hook into it with one
``is None`` test when off. This times the smallest collective, an
``allreduce`` of one float64, per call (median of ``--repeat`` rounds of
``--calls`` calls, max over the ranks), in four variants side by side in one
process:

- ``no wrapper``: the collective alone (``allreduce.__wrapped__``);
- ``old wrapper``: the timing wrapper as it was before the runtime hook (rebuilt here);
- ``hook off``: today's wrapper, no check on (what every user runs);
- ``SKSPMD_TIMEOUT on``: the watchdog's handshake before the collective.

and one small fit (``SPMDBasicStatistics`` on ``--rows`` x 10) with the
watchdog off and on. Run it at one and two ranks::

    python benchmarks/runtime_overhead.py
    mpiexec -n 2 python benchmarks/runtime_overhead.py

"hook off" should equal "old wrapper" within the noise: the fast path costs
nothing measurable.
"""

import argparse
import functools
import statistics
import time

import numpy as np
from mpi4py import MPI

import skspmd
from skspmd import _comm, _runtime
from skspmd._watchdog import Watchdog


def old_timed(collective):
    """The ``_timed`` wrapper of skspmd._comm before the runtime hook was added."""

    @functools.wraps(collective)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return collective(*args, **kwargs)
        finally:
            _comm.COMM_STATS["seconds"] += time.perf_counter() - start
            _comm.COMM_STATS["calls"] += 1

    return wrapper


def per_call(variants, calls, repeat, comm):
    """Seconds per call of each ``(name, fn, watchdog seconds)``: median over rounds, max over ranks.

    The variants take turns within each round, in an order rotated every
    round, so drift on a busy machine affects them alike.
    """
    x = np.zeros(1)
    rounds = {name: [] for name, _, _ in variants}
    for round_ in range(repeat):
        shift = round_ % len(variants)  # rotate the order: no variant always goes first
        for name, fn, watchdog in variants[shift:] + variants[:shift]:
            set_watchdog(watchdog)
            comm.Barrier()
            start = time.perf_counter()
            for _ in range(calls):
                fn(x)
            rounds[name].append((time.perf_counter() - start) / calls)
    set_watchdog(None)
    return [
        (name, comm.allreduce(statistics.median(rounds[name]), op=MPI.MAX))
        for name, _, _ in variants
    ]


def set_watchdog(seconds):
    _runtime._STATE["watchdog"] = None if seconds is None else Watchdog(seconds)
    _runtime._install()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--rows", type=int, default=20_000)
    args = p.parse_args()
    comm = MPI.COMM_WORLD
    bare = _comm.allreduce.__wrapped__
    variants = [
        ("no wrapper", bare, None),
        ("old wrapper", old_timed(bare), None),
        ("hook off", _comm.allreduce, None),
        ("SKSPMD_TIMEOUT on", _comm.allreduce, 60.0),
    ]
    results = per_call(variants, args.calls, args.repeat, comm)

    X = np.random.default_rng(comm.Get_rank()).standard_normal((args.rows, 10))
    fits = {None: [], 60.0: []}
    for _ in range(args.repeat):
        for seconds in fits:
            set_watchdog(seconds)
            comm.Barrier()
            start = time.perf_counter()
            skspmd.SPMDBasicStatistics().fit(X)
            fits[seconds].append(time.perf_counter() - start)
    set_watchdog(None)
    fits = [comm.allreduce(statistics.median(t), op=MPI.MAX) for t in fits.values()]

    if comm.Get_rank() == 0:
        print(f"{comm.Get_size()} rank(s); allreduce of one float64, median of "
              f"{args.repeat} x {args.calls} calls, max over ranks")
        print("| variant | us per call | vs old wrapper |")
        print("|---|---:|---:|")
        old = dict(results)["old wrapper"]
        for name, seconds in results:
            print(f"| {name} | {seconds * 1e6:.3f} | {seconds / old:.3f} |")
        print(f"SPMDBasicStatistics().fit({args.rows} x 10 per rank): "
              f"watchdog off {fits[0] * 1e3:.2f} ms, on {fits[1] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
