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
    args = parser.parse_args()

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
        results.append(row)
        print_table([row], header=(name == args.algo[0]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


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
            " | daal4py / skspmd 2 |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s1, s2 = _t(row.get("skspmd_1")), _t(row.get("skspmd_2"))
        k1, k2 = _t(row.get("sklearn_1t")), _t(row.get("sklearn_2t"))
        dd = _t(row.get("daal4py_2"))
        any_res = next((r for r in row.values() if isinstance(r, dict)), None)
        shape = f"{any_res['n']:,} x {any_res['d']}" if any_res else "-"
        print(
            f"| {row['algo']} | {shape} | {_fmt(s1)} | {_fmt(s2)} | {_fmt(k1)} | {_fmt(k2)}"
            f" | {_fmt(dd)} | {_ratio(k1, s2)} | {_ratio(k2, s2)} | {_ratio(dd, s2)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
