"""Runtime safety: launcher mismatch, show_versions, dead ranks, abort_on_exception, SKSPMD_TIMEOUT.

Each failure is provoked in a job of its own (``mpiexec -n 2`` and ``-n 3``;
the launcher mismatch by setting a launcher's variables on a run of size 1),
bounded by a timeout and killed as a process group, so a hang fails the test
instead of blocking the suite.
"""

import os
import re
import sys
import textwrap

import numpy as np
import pytest
from helpers import WORLD, launch

import skspmd
from skspmd import _runtime
from skspmd._show_versions import format_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = (2, 3)
TIMEOUT = 120
ENV = {"PYTHONPATH": ROOT}


def python(tmp_path, code, size=None, env=None, args=(), timeout=TIMEOUT):
    """Run ``code`` as a script (under ``mpiexec -n size`` unless None)."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    argv = [sys.executable, str(script), *args]
    return launch(argv, size, env={**ENV, **(env or {})}, cwd=tmp_path, timeout=timeout)


# ---------------------------------------------------------------------------
# 1. a launcher from another MPI
# ---------------------------------------------------------------------------

LAUNCHER_ENVS = {
    "mpich": ({"PMI_SIZE": "{n}", "PMI_RANK": "1"}, "a Hydra mpiexec (MPICH, Intel MPI)"),
    "intel": (
        {"PMI_SIZE": "{n}", "PMI_RANK": "0", "I_MPI_HYDRA_UUID": "x"},
        "Intel MPI's mpirun (Hydra)",
    ),
    "openmpi": (
        {"OMPI_COMM_WORLD_SIZE": "{n}", "OMPI_COMM_WORLD_RANK": "0"},
        "Open MPI's mpirun/mpiexec",
    ),
    "slurm": ({"SLURM_STEP_NUM_TASKS": "{n}", "SLURM_PROCID": "0"}, "Slurm's srun"),
}


@pytest.mark.serial
@pytest.mark.parametrize("name", sorted(LAUNCHER_ENVS))
def test_launcher_variables_are_recognised(name):
    variables, launcher = LAUNCHER_ENVS[name]
    environ = {k: v.format(n=4) for k, v in variables.items()}
    assert _runtime.launcher_processes(environ)[0][:2] == (launcher, 4)
    message = _runtime.launcher_mismatch(1, environ)
    assert f"started by {launcher} as one of 4 processes" in message
    assert "MPI.COMM_WORLD has size 1" in message and "SKSPMD_STRICT=1" in message
    assert _runtime.launcher_mismatch(4, environ) is None  # a consistent launch


@pytest.mark.serial
def test_launcher_rank_alone_and_consistent_launches():
    # PMIx gives no size: a rank above 0 is enough to know there are several
    assert "as rank 2 of several processes" in _runtime.launcher_mismatch(1, {"PMIX_RANK": "2"})
    for environ in ({}, {"PMIX_RANK": "0"}, {"PMI_SIZE": "1", "PMI_RANK": "0"}, {"PMI_SIZE": "x"}):
        assert _runtime.launcher_mismatch(1, environ) is None, environ
    # an sbatch allocation alone (no srun step) is not a launch of several processes
    assert _runtime.launcher_mismatch(1, {"SLURM_NTASKS": "4", "SLURM_PROCID": "0"}) is None


TWO_FITS = """
import warnings
import numpy as np
from skspmd import SPMDPCA
warnings.simplefilter("always")  # the check itself must warn only once
X = np.random.RandomState(0).rand(30, 4)
SPMDPCA(2).fit(X)
SPMDPCA(2).fit(X)
print("fitted")
"""


@pytest.mark.serial
@pytest.mark.parametrize(
    "name, n", [("mpich", 2), ("mpich", 3), ("intel", 2), ("openmpi", 3), ("slurm", 2)]
)
def test_launcher_mismatch_warns_once(name, n, tmp_path):
    variables, launcher = LAUNCHER_ENVS[name]
    env = {k: v.format(n=n) for k, v in variables.items()}
    code, out, err, _ = python(tmp_path, TWO_FITS, env=env)
    assert code == 0, err
    assert "fitted" in out
    warning = f"RuntimeWarning: skspmd: this process was started by {launcher} as one of {n}"
    assert err.count(warning) == 1, err
    assert "script.py" in err.split(warning)[0].splitlines()[-1]  # points at the user's line


@pytest.mark.serial
@pytest.mark.parametrize("n", SIZES)
def test_launcher_mismatch_strict_is_an_error(n, tmp_path):
    env = {"PMI_SIZE": str(n), "PMI_RANK": "0", "SKSPMD_STRICT": "1"}
    code, out, err, _ = python(tmp_path, TWO_FITS, env=env)
    assert code == 1 and "fitted" not in out
    assert f"RuntimeError: skspmd: this process was started by a Hydra mpiexec (MPICH, " \
           f"Intel MPI) as one of {n} processes" in err


@pytest.mark.serial
@pytest.mark.parametrize("n", SIZES)
def test_right_launcher_gives_no_warning(n, tmp_path):
    env = {"SKSPMD_STRICT": "1"}
    code, out, err, _ = python(tmp_path, TWO_FITS, size=n, env=env)
    assert code == 0, err
    assert out.count("fitted") == n and "skspmd: this process" not in err


# ---------------------------------------------------------------------------
# 2. show_versions and python -m skspmd
# ---------------------------------------------------------------------------


def test_show_versions_prints_one_report_on_rank_0(capsys):
    skspmd.show_versions()
    out = capsys.readouterr().out
    size = WORLD.Get_size()
    if WORLD.Get_rank() != 0:
        assert out == ""
        return
    assert out.startswith(f"skspmd {skspmd.__version__}: COMM_WORLD of size {size} on 1 node(s)")
    for label in ("numpy", "scipy", "scikit-learn", "mpi4py", "python", "MPI library",
                  "MPI thread level", "mpiexec", "launcher check"):
        assert f"\n{label} " in out, label
    assert "MPICH" in out or "Open MPI" in out or "Intel" in out
    assert f"consistent: COMM_WORLD size {size}" in out
    assert "openblas" in out or "mkl" in out or "blis" in out  # a BLAS and its threads


@pytest.mark.serial
@pytest.mark.parametrize("n", SIZES)
def test_python_m_skspmd_under_mpiexec(n, tmp_path):
    code, out, err, _ = launch(
        [sys.executable, "-m", "skspmd"], n, env={**ENV, "OMP_NUM_THREADS": "1"}, cwd=tmp_path
    )
    assert code == 0, err
    assert out.count("skspmd 0.1.0: COMM_WORLD of size") == 1  # one report for the job
    assert f"COMM_WORLD of size {n} on 1 node(s), ranks per node: {n}" in out
    assert f"consistent: COMM_WORLD size {n} (a Hydra mpiexec (MPICH, Intel MPI), {n} " \
           "processes)" in out
    assert re.search(r"\nskspmd BLAS threads per rank +: 1\n", out)


@pytest.mark.serial
def test_report_shows_per_node_lines_where_nodes_differ():
    same = [("numpy", "2.0"), ("threads", "4")]
    facts = [same, same, [("numpy", "2.0"), ("threads", "8")], [("numpy", "2.0"), ("threads", "8")]]
    report = format_report(["a", "a", "b", "b"], facts)
    assert "COMM_WORLD of size 4 on 2 node(s), ranks per node: 2" in report
    assert "node a: ranks 0, 1" in report and "node b: ranks 2, 3" in report
    assert "numpy   : 2.0" in report  # the same everywhere: one line
    assert "threads : differs between ranks:" in report
    assert "node a, ranks 0, 1: 4" in report and "node b, ranks 2, 3: 8" in report


# ---------------------------------------------------------------------------
# 3. a rank that dies in the middle of a fit
# ---------------------------------------------------------------------------

DIES = """
import os, signal, sys
import numpy as np
from mpi4py import MPI
import skspmd._comm as _comm
from skspmd import SPMDKMeans

