"""Run the benchmarks and print a table: skspmd at 1 and 2 ranks vs sklearn vs daal4py.

    python benchmarks/run.py                       # every algorithm, default sizes
    python benchmarks/run.py --algo moments covariance --n 500000
    python benchmarks/run.py --daal4py-python /path/to/venv/bin/python

skspmd runs under this environment's ``mpiexec`` with 1 BLAS thread per rank;
sklearn runs in one process with 1 and with 2 BLAS threads; daal4py (optional)
runs ``_bench_daal4py.py`` under the ``mpirun`` beside the given interpreter
with 2 ranks x 1 thread. Each cell is the median of ``--repeat`` timed fits
after one warm-up. Ratios are sklearn time / skspmd time (higher is better for
skspmd) and daal4py time / skspmd time.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


# Useful floating-point operations of the BLAS-bound fits (n rows, d features):
# the Gram matrix X^T X costs n d^2, a Householder/TSQR QR about 2 n d^2.
FLOPS = {
    "covariance": lambda n, d: n * d * d,
    "pca_eigh": lambda n, d: n * d * d,
    "ridge": lambda n, d: n * (d + 1) ** 2,
    "qr": lambda n, d: 2 * n * d * d,
    "svd": lambda n, d: 2 * n * d * d,
    "pca_full": lambda n, d: 2 * n * d * d,
    "linear_regression": lambda n, d: n * (d + 1) ** 2,  # Gram route (well-conditioned data)
    "linear_regression_ill": lambda n, d: 3 * n * (d + 1) ** 2,  # Gram, then TSQR
    "ridge_svd": lambda n, d: 2 * n * (d + 1) ** 2,
}

GEMM_PROBE = """
import time, numpy as np
a = np.random.default_rng(0).standard_normal((2000, 2000)); b = a.copy()
a @ b
best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(2 * 2000**3 / best / 1e9)
"""


def measure_gemm_gflops():
    """dgemm GFLOP/s of one core (1 BLAS thread), best of 5 2000x2000 products."""
    out = subprocess.run(
        [sys.executable, "-c", GEMM_PROBE], env=_env(1), capture_output=True, text=True
    )
    return float(out.stdout.strip()) if out.returncode == 0 else None


def _env(threads):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "HYDRA_"))}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["SKSPMD_NUM_THREADS"] = str(threads)
    return env


def _run(cmd, env, timeout):
    try:
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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ranks", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--daal4py-python", help="python of an environment with daal4py")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--plot", help="also write a strong-scaling plot (PNG) to this file")
    args = parser.parse_args()
    gemm = measure_gemm_gflops()
    print(f"dgemm, 1 core, 1 thread: {gemm:.1f} GFLOP/s" if gemm else "dgemm probe failed")

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
        row = {"algo": name}
        for p in args.ranks:
            res, err = _run(
                [mpiexec, "-n", str(p), sys.executable, worker, "--impl", "skspmd"] + common,
                _env(1),
                args.timeout,
            )
            row[f"skspmd_{p}"] = res
            if err:
                print(f"{name}: skspmd {p} ranks failed: {err}", file=sys.stderr)
        for t in (1, 2):
            res, err = _run(
                [sys.executable, worker, "--impl", "sklearn"] + common, _env(t), args.timeout
            )
            row[f"sklearn_{t}t"] = res
            if err:
                print(f"{name}: sklearn {t} threads failed: {err}", file=sys.stderr)
        if args.daal4py_python and algo.daal4py:
            mpirun = os.path.join(os.path.dirname(args.daal4py_python), "mpirun")
            n = args.n or algo.n
            d = args.d or algo.d
            cmd = [
                mpirun, "-n", "2", args.daal4py_python, os.path.join(HERE, "_bench_daal4py.py"),
                "--algo", algo.daal4py, "--n", str(n), "--d", str(d),
                "--repeat", str(args.repeat), "--threads", "1",
            ] + (["--k", "10"] if algo.daal4py == "kmeans" else [])
            env = _env(1)
            # Intel's mpirun calls mpiexec.hydra by name
            env["PATH"] = os.path.dirname(args.daal4py_python) + os.pathsep + env["PATH"]
            res, err = _run(cmd, env, args.timeout)
            row["daal4py_2"] = res
            if err:
                print(f"{name}: daal4py failed: {err}", file=sys.stderr)
        row["gemm_gflops"] = gemm
        results.append(row)
        print_table([row], header=(name == args.algo[0]))
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


def _fmt(x):
    return "-" if x is None else f"{x:.3f}"


def _ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def print_table(rows, header=True):
    if header:
        print(
            "| fit | n x d | skspmd 1 rank | skspmd 2 ranks | sklearn 1 thr | sklearn 2 thr"
            " | daal4py 2 ranks | sklearn 1thr / skspmd 2 | sklearn 2thr / skspmd 2"
            " | daal4py / skspmd 2 | comm share (2 ranks) | % of dgemm peak (2 ranks) |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s1, s2 = _t(row.get("skspmd_1")), _t(row.get("skspmd_2"))
        k1, k2 = _t(row.get("sklearn_1t")), _t(row.get("sklearn_2t"))
        dd = _t(row.get("daal4py_2"))
        any_res = next((r for r in row.values() if isinstance(r, dict)), None)
        shape = f"{any_res['n']:,} x {any_res['d']}" if any_res else "-"
        print(
            f"| {row['algo']} | {shape} | {_fmt(s1)} | {_fmt(s2)} | {_fmt(k1)} | {_fmt(k2)}"
            f" | {_fmt(dd)} | {_ratio(k1, s2)} | {_ratio(k2, s2)} | {_ratio(dd, s2)}"
            f" | {_comm_share(row.get('skspmd_2'))} | {_peak_fraction(row, s2)} |",
            flush=True,
        )


def _comm_share(res):
    if not res or res.get("comm_median") is None:
        return "-"
    return f"{100 * res['comm_median'] / res['median']:.0f}%"


def _peak_fraction(row, seconds):
    res, gemm = row.get("skspmd_2"), row.get("gemm_gflops")
    flops = FLOPS.get(row["algo"])
    if not (res and gemm and flops and seconds):
        return "-"
    achieved = flops(res["n"], res["d"]) / seconds / 1e9
    return f"{100 * achieved / (2 * gemm):.0f}%"


if __name__ == "__main__":
    main()
