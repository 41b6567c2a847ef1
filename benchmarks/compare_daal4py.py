"""Run one daal4py-style SPMD script under daal4py and under skspmd.daal4py, side by side.

The script below is written once, with ``import daal4py as d4p``, and runs
unchanged under both (skspmd through ``python -m skspmd.daal4py``). It runs every
distributed algorithm of daal4py's SPMD mode on the same global data (each
rank generates its own rows; the global data does not depend on the number of
ranks), times each ``compute`` (max over ranks, median of ``--repeat``) and
prints a few numbers of each result. This driver runs it::

    daal4py: PATH=/work/d4p-venv/bin:$PATH timeout 300 mpirun -n P /work/d4p-venv/bin/python s.py
    skspmd:  timeout 300 /work/venv/bin/mpiexec -n P /work/venv/bin/python -m skspmd.daal4py s.py

and prints both results and times side by side::

    python benchmarks/compare_daal4py.py --n 200000 --d 20 --ranks 2

Each rank uses one thread (``daalinit(1)`` in the script; ``OPENBLAS_NUM_THREADS=1``).
The data have a trend along the rows (so the ranks' means differ, as they do
when data are stored in time order): that is where daal4py's distributed
low-order moments lose the between-rank term.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = r'''
import json, sys, time
import numpy as np
from mpi4py import MPI
import daal4py as d4p

args = json.loads(sys.argv[1])
n, d, k, repeat, iters = args["n"], args["d"], args["k"], args["repeat"], args["iters"]
comm = MPI.COMM_WORLD
d4p.daalinit(1)
rank, size = d4p.my_procid(), d4p.num_procs()
CHUNK = 50_000


def rows(kind, start, stop):
    """Rows [start, stop) of the global data, generated chunk by chunk (rank-independent)."""
    parts_x, parts_y = [], []
    w = np.random.default_rng(1).standard_normal((d, 1))
    for c in range(start // CHUNK, (stop - 1) // CHUNK + 1 if stop > start else 0):
        c0, c1 = c * CHUNK, min((c + 1) * CHUNK, n)
        rng = np.random.default_rng([0, c])
        if kind == "counts":
            X = rng.poisson(1.0, (c1 - c0, d)).astype(np.float64)
            y = rng.integers(0, 10, (c1 - c0, 1)).astype(np.float64)
        else:
            X = rng.standard_normal((c1 - c0, d))
            X += 2.0 * (np.arange(c0, c1) / n)[:, None]  # a trend along the rows
            y = X @ w + 3.0 + 0.1 * rng.standard_normal((c1 - c0, 1))
        lo, hi = max(start, c0) - c0, min(stop, c1) - c0
        parts_x.append(X[lo:hi])
        parts_y.append(y[lo:hi])
    return np.concatenate(parts_x), np.concatenate(parts_y)


base, extra = divmod(n, size)
start = rank * base + min(rank, extra)
stop = start + base + (rank < extra)
X, Y = rows("dense", start, stop)
C, L = rows("counts", start, stop)
results = {}


def timed(name, make, summary):
    times, out = [], None
    for _ in range(repeat):
        comm.Barrier()
        t0 = time.perf_counter()
        out = make()
        dt = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        times.append(dt)
    try:
        value = summary(out)
    except Exception as exc:  # a field daal4py does not fill
        value = repr(exc)[:60]
    results[name] = {"time": float(np.median(times)), "value": value}


def first(a, m=3):
    return [float(v) for v in np.asarray(a).ravel()[:m]]


D = dict(distributed=True)
Xk = X[:, :10]
timed("low_order_moments", lambda: d4p.low_order_moments(**D).compute(X),
      lambda r: {"mean": first(r.mean), "variance": first(r.variance)})
timed("covariance", lambda: d4p.covariance(**D).compute(X),
      lambda r: {"cov[0,:3]": first(r.covariance)})
timed("covariance(corr)",
      lambda: d4p.covariance(outputMatrixType="correlationMatrix", **D).compute(X),
      lambda r: {"corr[0,:3]": first(r.correlation), "cov[0,:3]": first(r.covariance)})
timed("pca correlationDense", lambda: d4p.pca(**D).compute(X),
      lambda r: {"eigenvalues": first(r.eigenvalues)})
timed("pca svdDense", lambda: d4p.pca(method="svdDense", **D).compute(X),
      lambda r: {"eigenvalues": first(r.eigenvalues)})
timed("svd", lambda: d4p.svd(**D).compute(X),
      lambda r: {"s": first(r.singularValues)})
timed("qr", lambda: d4p.qr(**D).compute(X),
      lambda r: {"|diag R|": first(np.abs(np.diag(r.matrixR)))})
timed("linreg interceptFlag=True",
      lambda: d4p.linear_regression_training(interceptFlag=True, **D).compute(X, Y),
      lambda r: {"Beta[0,:3]": first(r.model.Beta)})
timed("linreg interceptFlag=False",
      lambda: d4p.linear_regression_training(**D).compute(X, Y),
      lambda r: {"Beta[0,:3]": first(r.model.Beta)})
timed("ridge", lambda: d4p.ridge_regression_training(interceptFlag=True, **D).compute(X, Y),
      lambda r: {"Beta[0,:3]": first(r.model.Beta)})
timed("multinomial_nb", lambda: d4p.multinomial_naive_bayes_training(10, **D).compute(C, L),
      lambda r: {"LogTheta[0,:3]": first(r.model.LogTheta)})
timed("kmeans_init plusPlusDense",
      lambda: d4p.kmeans_init(k, method="plusPlusDense", **D).compute(Xk),
      lambda r: {"centroids.shape": list(r.centroids.shape)})
init = d4p.kmeans_init(k, method="deterministicDense", **D).compute(Xk).centroids
timed(f"kmeans {iters} it. (same init)", lambda: d4p.kmeans(k, iters, **D).compute(Xk, init),
      lambda r: {"objective": first(r.objectiveFunction),
                 "nIterations": int(r.nIterations[0, 0]),
                 "centroid[0,:2]": first(r.centroids, 2)})
d4p.daalfini()
if rank == 0:
    print("RESULTS " + json.dumps(results))
'''


def run(kind, args, folder):
    path = os.path.join(folder, "script.py")
    with open(path, "w") as f:
        f.write(SCRIPT)
    payload = json.dumps(
        {"n": args.n, "d": args.d, "k": args.k, "repeat": args.repeat, "iters": args.iters}
    )
    env = dict(
        os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", SKSPMD_NUM_THREADS="1"
    )
    if kind == "daal4py":
        bindir = os.path.dirname(args.daal4py_python)
        env["PATH"] = bindir + os.pathsep + env["PATH"]
        cmd = [os.path.join(bindir, "mpirun"), "-n", str(args.ranks), args.daal4py_python]
    else:
        bindir = os.path.dirname(args.skspmd_python)
        cmd = [os.path.join(bindir, "mpiexec"), "-n", str(args.ranks), args.skspmd_python]
        cmd += ["-m", "skspmd.daal4py"]
    cmd = ["timeout", str(args.timeout)] + cmd + [path, payload]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS "):])
    print(f"--- {kind} failed (exit {proc.returncode}) ---", file=sys.stderr)
    print(proc.stdout[-2000:], proc.stderr[-3000:], file=sys.stderr)
    return {}


def _fmt(value):
    if isinstance(value, dict):
        return "; ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=200_000, help="global rows")
    p.add_argument("--d", type=int, default=20, help="columns (kmeans uses the first 10)")
    p.add_argument("--k", type=int, default=10, help="k-means clusters")
    p.add_argument("--iters", type=int, default=20, help="k-means iterations")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--daal4py-python", default="/work/d4p-venv/bin/python")
    p.add_argument("--skspmd-python", default="/work/venv/bin/python")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        d4 = run("daal4py", args, folder)
        sk = run("skspmd", args, folder)
    print(f"n={args.n} d={args.d} ranks={args.ranks} threads/rank=1, median of {args.repeat}")
    print("| algorithm | daal4py s | skspmd s | daal4py/skspmd | daal4py result | skspmd result |")
    print("|---|---:|---:|---:|---|---|")
    for name in sk or d4:
        a, b = d4.get(name, {}), sk.get(name, {})
        ta, tb = a.get("time"), b.get("time")
        ratio = f"{ta / tb:.2f}" if ta and tb else "-"
        sa = "-" if ta is None else f"{ta:.3f}"
        sb = "-" if tb is None else f"{tb:.3f}"
        va, vb = _fmt(a.get("value", "-")), _fmt(b.get("value", "-"))
        print(f"| {name} | {sa} | {sb} | {ratio} | {va} | {vb} |")


if __name__ == "__main__":
    main()