rank = MPI.COMM_WORLD.Get_rank()
X = np.random.RandomState(rank).rand(200, 4)
calls = [0]

def die_in_the_middle(collective, args, kwargs):
    # rank 1 dies before its fifth collective of the fit: the others wait in it
    calls[0] += 1
    if rank == 1 and calls[0] == 5:
        if sys.argv[1] == "SIGKILL":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)

_comm._before_collective = die_in_the_middle
SPMDKMeans(3, n_init=1, random_state=0).fit(X)
print("rank", rank, "finished the fit", flush=True)
"""


@pytest.mark.serial
@pytest.mark.parametrize("how", ["SIGKILL", "os._exit(1)"])
@pytest.mark.parametrize("n", SIZES)
def test_dead_rank_ends_the_job(n, how, tmp_path):
    code, out, err, seconds = python(tmp_path, DIES, size=n, args=[how], timeout=90)
    assert code != 0
    assert "finished the fit" not in out
    assert seconds < 90


# ---------------------------------------------------------------------------
# 4. an exception in the user's own code
# ---------------------------------------------------------------------------

RAISES = """
import numpy as np
from mpi4py import MPI
import skspmd
{enable}
rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()

def load():
    raise OSError(f"cannot read part {{rank}}")

X = load() if rank == size - 1 else np.ones((5, 2))
skspmd.SPMDBasicStatistics().fit(X)  # the other ranks wait here
"""


@pytest.mark.serial
@pytest.mark.parametrize("how", ["call", "environment"])
@pytest.mark.parametrize("n", SIZES)
def test_abort_on_exception_ends_the_job(n, how, tmp_path):
    enable = "skspmd.abort_on_exception()" if how == "call" else ""
    env = {"SKSPMD_ABORT_ON_EXCEPTION": "1"} if how == "environment" else {}
    code, _, err, seconds = python(tmp_path, RAISES.format(enable=enable), n, env, timeout=90)
    assert code != 0 and seconds < 90
    assert 'script.py", line' in err and "in load" in err
    assert f"OSError: cannot read part {n - 1}" in err
    assert f"[skspmd] rank {n - 1} of {n}: uncaught OSError" in err


@pytest.mark.serial
def test_abort_on_exception_switches_the_hook():
    before = sys.excepthook
    try:
        skspmd.abort_on_exception()
        assert sys.excepthook is _runtime._excepthook
        skspmd.abort_on_exception()  # twice: still one hook, the original kept
        skspmd.abort_on_exception(False)
        assert sys.excepthook is before
    finally:
        sys.excepthook = before


@pytest.mark.serial
def test_abort_on_exception_in_one_process_prints_as_python(tmp_path):
    code, _, err, _ = python(tmp_path, RAISES.format(enable="skspmd.abort_on_exception()"))
    assert code == 1
    assert "OSError: cannot read part 0" in err and "MPI_Abort" not in err


# ---------------------------------------------------------------------------
# 5. a rank that skips a collective: SKSPMD_TIMEOUT
# ---------------------------------------------------------------------------

SKIPS = """
import sys
import numpy as np
from mpi4py import MPI
import skspmd.daal4py as d4p
from skspmd import SPMDKMeans, SPMDPCA

