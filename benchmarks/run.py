"""Run the benchmarks and print a table: skspmd at 1 and 2 ranks vs sklearn vs daal4py.

    python benchmarks/run.py                       # every algorithm, default sizes
    python benchmarks/run.py --algo moments covariance --n 500000
    python benchmarks/run.py --daal4py-python /path/to/venv/bin/python --bind --busy
    python benchmarks/run.py --algo moments multinomial_nb --daal4py-python ... --rounds 5

skspmd runs under this environment's ``mpiexec`` with 1 BLAS thread per rank
(unbound, and with ``--bind`` also bound one rank per core, as Intel MPI binds
daal4py's ranks by default); sklearn runs in one process with 1 and with 2 BLAS
threads; daal4py (optional) runs ``_bench_daal4py.py`` under the ``mpirun``
beside the given interpreter with 2 ranks x 1 thread (or the algo's
``peer = (ranks, threads)``: the logistic regression and kNN peers are
scikit-learn-intelex in one process with 2 threads). Each cell is the median
of ``--repeat`` timed fits after one warm-up, with [min-max]; with
``--rounds K`` every tool runs K times in turn (the order reversed every other
round) and the cell pools the timed fits of its K runs, so a drift of a shared
machine's memory bandwidth over the minutes of a run (seen here: the same fit
28 ms, then 44 ms a minute later) hits every tool alike. Ratios are other
time / skspmd time (higher is better for skspmd).

The header says what the machine is (CPU, BLAS kernel, load average) and what
it can do, measured in the same run: dgemm GFLOP/s on one core and the read
bandwidth of one core and of all cores. Each fit's "% of bound" is its lower
bound time (bytes read / all-core bandwidth, or useful flops / (ranks x
dgemm rate), whichever is larger) over its median time; "peak extra" is the
memory one fit allocates beyond its input, per rank, as a fraction of that
rank's data (tracemalloc).

``--busy`` runs one busy process per core beside every measurement (each ends
by itself after ``--timeout`` seconds at most). On machines where the
environment sets ``OPENBLAS_CORETYPE`` (to work around old OpenBLAS builds), the
children run without it and ``OPENBLAS_L2_SIZE`` unless ``--keep-openblas-env``,
so NumPy's OpenBLAS picks the kernel for this CPU as it would on a user's
machine; the header shows the kernel in use.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


import contextlib
import statistics
import time

from _machine import describe, gemm_gflops, read_bandwidth

# Useful floating-point operations of the BLAS-bound fits (n rows, d features):
# the Gram matrix X^T X costs n d^2, a Householder/TSQR QR about 2 n d^2, a
# Lloyd iteration 2 n d k (k = 10, 50 iterations).
FLOPS = {
    "kmeans": lambda n, d: 50 * 2 * n * d * 10,
    "covariance": lambda n, d: n * d * d,
    "pca_eigh": lambda n, d: n * d * d,
    "ridge": lambda n, d: n * (d + 1) ** 2,
    "qr": lambda n, d: 2 * n * d * d,
    "svd": lambda n, d: 2 * n * d * d,
    "pca_full": lambda n, d: 2 * n * d * d,
    "linear_regression": lambda n, d: n * (d + 1) ** 2,  # Gram route (well-conditioned data)
    "linear_regression_ill": lambda n, d: 3 * n * (d + 1) ** 2,  # Gram, then TSQR
    "ridge_svd": lambda n, d: 2 * n * (d + 1) ** 2,
    "gram_pass": lambda n, d: n * (d + 1) ** 2,
    "lasso": lambda n, d: n * (d + 1) ** 2,  # the Gram pass; the descent is model-sized
    "elastic_net": lambda n, d: n * (d + 1) ** 2,
    "lasso_cv": lambda n, d: n * (d + 1) ** 2,
    "ridge_cv": lambda n, d: 3 * n * (d + 1) ** 2,  # Gram pass, then one GEMM with V
    "knn": lambda n, d: 2 * (n // 10) * n * d,  # the distance GEMM of n / 10 queries
    "dbscan_brute": lambda n, d: 2 * n * n * d,  # every pair's distance GEMM
}

# Passes over the input of the fits that read it more than once (default 1).
PASSES = {"kmeans": 52, "linear_regression_ill": 3, "pca_full": 2, "svd": 2, "qr": 2}

KEEP_OPENBLAS_ENV = False


def _env(threads):
    drop = ("PMI_", "HYDRA_") + (() if KEEP_OPENBLAS_ENV else ("OPENBLAS_CORETYPE", "OPENBLAS_L2"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["SKSPMD_NUM_THREADS"] = str(threads)
    return env


@contextlib.contextmanager
def busy_cores(enabled, seconds):
    """One spinning process per core while the block runs (each stops by itself)."""
    procs = []
    if enabled:
        code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"
        procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count())]
        time.sleep(0.5)
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _run(cmd, env, timeout, busy=False):
    try:
        with busy_cores(busy, timeout):
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return None, (out.stderr or out.stdout)[-500:]
    return json.loads(lines[-1]), ""


def main():
    from worker import registry

    algos = registry()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algo", nargs="*", default=list(algos))
    parser.add_argument("--n", type=int)
    parser.add_argument("--d", type=int)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every tool this many times, in turn, and pool the timed fits")
    parser.add_argument("--ranks", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--daal4py-python", help="python of an environment with daal4py")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--plot", help="also write a strong-scaling plot (PNG) to this file")
    parser.add_argument("--bind", action="store_true",
                        help="also run skspmd at the largest rank count bound to cores")
    parser.add_argument("--busy", action="store_true",
                        help="run one busy process per core beside every measurement")
    parser.add_argument("--skip-sklearn", action="store_true",
                        help="leave out the sklearn columns (e.g. for a --busy comparison with daal4py)")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for the children")
    args = parser.parse_args()
    global KEEP_OPENBLAS_ENV
    KEEP_OPENBLAS_ENV = args.keep_openblas_env
    print(describe(_env(1)))
    gemm = gemm_gflops(_env(1))
    bw1, bw_all = read_bandwidth(_env(1)), read_bandwidth(_env(1), ranks=max(args.ranks))
    print(
        f"dgemm 1 core: {_fmt(gemm, 1)} GFLOP/s; read bandwidth 1 core: {_fmt(bw1, 1)} GB/s, "
        f"{max(args.ranks)} cores: {_fmt(bw_all, 1)} GB/s"
        + ("; one busy process per core beside every run" if args.busy else ""),
        flush=True,
    )
    machine = {"gemm_gflops": gemm, "bw_1": bw1, "bw_all": bw_all}

    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    worker = os.path.join(HERE, "worker.py")
    results = []
    for name in args.algo:
        algo = algos[name]
        size = []
        if args.n:
            size += ["--n", str(args.n)]
        if args.d:
            size += ["--d", str(args.d)]
        common = ["--algo", name, "--repeat", str(args.repeat)] + size
        jobs = []  # (key, label, cmd, env) of every tool's run
        runs = [(p, []) for p in args.ranks]
        if args.bind:
            runs.append((max(args.ranks), ["-bind-to", "core"]))
        for p, flags in runs:
            cmd = [mpiexec, "-n", str(p)] + flags + [sys.executable, worker, "--impl", "skspmd"]
            key = f"skspmd_{p}" + ("_bound" if flags else "")
            jobs.append((key, key, cmd + common, _env(1)))
        for t in () if args.skip_sklearn else (1, 2):
            cmd = [sys.executable, worker, "--impl", "sklearn"] + common
            jobs.append((f"sklearn_{t}t", f"sklearn {t} threads", cmd, _env(t)))
        if args.daal4py_python and algo.daal4py:
            mpirun = os.path.join(os.path.dirname(args.daal4py_python), "mpirun")
            n = args.n or algo.n
            d = args.d or algo.d
            # the peer's ranks x threads: daal4py SPMD, 2 x 1 unless the algo says
            # otherwise (logistic regression, knn: scikit-learn-intelex, 1 process x 2 threads)
            ranks, threads = getattr(algo, "peer", (2, 1))
            cmd = [
                mpirun, "-n", str(ranks), args.daal4py_python,
                os.path.join(HERE, "_bench_daal4py.py"),
                "--algo", algo.daal4py, "--n", str(n), "--d", str(d),
                "--repeat", str(args.repeat), "--threads", str(threads),
            ] + (["--k", "10"] if algo.daal4py == "kmeans" else [])
            env = _env(threads)
            # Intel's mpirun calls mpiexec.hydra by name
            env["PATH"] = os.path.dirname(args.daal4py_python) + os.pathsep + env["PATH"]
            jobs.append(("daal4py_2", "daal4py", cmd, env))
        # --rounds: every tool once per round, in turn (reversed every other
        # round), so a drift of the machine's speed hits every tool alike
        runs_of = {key: [] for key, *_ in jobs}
        for r in range(args.rounds):
            for key, label, cmd, env in jobs[:: -1 if r % 2 else 1]:
                res, err = _run(cmd, env, args.timeout, args.busy)
                if err:
                    print(f"{name}: {label} failed: {err}", file=sys.stderr)
                runs_of[key].append(res)
        row = {"algo": name}
        row.update({key: merge_runs(found) for key, found in runs_of.items()})
        row.update(machine)
        results.append(row)
        print_table([row], header=(name == args.algo[0]))
    print_iterations(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            print_table(results)
        with open(args.markdown, "w") as f:
            f.write(buf.getvalue())
    if args.plot:
        plot(results, args.plot)


def merge_runs(runs):
    """One tool's results over the rounds: its timed fits pooled (None if any run failed)."""
    if not runs or any(res is None for res in runs):
        return None
    if len(runs) == 1:
        return runs[0]
    times = [t for res in runs for t in res["times"]]
    merged = dict(runs[0], times=times, median=statistics.median(times),
                  min=min(times), max=max(times), rounds=len(runs))
    for key in ("comm_median", "ring_median"):
        found = [res[key] for res in runs if res.get(key) is not None]
        merged[key] = statistics.median(found) if found else None
    extra = [res["peak_extra"] for res in runs if res.get("peak_extra") is not None]
    merged["peak_extra"] = max(extra) if extra else None
    return merged


