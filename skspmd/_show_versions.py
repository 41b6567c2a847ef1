"""``skspmd.show_versions()``: what a bug report needs, for the whole job."""

import os
import platform
import shutil
import socket
import sys
from importlib import metadata

from mpi4py import MPI

__all__ = ["format_report", "rank_facts", "show_versions"]

_PACKAGES = ("numpy", "scipy", "scikit-learn", "mpi4py", "threadpoolctl", "pandas")
_ENV = (
    "SKSPMD_NUM_THREADS",
    "SKSPMD_TIMEOUT",
    "SKSPMD_STRICT",
    "SKSPMD_ABORT_ON_EXCEPTION",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
_THREAD_LEVELS = {
    MPI.THREAD_SINGLE: "MPI_THREAD_SINGLE",
    MPI.THREAD_FUNNELED: "MPI_THREAD_FUNNELED",
    MPI.THREAD_SERIALIZED: "MPI_THREAD_SERIALIZED",
    MPI.THREAD_MULTIPLE: "MPI_THREAD_MULTIPLE",
}


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _mpi_library():
    """The first line of the MPI library's version string (and MPICH's device line)."""
    lines = [" ".join(line.split()) for line in MPI.Get_library_version().splitlines()]
    lines = [line for line in lines if line]
    keep = lines[:1] + [line for line in lines[1:] if line.startswith("MPICH Device")]
    return "; ".join(keep)[:160] or "unknown"


def _mpiexec():
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = shutil.which("mpiexec")
    parts = [f"{beside} (beside python)"] if os.path.exists(beside) else []
    if found and (not parts or os.path.realpath(found) != os.path.realpath(beside)):
        parts.append(f"{found} (first on PATH)")
    return "; ".join(parts) or "not found"


def _thread_pools():
    """``(label, value)`` per BLAS/OpenMP library loaded (threadpoolctl), sorted by library."""
    from threadpoolctl import threadpool_info

    pools = []
    for pool in threadpool_info():
        path = pool.get("filepath", "?")
        where = os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))
        layer = pool.get("threading_layer")
        kind = pool.get("user_api", "?") + (f", {layer}" if layer else "")
        version = pool.get("version") or "version unknown"
        label = f"{pool.get('internal_api', '?')} {where}"
        pools.append((label, f"{version} ({kind}): {pool.get('num_threads')} thread(s)"))
    return sorted(pools) or [("BLAS/OpenMP", "none found")]


def rank_facts():
    """This rank's facts as ``(label, value)`` pairs, in report order."""
    from . import __version__
    from ._runtime import launcher_mismatch, launcher_processes
    from ._threads import _node_cores, num_threads

    here = os.path.dirname(os.path.abspath(__file__))
    facts = [("skspmd", f"{__version__} ({here})")]
    facts += [(name, _version(name)) for name in _PACKAGES]
    facts += [
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
        ("MPI library", _mpi_library()),
        ("MPI standard", "MPI {}.{}".format(*MPI.Get_version())),
        ("MPI thread level", _THREAD_LEVELS.get(MPI.Query_thread(), str(MPI.Query_thread()))),
        ("mpiexec", _mpiexec()),
        ("cores available", f"{_node_cores()} of {os.cpu_count()}"),
        ("skspmd BLAS threads per rank", str(num_threads() or "library default (all cores)")),
    ]
    facts += _thread_pools()
    facts += [(name, os.environ[name]) for name in _ENV if name in os.environ]
    found = launcher_processes()
    size = MPI.COMM_WORLD.Get_size()
    if launcher_mismatch() is not None:
        name, n, _, _ = found[0]
        check = (
            f"MISMATCH: started by {name} as one of {n or 'several'} processes, but "
            "COMM_WORLD has size 1: use the mpiexec of the MPI that mpi4py uses"
        )
    else:
        seen = "; ".join(f"{name}, {n} processes" for name, n, _, _ in found if n)
        check = f"consistent: COMM_WORLD size {size}" + (f" ({seen})" if seen else "")
    facts.append(("launcher check", check))
    return facts


def _ranks(ranks):
    ranks = sorted(ranks)
    if len(ranks) > 2 and ranks == list(range(ranks[0], ranks[-1] + 1)):
        return f"ranks {ranks[0]}-{ranks[-1]}"
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))


def format_report(hosts, facts, comm_name="COMM_WORLD"):
    """The job's report from every rank's host name and facts (lists in rank order).

    A fact that is the same on every rank is shown once; one that differs is
    shown per node (or per group of ranks, where ranks of one node differ).
    """
    size = len(hosts)
    nodes = {}
    for rank, host in enumerate(hosts):
        nodes.setdefault(host, []).append(rank)
    per_node = sorted({len(r) for r in nodes.values()})
    lines = [
        f"skspmd {dict(facts[0]).get('skspmd', '?').split()[0]}: {comm_name} of size {size} on "
        f"{len(nodes)} node(s), ranks per node: {', '.join(map(str, per_node))}",
    ]
    lines += [f"  node {host}: {_ranks(ranks)}" for host, ranks in nodes.items()]
    width = max(len(label) for label, _ in facts[0])
    labels = list(dict.fromkeys(label for rank_facts_ in facts for label, _ in rank_facts_))
    as_dicts = [dict(f) for f in facts]
    for label in labels:
        values = [d.get(label, "(absent)") for d in as_dicts]
        if len(set(values)) == 1:
            lines.append(f"{label:<{width}} : {values[0]}")
            continue
        lines.append(f"{label:<{width}} : differs between ranks:")
        groups = {}
        for rank, (host, value) in enumerate(zip(hosts, values)):
            groups.setdefault((value, host), []).append(rank)
        for (value, host), ranks in groups.items():
            lines.append(f"{'':<{width}}   node {host}, {_ranks(ranks)}: {value}")
    return "\n".join(lines)


def show_versions():
    """Print what a bug report needs: versions, MPI, threads and the launch (collective).

    Every rank of the communicator in use calls it; rank 0 prints one report
    for the whole job: the versions of skspmd, Python, NumPy, SciPy,
    scikit-learn, mpi4py and threadpoolctl; the MPI library's own version
    string, MPI standard and thread level; the ``mpiexec`` beside this Python
    and on ``PATH``; the communicator size, the nodes and the ranks per node;
    the cores, the BLAS/OpenMP libraries and their threads per rank
    (threadpoolctl) after skspmd's per-rank default is applied; the
    ``SKSPMD_*`` and thread environment variables; and the launcher check (a
    ``mpiexec`` of another MPI makes every process a job of size 1). A fact
    that differs between nodes or ranks is shown per node.

    ``python -m skspmd`` (under ``mpiexec -n 4`` for a job) calls it.

    Examples
    --------
    >>> import skspmd
    >>> skspmd.show_versions()
    skspmd ...: COMM_WORLD of size 1 on 1 node(s), ranks per node: 1
      node ...: rank 0
    skspmd ...
    launcher check ...: consistent: COMM_WORLD size 1
    """
    from ._comm import allgather_object, get_comm
    from ._threads import ensure_threads

    comm = get_comm()
    ensure_threads(comm)
    host = MPI.Get_processor_name() or socket.gethostname()
    gathered = allgather_object((host, rank_facts()), comm=comm)
    if comm.Get_rank() == 0:
        name = "COMM_WORLD" if comm == MPI.COMM_WORLD else "communicator"
        report = format_report([h for h, _ in gathered], [f for _, f in gathered], name)
        print(report, flush=True)