rank = MPI.COMM_WORLD.Get_rank()
X = np.random.RandomState(rank).rand(40, 4)
SPMDPCA(2).fit(X)  # every rank: fine
case = sys.argv[1]
if case == "fit" and rank == 0:
    SPMDPCA(2).fit(X)
if case == "score":
    km = SPMDKMeans(2, n_init=1, random_state=0).fit(X)
    if rank == 0:
        km.score(X)
if case == "daal4py" and rank == 0:
    d4p.low_order_moments(distributed=True).compute(X)
if case == "other":
    try:
        if rank == 0:
            SPMDPCA(2).fit(X)
        else:
            SPMDKMeans(2, n_init=1, random_state=0).fit(X)
    except Exception as exc:  # one write per rank: the ranks' tracebacks interleave
        sys.stderr.write(f"rank {rank} raised {type(exc).__name__}: {exc}\\n")
        sys.stderr.flush()
        sys.exit(1)
print("rank", rank, "done", flush=True)
"""


@pytest.mark.serial
@pytest.mark.parametrize(
    "case, call", [("fit", "SPMDPCA.fit"), ("daal4py", "low_order_moments.compute")]
)
@pytest.mark.parametrize("n", SIZES)
def test_timeout_names_the_call_and_the_absent_ranks(n, case, call, tmp_path):
    code, _, err, seconds = python(tmp_path, SKIPS, n, {"SKSPMD_TIMEOUT": "3"}, [case], 90)
    assert code != 0 and seconds < 90
    assert "[skspmd] SKSPMD_TIMEOUT=3 s: rank 0 waited 3." in err
    assert f"s in {call}" in err
    absent = "rank 1" if n == 2 else "ranks 1, 2"
    assert f"never arrived: {absent}\n" in err
    assert "waiting in " + call in err and ": rank 0\n" in err


@pytest.mark.serial
def test_timeout_inside_a_fit_names_the_collective(tmp_path):
    """Rank 0 scores alone after every rank fitted: its first collective in
    ``score`` waits; the message names ``SPMDKMeans.score`` and the collective."""
    code, _, err, _ = python(tmp_path, SKIPS, 2, {"SKSPMD_TIMEOUT": "3"}, ["score"], 90)
    assert code != 0
    assert "s in SPMDKMeans.score (collective " in err
    assert "never arrived: rank 1\n" in err


@pytest.mark.serial
@pytest.mark.parametrize("n", SIZES)
def test_ranks_in_different_calls_raise_everywhere(n, tmp_path):
    code, out, err, _ = python(tmp_path, SKIPS, n, {"SKSPMD_TIMEOUT": "30"}, ["other"], 90)
    assert code != 0
    others = "; ".join(f"rank {r}: SPMDKMeans.fit" for r in range(1, n))
    message = f"SPMDError: the ranks are in different skspmd calls: rank 0: SPMDPCA.fit; {others}"
    for r in range(n):  # raised on every rank
        assert f"rank {r} raised {message}" in err, err


COMPLETE = """
import time
import numpy as np
from mpi4py import MPI
import skspmd
import skspmd.daal4py
from skspmd import SPMDKMeans, SPMDPCA