def plot(results, path):
    """Strong scaling: speed-up over sklearn with 1 thread, at 1 and 2 ranks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if _t(r.get("sklearn_1t")) and _t(r.get("skspmd_1"))]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 4))
    width = 0.2
    for i, (key, label) in enumerate(
        [("skspmd_1", "skspmd 1 rank"), ("skspmd_2", "skspmd 2 ranks"),
         ("sklearn_2t", "sklearn 2 threads"), ("daal4py_2", "daal4py 2 ranks")]
    ):
        vals = [
            (_t(r["sklearn_1t"]) / _t(r.get(key))) if _t(r.get(key)) else 0 for r in rows
        ]
        ax.bar([j + (i - 1.5) * width for j in range(len(rows))], vals, width, label=label)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["algo"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("speed-up over sklearn, 1 thread")
    ax.set_title("fit time, 2-core machine (higher is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _t(res):
    return None if res is None else res["median"]


def _fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def _cell(res):
    """``median [min-max]`` of one tool's times."""
    if res is None:
        return "-"
    if "min" not in res:
        res = dict(res, min=min(res["times"]), max=max(res["times"]))
    return f"{res['median']:.3f} [{res['min']:.3f}-{res['max']:.3f}]"


def _ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def print_table(rows, header=True):
    if header:
        print(
            "| fit | n x d | skspmd 1 rank | skspmd 2 ranks | skspmd 2 bound | sklearn 1 thr"
            " | sklearn 2 thr | daal4py peer | sklearn 1thr / skspmd 2"
            " | sklearn 2thr / skspmd 2 | daal4py / skspmd 2 | comm share (2 ranks)"
            " | % of bound (2 ranks) | peak extra (2 ranks) |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s2 = _t(row.get("skspmd_2"))
        k1, k2 = _t(row.get("sklearn_1t")), _t(row.get("sklearn_2t"))
        dd = _t(row.get("daal4py_2"))
        any_res = next((r for r in row.values() if isinstance(r, dict)), None)
        shape = f"{any_res['n']:,} x {any_res['d']}" if any_res else "-"
        extra = (row.get("skspmd_2") or {}).get("peak_extra")
        print(
            f"| {row['algo']} | {shape} | {_cell(row.get('skspmd_1'))}"
            f" | {_cell(row.get('skspmd_2'))} | {_cell(row.get('skspmd_2_bound'))}"
            f" | {_cell(row.get('sklearn_1t'))} | {_cell(row.get('sklearn_2t'))}"
            f" | {_cell(row.get('daal4py_2'))} | {_ratio(k1, s2)} | {_ratio(k2, s2)}"
            f" | {_ratio(dd, s2)} | {_comm_share(row.get('skspmd_2'))}"
            f" | {_bound_fraction(row, s2)}"
            f" | {'-' if extra is None else f'{100 * extra:.0f}%'} |",
            flush=True,
        )


def print_iterations(rows):
    """Iterative fits (their worker reports ``info``): iterations, loss evaluations, time per
    evaluation (loss-and-gradient evaluations and Hessians together)."""
    tools = [("skspmd_1", "skspmd 1 rank"), ("skspmd_2", "skspmd 2 ranks"),
             ("sklearn_1t", "sklearn 1 thr"), ("sklearn_2t", "sklearn 2 thr"),
             ("daal4py_2", "peer")]
    lines = []
    for row in rows:
        for key, label in tools:
            res = row.get(key)
            info = (res or {}).get("info")
            if not info:
                continue
            calls = info["evaluations"] + info["hessians"]
            per = res["median"] / calls if calls else None
            lines.append(
                f"| {row['algo']} | {label} | {res['median']:.3f} | {info['n_iter']}"
                f" | {info['evaluations']} | {info['hessians']} | {_fmt(per, 4)} |"
            )
    if lines:
        print()
        print("| fit | tool | median s | iterations | loss evaluations | Hessians"
              " | s per evaluation |")
        print("|---|---|---:|---:|---:|---:|---:|")
        print("\n".join(lines), flush=True)


def _comm_share(res):
    """Communication share of the median fit; for the neighbour searches also the share
    spent waiting for training blocks that travel around the ring (``ring_median``)."""
    if not res or res.get("comm_median") is None:
        return "-"
    share = f"{100 * res['comm_median'] / res['median']:.0f}%"
    if res.get("ring_median"):
        share += f" (blocks {100 * res['ring_median'] / res['median']:.0f}%)"
    return share


def bound_seconds(row, ranks=2):
    """The roofline: the larger of bytes read / bandwidth and flops / dgemm rate."""
    res = row.get(f"skspmd_{ranks}")
    if not res:
        return None, None
    n, d = res["n"], res["d"]
    bounds = {}
    if row.get("bw_all"):
        bounds["memory"] = PASSES.get(row["algo"], 1) * n * d * 8 / (row["bw_all"] * 1e9)
    flops = FLOPS.get(row["algo"])
    if flops and row.get("gemm_gflops"):
        bounds["flops"] = flops(n, d) / (ranks * row["gemm_gflops"] * 1e9)
    if not bounds:
        return None, None
    kind = max(bounds, key=bounds.get)
    return bounds[kind], kind


def _bound_fraction(row, seconds):
    bound, kind = bound_seconds(row)
    if bound is None or not seconds:
        return "-"
    return f"{100 * bound / seconds:.0f}% ({kind})"


if __name__ == "__main__":
    main()
