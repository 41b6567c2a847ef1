"""Where the time of the Gram pass goes: one rank's X^T X, piece by piece.

    python benchmarks/gram_probe.py [--n 1000000] [--d 100] [--repeat 5]

Run it in one process with 1 BLAS thread (what each rank of a 2-rank job
has); it prints the rate of each variant in useful GFLOP/s (``n d^2``: the
symmetric half of ``X^T X``, the work of a ``syrk``) and as a fraction of this
core's dgemm rate (which does ``2 n d^2`` flops for the full product):

- the fit's own pass (``CrossProducts.from_rows``);
- its pieces: the copy-minus-shift into the block buffer alone, and ``dsyrk``
  on the block buffer alone, for several block sizes;
- alternatives for the same product: one ``dsyrk`` over the whole shard,
  ``dgemm`` (``X.T @ X``, the full matrix) per block and over the shard.

Set ``OPENBLAS_CORETYPE`` to emulate an older CPU's kernel (e.g. ``Haswell``
for AVX2) and compare; ``benchmarks/run.py`` prints the kernel in use.
"""

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.linalg.blas import dsyrk  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402


def best_of(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    threadpool_limits(1, user_api="blas")
    from skspmd._stats import CrossProducts

    n, d = a.n, a.d
    X = np.random.default_rng(0).standard_normal((n, d))
    useful = n * d * d
    A = np.random.default_rng(1).standard_normal((2000, 2000))
    gemm_rate = 2 * 2000**3 / best_of(lambda: A @ A, 3)[0] / 1e9
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"][0]
    print(f"BLAS {blas['internal_api']} {blas['version']} ({blas.get('architecture')}), "
          f"dgemm {gemm_rate:.1f} GFLOP/s on 1 core; X {n:,} x {d}")
    print("| variant | block rows | best s | median s | useful GFLOP/s | of dgemm |")
    print("|---|---:|---:|---:|---:|---:|")

    def report(name, block, fn, flops=useful):
        best, median = best_of(fn, a.repeat)
        rate = flops / best / 1e9
        print(f"| {name} | {block} | {best:.3f} | {median:.3f} | {rate:.1f} | "
              f"{100 * rate / gemm_rate:.0f}% |", flush=True)

    report("CrossProducts.from_rows (the fit's pass)", "auto",
           lambda: CrossProducts.from_rows(X))
    shift = X[:1000].mean(axis=0)
    for block in (1024, 4096, 16384):
        buf = np.empty((block, d + 1))
        starts = range(0, n - block + 1, block)

        def copy_only():
            for s in starts:
                np.subtract(X[s : s + block], shift, out=buf[:, :d])
                buf[:, d] = 1.0

        def syrk_only():
            C = np.zeros((d + 1, d + 1), order="F")
            for _ in starts:
                C = dsyrk(1.0, buf.T, c=C, beta=1.0, trans=0, lower=0, overwrite_c=1)

        def gemm_blocks():
            C = np.zeros((d, d))
            for s in starts:
                blk = X[s : s + block]
                C += blk.T @ blk

        report("copy minus shift + ones column", block, copy_only)
        report("dsyrk on the block buffer", block, syrk_only)
        report("dgemm X_b^T X_b per block", block, gemm_blocks)
    report("dsyrk over the whole shard", n, lambda: dsyrk(1.0, X.T, trans=0, lower=0))
    report("dgemm X^T X over the whole shard", n, lambda: X.T @ X)


if __name__ == "__main__":
    main()