rank = MPI.COMM_WORLD.Get_rank()
X = np.random.RandomState(rank).rand(60, 4)
if rank == 1:
    time.sleep(1.5)  # a slow rank, within the timeout
pca = SPMDPCA(2).fit(X)
km = SPMDKMeans(3, n_init=2, random_state=0).fit(pca.transform(X))
d4p_mean = skspmd.daal4py.low_order_moments(distributed=True).compute(X).mean
if rank == 0:
    print(repr(pca.components_.tolist()), km.inertia_, d4p_mean.tolist(), km.score(pca.transform(X)))
else:
    km.score(pca.transform(X))
"""


@pytest.mark.serial
@pytest.mark.parametrize("n", SIZES)
def test_timeout_changes_nothing_when_every_rank_arrives(n, tmp_path):
    code, plain, err, _ = python(tmp_path, COMPLETE, n, {"SKSPMD_TIMEOUT": ""})
    assert code == 0, err
    code, watched, err, _ = python(tmp_path, COMPLETE, n, {"SKSPMD_TIMEOUT": "20"})
    assert code == 0, err
    assert watched == plain and plain.strip()


@pytest.mark.serial
def test_bad_timeout_value(monkeypatch):
    for value in ("abc", "0", "-1"):
        with pytest.raises(ValueError, match="SKSPMD_TIMEOUT must be a number of seconds > 0"):
            _runtime._timeout(value)
    assert _runtime._timeout("") is None and _runtime._timeout("2.5") == 2.5


def test_no_hook_is_installed_by_default():
    """The fast path: no launcher mismatch and no SKSPMD_TIMEOUT in the test jobs."""
    from skspmd import _comm

    if "SKSPMD_TIMEOUT" not in os.environ:
        assert _comm._before_collective is None
    np.testing.assert_array_equal(_comm.allreduce(np.ones(2)), np.full(2, WORLD.Get_size()))
