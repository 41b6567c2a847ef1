"""What this machine can do, measured in the same run as the fits (the roofline).

- ``describe(env)``: CPU model, cores, load average, and the BLAS library and
  kernel that threadpoolctl reports in a child process started with ``env``
  (the kernel depends on ``OPENBLAS_CORETYPE``, see ``run.py --help``).
- ``gemm_gflops(env)``: dgemm GFLOP/s on one core (1 BLAS thread), best of 5
  products of 2000 x 2000 matrices.
- ``read_bandwidth(env, ranks)``: memory read bandwidth in GB/s, from a
  matrix-vector product (``dgemv``) over a 256 MiB matrix per process, which
  reads the matrix once and is closer to the hardware than a NumPy ``sum``.
  With ``ranks > 1``, that many processes run it at the same time under
  ``mpiexec`` (a barrier before each product) and the result is the total
  bytes over the slowest process's time: the bandwidth of all those cores.

Each probe runs in a fresh child process with 1 BLAS thread, so the figures
apply to one rank x 1 thread, the way the fits are run.
"""

import json
import os
import subprocess
import sys

_GEMM = """
import time, numpy as np
a = np.random.default_rng(0).standard_normal((2000, 2000)); b = a.copy()
a @ b
best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(2 * 2000**3 / best / 1e9)
"""

_BANDWIDTH = """
import json, time, numpy as np
try:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
except ImportError:
    comm = None
A = np.ones((32768, 1024))  # 256 MiB, written once (first touch) before timing
x = np.ones(1024)
A @ x
best = float("inf")
for _ in range(5):
    if comm is not None:
        comm.Barrier()
    t = time.perf_counter()
    A @ x
    elapsed = time.perf_counter() - t
    if comm is not None:
        elapsed = comm.allreduce(elapsed, op=MPI.MAX)
    best = min(best, elapsed)
size = 1 if comm is None else comm.Get_size()
if comm is None or comm.Get_rank() == 0:
    print(json.dumps(size * A.nbytes / best / 1e9))
"""

_BLAS_INFO = """
import json
import numpy  # noqa: F401  (loads its BLAS)
from threadpoolctl import threadpool_info
print(json.dumps([i for i in threadpool_info() if i.get("user_api") == "blas"]))
"""


def _python(code, env, ranks=1, mpiexec=None, timeout=300):
    cmd = [sys.executable, "-c", code]
    if ranks > 1:
        cmd = [mpiexec or os.path.join(os.path.dirname(sys.executable), "mpiexec"),
               "-n", str(ranks)] + cmd
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def gemm_gflops(env):
    """dgemm GFLOP/s of one core with 1 BLAS thread (None if the probe failed)."""
    return _python(_GEMM, env)


def read_bandwidth(env, ranks=1):
    """Read bandwidth (GB/s) of ``ranks`` cores streaming at once (None on failure)."""
    return _python(_BANDWIDTH, env, ranks=ranks)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def simd():
    """The widest SIMD the CPU reports (what BLAS kernels could use)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return "?"
    for flag, name in (("amx_tile", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2")):
        if f" {flag}" in flags:
            return name
    return "SSE"


def blas(env):
    """``name version (kernel)`` of the BLAS NumPy loads in a child started with ``env``."""
    info = _python(_BLAS_INFO, env) or []
    return ", ".join(
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')})" for i in info
    ) or "unknown"


def load_average():
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "?"


def describe(env):
    """One line saying what machine and BLAS the table was measured on."""
    return (
        f"CPU: {cpu_model()} ({simd()}), {os.cpu_count()} cores; BLAS: {blas(env)}; "
        f"load average: {load_average()}"
    )
