"""Stream fits from a file bigger than memory: read rate, peak resident memory, equality.

    python benchmarks/stream.py --gb 6 --dir /scratch/skspmd-stream      # the full run
    python benchmarks/stream.py --gb 0.5 --dir /tmp/skspmd-stream --keep  # a quick check

Makes a ``.npy`` file of ``--gb`` GB of ``n x (d + 1)`` float64 rows (the last
column is the regression target) and a CSV file of about ``--gb`` GB holding its
first rows as exact text, both written in parallel by the ranks. The values are
multiples of 1/1024 (normal-like, quantised), so each is written exactly with 19
characters by vectorised integer arithmetic (``+000001.0009765625,``): a 6 GB CSV
file takes about as long to write as the ``.npy`` file. The free space of ``--dir``
is checked first. The files are deleted at the end unless ``--keep`` (which also
reuses files made by an earlier ``--keep`` run). Then, for each format, under
``mpiexec -n RANKS`` (1 BLAS thread per rank), one launch each:

- ``raw``: every rank reads its byte range of the file with plain reads (the
  machine's read rate for that file, in this run; the best of three launches);
- one launch per algorithm: ``for batch in skspmd.io.iter_rows(file, B):
  est.partial_fit(...)`` for StandardScaler, IncrementalPCA, LinearRegression
  and BasicStatistics, timed, with the peak resident memory of every rank
  (``VmHWM``; each launch is a fresh process) and the model compared with the
  in-memory one on the memory-mapped ``.npy`` (``fit`` on every row; for
  IncrementalPCA ``partial_fit`` on the same global batches).

Prints a markdown table: seconds (and, for a CSV file, the part spent before the
first batch: the counting pass that finds where each rank's rows start), stream
rate (file bytes / seconds), the raw read rate and the ratio, peak RSS per rank (MB
and % of the file), the part of it above the RSS after the imports, and the
largest relative difference from the in-memory model. Files in the page cache read
faster than from disk: the raw rate is measured in the same state as the streams
(right before them).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ALGOS = ("scaler", "ipca", "linreg", "basicstats")
# CSV text of a value k / 1024: sign, 6 integer digits, ".", 10 decimals, delimiter
INT_DIGITS, FRAC_DIGITS = 6, 10
VALUE_BYTES = 1 + INT_DIGITS + 1 + FRAC_DIGITS + 1


def _rss_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# ---------------------------------------------------------------------------
# Inside the MPI job
# ---------------------------------------------------------------------------


def _csv_rows(args):
    """Rows of the CSV file: about ``--gb`` GB of text."""
    return min(args.n, int(args.gb * 1e9 / (VALUE_BYTES * (args.d + 1))))


def _text(rows):
    """The CSV lines of ``rows`` (multiples of 1/1024) as bytes, exact, fixed width.

    Vectorised: the digits come from integer arithmetic on ``k = 1024 x``
    (``k mod 1024`` times 5**10 gives the 10 decimals of the fraction).
    """
    import numpy as np

    k = np.rint(rows * 1024).astype(np.int64)
    a = np.abs(k)
    if a.max(initial=0) >= 1024 * 10**INT_DIGITS:
        raise ValueError("a value too large for the fixed-width CSV text")
    chars = np.empty(k.shape + (VALUE_BYTES,), dtype=np.uint8)
    chars[..., 0] = np.where(k < 0, ord("-"), ord("+"))
    for value, first, width in (
        (a >> 10, 1, INT_DIGITS),
        ((a & 1023) * 5**10, 2 + INT_DIGITS, FRAC_DIGITS),
    ):
        for j in range(width - 1, -1, -1):
            chars[..., first + j] = ord("0") + value % 10
            value = value // 10
    chars[..., 1 + INT_DIGITS] = ord(".")
    chars[..., -1] = ord(",")
    chars[:, -1, -1] = ord("\n")
    return chars.tobytes()


def _make(args, comm):
    """Write the .npy and the CSV file in parallel (CSV rows of fixed byte width).

    The CSV file holds the first rows of the .npy file, as exact text.
    """
    import numpy as np

    from skspmd.io import partition

    n, d, width = args.n, args.d + 1, VALUE_BYTES * (args.d + 1)
    n_csv = _csv_rows(args)
    npy, csv = _paths(args)
    if comm.Get_rank() == 0:
        np.lib.format.open_memmap(npy, mode="w+", dtype=np.float64, shape=(n, d)).flush()
        with open(csv, "wb") as f:
            f.truncate(n_csv * width)
    comm.Barrier()
    X = np.load(npy, mmap_mode="r+")
    start, stop = partition(n, comm)
    fd = os.open(csv, os.O_WRONLY)
    w = np.random.default_rng(12345).standard_normal(d - 1)
    step = 1 << 16
    for a in range(start, stop, step):
        b = min(a + step, stop)
        rows = np.random.default_rng([7, a]).standard_normal((b - a, d))
        rows[:, -1] = rows[:, :-1] @ w + 0.1 * rows[:, -1] + 3.0
        rows = np.rint(rows * 1024) / 1024  # exact in binary and in short decimal text
        X[a:b] = rows
        if a < n_csv:
            os.pwrite(fd, _text(rows[: n_csv - a]), a * width)
    os.close(fd)
    X.flush()
    del X
    comm.Barrier()


def _paths(args):
    stem = os.path.join(args.dir, f"stream-{args.n}x{args.d + 1}")
    return stem + ".npy", stem + f"-first{_csv_rows(args)}.csv"


def _raw(path, comm):
    """Seconds for every rank to read its byte range with plain reads."""
    size, rank = comm.Get_size(), comm.Get_rank()
    total = os.path.getsize(path)
    lo, hi = total * rank // size, total * (rank + 1) // size
    buf = bytearray(1 << 24)
    comm.Barrier()
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        f.seek(lo)
        left = hi - lo
        while left > 0:
            got = f.readinto(memoryview(buf)[: min(len(buf), left)])
            if not got:
                break
            left -= got
    comm.Barrier()
    return time.perf_counter() - t0


def _estimator(algo):
    import skspmd

    return {
        "scaler": lambda: skspmd.SPMDStandardScaler(),
        "ipca": lambda: skspmd.SPMDIncrementalPCA(n_components=10),
        "linreg": lambda: skspmd.SPMDLinearRegression(),
        "basicstats": lambda: skspmd.SPMDBasicStatistics(),
    }[algo]()


def _feed(est, algo, batch):
    if algo == "linreg":
        est.partial_fit(batch[:, :-1], batch[:, -1])
    else:
        est.partial_fit(batch[:, :-1])


def _reference(args, algo, fmt, comm):
    """The in-memory model: on the memory-mapped .npy, every row (or the same batches).

    For the CSV file, on the same rows of the .npy file (its first rows).
    """
    import numpy as np

    from skspmd.io import partition

    n = args.n if fmt == "npy" else _csv_rows(args)
    start, stop = partition(n, comm)
    X = np.load(_paths(args)[0], mmap_mode="r")[start:stop]
    est = _estimator(algo)
    if algo == "ipca":
        for i in range(0, max(comm.allgather(X.shape[0])), args.batch_rows):
            _feed(est, algo, X[i : i + args.batch_rows])
    elif algo == "linreg":
        est.fit(X[:, :-1], X[:, -1])
    else:
        est.fit(X[:, :-1])
    return est


def _difference(ours, ref):
    import numpy as np

    worst = 0.0
    for name, value in vars(ref).items():
        if name.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            got = np.asarray(getattr(ours, name), dtype=float)
            scale = max(np.abs(value).max(), 1e-300)
            worst = max(worst, float(np.abs(got - value).max() / scale))
    return worst


def _stream(args, algo, fmt, comm):
    from skspmd import io

    path = _paths(args)[0 if fmt == "npy" else 1]
    baseline = _rss_mb("VmRSS")
    est = _estimator(algo)
    comm.Barrier()
    t0 = time.perf_counter()
    batches = io.iter_rows(path, args.batch_rows)
    setup = time.perf_counter() - t0
    for batch in batches:
        _feed(est, algo, batch)
    comm.Barrier()
    seconds = time.perf_counter() - t0
    setup = max(comm.allgather(setup))
    peak = comm.gather(_rss_mb("VmHWM"), root=0)
    base = comm.gather(baseline, root=0)
    diff = _difference(est, _reference(args, algo, fmt, comm)) if args.check else None
    return {
        "seconds": seconds,
        "setup_seconds": setup,
        "peak_rss_mb": peak,
        "baseline_rss_mb": base,
        "rel_diff": diff,
    }


def worker(args):
    from mpi4py import MPI
    from threadpoolctl import threadpool_limits

    comm = MPI.COMM_WORLD
    threadpool_limits(1)
    if args.task == "make":
        _make(args, comm)
        out = {}
    elif args.task == "raw":
        path = _paths(args)[0 if args.fmt == "npy" else 1]
        out = {"seconds": max(comm.allgather(_raw(path, comm)))}
    else:
        out = _stream(args, args.task, args.fmt, comm)
    if comm.Get_rank() == 0:
        print(json.dumps(out))


# ---------------------------------------------------------------------------
# The launcher
# ---------------------------------------------------------------------------


def _launch(args, task, fmt="npy"):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    cmd = [
        mpiexec,
        "-n",
        str(args.ranks),
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        task,
        "--fmt",
        fmt,
        "--n",
        str(args.n),
        "--gb",
        str(args.gb),
        "--d",
        str(args.d),
        "--dir",
        args.dir,
        "--batch-rows",
        str(args.batch_rows),
    ]
    cmd += [] if args.check else ["--no-check"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "HYDRA_"))}
    env.update(
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", SKSPMD_NUM_THREADS="1"
    )
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{task} {fmt} failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=6.0, help="size of the .npy file (GB)")
    parser.add_argument("--d", type=int, default=99, help="features (plus one target column)")
    parser.add_argument("--dir", default="/tmp/skspmd-stream")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=20000)
    parser.add_argument("--fmt", nargs="*", default=["npy", "csv"])
    parser.add_argument("--algo", nargs="*", default=list(ALGOS))
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip the comparison with the in-memory model",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the files at the end, and reuse files kept by an earlier run",
    )
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.task, args.fmt = args.worker, args.fmt[0]
        return worker(args)
    args.n = args.n or int(args.gb * 1e9 / (8 * (args.d + 1)))
    os.makedirs(args.dir, exist_ok=True)
    npy, csv = _paths(args)
    try:
        _run(args, npy, csv)
    finally:
        if not args.keep:
            for path in (npy, csv):
                if os.path.exists(path):
                    os.remove(path)


def _check_space(args, npy, csv):
    """Raise when ``--dir`` cannot hold the files (with 1 GB to spare)."""
    need = 8 * args.n * (args.d + 1) + VALUE_BYTES * (args.d + 1) * _csv_rows(args)
    need -= sum(os.path.getsize(p) for p in (npy, csv) if os.path.exists(p))
    free = shutil.disk_usage(args.dir).free
    if need + 1e9 > free:
        raise SystemExit(
            f"{args.dir} has {free / 1e9:.1f} GB free; the files need {need / 1e9:.1f} GB "
            "(and 1 GB to spare): choose another --dir or a smaller --gb"
        )


def _run(args, npy, csv):
    if not (args.keep and os.path.exists(npy) and os.path.exists(csv)):
        _check_space(args, npy, csv)
        t0 = time.perf_counter()
        _launch(args, "make")
        print(f"wrote {npy} and {csv} in {time.perf_counter() - t0:.0f} s")
    print(
        f"\n{args.n} rows (.npy), {_csv_rows(args)} rows (CSV) x {args.d + 1} columns, "
        f"{args.ranks} ranks, "
        f"batches of {args.batch_rows} rows per rank\n"
    )
    print(
        "| format | fit | seconds (counting pass) | stream GB/s | raw read GB/s | stream / raw "
        "| peak RSS per rank MB (% of file) | peak - baseline MB | max rel. diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt in args.fmt:
        path = npy if fmt == "npy" else csv
        gb = os.path.getsize(path) / 1e9
        # the best of three launches: one launch on a busy machine can be far off
        raw = max(gb / _launch(args, "raw", fmt)["seconds"] for _ in range(3))
        for algo in args.algo:
            res = _launch(args, algo, fmt)
            rate = gb / res["seconds"]
            peak = max(res["peak_rss_mb"])
            diff = "-" if res["rel_diff"] is None else f"{res['rel_diff']:.1e}"
            seconds = f"{res['seconds']:.1f}"
            if fmt == "csv":
                seconds += f" ({res['setup_seconds']:.1f})"
            print(
                f"| {fmt} ({gb:.2f} GB) | {algo} | {seconds} | {rate:.3f} | "
                f"{raw:.3f} | {rate / raw:.0%} | {peak:.0f} ({peak / (gb * 1e3):.1%}) | "
                f"{peak - max(res['baseline_rss_mb']):.0f} | {diff} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
