"""pytest plugin: run every SPMD test at MPI sizes 1, 2 and 3 from one ``python -m pytest``.

Loaded by the repository's top-level ``conftest.py`` (``pytest_plugins``);
``pyproject.toml`` puts ``tests/`` on ``sys.path`` so that test modules can
import ``clean_env`` and ``mpiexec_path`` from here.

How the items are made
    Every test function takes the autouse fixture ``mpi_size`` and is
    parametrised over the sizes of ``SKSPMD_TEST_SIZES`` (default ``1,2,3``),
    with ids ``np1``, ``np2``, ``np3``. A test marked ``@pytest.mark.serial``
    gets ``np1`` only (tests that launch ``mpiexec`` themselves, sklearn's
    estimator checks). Items that are not test functions (the doctests of
    ``skspmd/``) are not parametrised: they run in the parent process only.

How they run
    ``np1`` items run in this process, as in any pytest session. The ``np2``
    and ``np3`` items run in batches, one per size: when the first ``np{N}``
    item is reached, the parent writes the node ids of every ``np{N}`` item to
    a JSON file and launches one child job,
    ``mpiexec -n N python -m pytest -q <their test files>``, and waits for it.
    Each item then reports the outcome the job recorded for it, so the closing
    line of pytest counts the tests of all sizes, and a summary line per size
    gives its launches and seconds.

What the child sees
    ``SKSPMD_TEST_CHILD`` (a fresh work directory) and ``SKSPMD_TEST_SELECT``
    (the JSON file of node ids) are set, and every variable of the parent's
    own MPI and pytest (``PMI_*``, ``HYDRA_*``, ``OMPI_*``, ``PYTEST_*``) is
    removed. ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``
    and ``SKSPMD_NUM_THREADS`` default to 1: the ranks share the cores, and
    every rank also fits the sklearn reference. In the child every test is
    parametrised with the job's own size only (so its node id, e.g.
    ``test_x[np2]``, equals the parent's) and the items that were not selected
    are deselected. Each rank appends ``start``/``report``/``finish`` records
    to ``rank<r>.jsonl`` in the work directory; the parent merges them: a
    failure on any rank wins, then a skip; a test passed when every rank
    finished it without either.

Failure, hang, crash, Ctrl-C
    A failed test in a child of more than one rank prints its traceback and
    calls ``COMM_WORLD.Abort``: the other ranks may be waiting for it in a
    collective, so the whole job ends at once. The parent reports that test as
    failed (with each rank's traceback) and relaunches the tests that had not
    finished: one failure costs one test, not the rest of the batch. Each test
    has a timeout in the child (``SKSPMD_TEST_TIMEOUT`` seconds, default 120,
    through pytest-timeout, which ends the process) and each launch has one in
    the parent (``SKSPMD_TEST_LAUNCH_TIMEOUT``, default 1200), after which the
    job's whole process group is killed. A job that ends without a recorded
    failure (a timeout, a segfault) fails the test that was running, with the
    job's output, and the rest is relaunched; after ``MAX_RELAUNCHES`` extra
    launches the remaining items fail as "not run". The job runs in a process
    group of its own that is killed whenever the parent stops waiting, also on
    Ctrl-C; the parent turns ``SIGTERM`` (e.g. from ``timeout``) into a
    ``KeyboardInterrupt`` for the same cleanup, so no rank is left behind.

By hand
    ``mpiexec -n 2 python -m pytest tests`` runs the suite at one size: every
    test is parametrised with that size, nothing is relaunched, the job
    aborts at the first failure, and the doctests are skipped (they are
    written for one process).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from mpi4py import MPI

WORLD = MPI.COMM_WORLD
CHILD_DIR = os.environ.get("SKSPMD_TEST_CHILD")  # set inside the mpiexec child jobs
SIZES = tuple(int(s) for s in os.environ.get("SKSPMD_TEST_SIZES", "1,2,3").split(","))
LAUNCH_TIMEOUT = float(os.environ.get("SKSPMD_TEST_LAUNCH_TIMEOUT", "1200"))
TEST_TIMEOUT = int(os.environ.get("SKSPMD_TEST_TIMEOUT", "120"))
MAX_RELAUNCHES = 5
IN_MPI_JOB = WORLD.Get_size() > 1 or CHILD_DIR is not None


def mpiexec_path():
    """``mpiexec`` of this environment (the MPICH wheel installs it beside python)."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def clean_env(**extra):
    """The environment for a child ``mpiexec``: no PMI variables of our own MPI init."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "OMPI_", "MPI_LOCAL", "PYTEST_"))
    }
    # 2-3 ranks share the cores: one BLAS/OpenMP thread each, also for the
    # sklearn reference fits the tests run on every rank
    for var in ("SKSPMD_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.update(extra)
    return env


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: run only in-process at MPI size 1, never under mpiexec"
    )
    config._skspmd_batches = {}
    if not IN_MPI_JOB:
        # turn SIGTERM (e.g. from `timeout`) into an exception so the child jobs
        # are killed by the launcher's cleanup instead of being orphaned
        def _terminate(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, _terminate)


def pytest_generate_tests(metafunc):
    if "mpi_size" not in metafunc.fixturenames:
        return
    if IN_MPI_JOB:
        sizes = [WORLD.Get_size()]
    elif metafunc.definition.get_closest_marker("serial"):
        sizes = [1]
    else:
        sizes = [s for s in SIZES] or [1]
    metafunc.parametrize("mpi_size", sizes, ids=lambda s: f"np{s}")


@pytest.fixture(autouse=True)
def mpi_size(request):
    """The MPI size this item runs at (parametrised by ``pytest_generate_tests``)."""
    return getattr(request, "param", WORLD.Get_size())


# ---------------------------------------------------------------------------
# Child side: record outcomes, abort the job on the first failure
# ---------------------------------------------------------------------------


def _record(kind, **fields):
    if CHILD_DIR is None:
        return
    path = os.path.join(CHILD_DIR, f"rank{WORLD.Get_rank()}.jsonl")
    with open(path, "a") as f:
        f.write(json.dumps(dict(kind=kind, **fields)) + "\n")
        f.flush()
        os.fsync(f.fileno())


def pytest_collection_modifyitems(config, items):
    select = os.environ.get("SKSPMD_TEST_SELECT")
    if CHILD_DIR is None or not select:
        return
    with open(select) as f:
        wanted = set(json.load(f))
    keep = [item for item in items if item.nodeid in wanted]
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in wanted])
    items[:] = keep


def pytest_runtest_logstart(nodeid, location):
    _record("start", nodeid=nodeid)


def pytest_runtest_logreport(report):
    if not IN_MPI_JOB:
        return
    if report.failed or report.skipped or report.when == "call":
        _record(
            "report",
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            longrepr=str(report.longrepr) if report.longrepr is not None else "",
            duration=report.duration,
        )
    if report.failed and WORLD.Get_size() > 1:
        # the other ranks may be blocked in a collective: end the whole job now
        sys.stdout.flush()
        sys.stderr.write(f"\n[rank {WORLD.Get_rank()}] FAILED {report.nodeid}\n")
        sys.stderr.write(str(report.longrepr) + "\n")
        sys.stderr.flush()
        WORLD.Abort(1)


def pytest_runtest_logfinish(nodeid, location):
    _record("finish", nodeid=nodeid)


# ---------------------------------------------------------------------------
# Parent side: run the np2/np3 items in mpiexec batches, report each item
# ---------------------------------------------------------------------------


def _child_command(config, size, nodeids):
    """``mpiexec -n size python -m pytest`` over the files that hold ``nodeids``."""
    files = sorted({n.split("::")[0] for n in nodeids})
    return [
        mpiexec_path(),
        "-n",
        str(size),
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        f"timeout={TEST_TIMEOUT}",
        "-o",
        "timeout_method=thread",
        "--rootdir",
        str(config.rootpath),
        *files,
    ]


def _run_job(cmd, env, cwd, log):
    """Run ``cmd`` in its own process group, output to ``log``; True if it timed out.

    The group is killed whenever this function leaves with the job still
    running: on the launch timeout, and on Ctrl-C or SIGTERM of this process.
    """
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=LAUNCH_TIMEOUT)
            return False
        except subprocess.TimeoutExpired:
            return True
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _read_records(workdir, size):
    """Every rank's records, grouped by test: ``{nodeid: {"finished", "reports"}}``."""
    per_test = {}
    for rank in range(size):
        path = os.path.join(workdir, f"rank{rank}.jsonl")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:  # a line cut short by the abort
                    continue
                entry = per_test.setdefault(rec["nodeid"], {"finished": set(), "reports": []})
                if rec["kind"] == "finish":
                    entry["finished"].add(rank)
                elif rec["kind"] == "report":
                    entry["reports"].append((rank, rec))
    return per_test


def _merge_outcomes(per_test, size):
    """``{nodeid: (outcome, text)}``: failed on any rank wins, then skipped, then passed.

    A test without a failure that some rank did not finish is left out (it was
    interrupted, or it is the one that hung or crashed).
    """
    done = {}
    for nodeid, entry in per_test.items():
        failed = [(r, rec) for r, rec in entry["reports"] if rec["outcome"] == "failed"]
        skipped = [rec for _, rec in entry["reports"] if rec["outcome"] == "skipped"]
        if failed:
            text = "\n".join(
                f"--- rank {r} ({rec['when']}) ---\n{rec['longrepr']}" for r, rec in failed
            )
            done[nodeid] = ("failed", text)
        elif len(entry["finished"]) == size:
            done[nodeid] = ("skipped", skipped[0]["longrepr"]) if skipped else ("passed", "")
    return done


class Batch:
    """The outcome of every ``np{size}`` item, from one or more mpiexec launches."""

    def __init__(self, config, size, items):
        self.size = size
        self.results = {}  # nodeid -> (outcome, text)
        self.launches = 0
        self.seconds = 0.0
        self._run(config, [item.nodeid for item in items])

    def _run(self, config, nodeids):
        remaining = list(nodeids)
        while remaining:
            if self.launches > MAX_RELAUNCHES:
                for nodeid in remaining:
                    self.results[nodeid] = (
                        "failed",
                        f"not run: {self.launches} mpiexec launches ended early before it",
                    )
                return
            self.launches += 1
            done, crashed_in, output = self._launch(config, remaining)
            self.results.update(done)
            if crashed_in is not None:
                # killed by a timeout or a crash while this test ran on some rank
                self.results[crashed_in] = ("failed", output)
            elif not done:
                # the job ended without finishing any test (e.g. a collection error)
                for nodeid in remaining:
                    self.results[nodeid] = ("failed", "not run:\n" + output)
            remaining = [n for n in remaining if n not in self.results]

    def _launch(self, config, nodeids):
        """One mpiexec job over ``nodeids``: ``(done, crashed_in, output)``."""
        workdir = tempfile.mkdtemp(prefix=f"skspmd-np{self.size}-")
        select = os.path.join(workdir, "select.json")
        with open(select, "w") as f:
            json.dump(nodeids, f)
        log = os.path.join(workdir, "output.txt")
        start = time.monotonic()
        timed_out = _run_job(
            _child_command(config, self.size, nodeids),
            clean_env(SKSPMD_TEST_CHILD=workdir, SKSPMD_TEST_SELECT=select),
            str(config.rootpath),
            log,
        )
        self.seconds += time.monotonic() - start
        with open(log, errors="replace") as f:
            output = f.read()
        per_test = _read_records(workdir, self.size)
        done = _merge_outcomes(per_test, self.size)
        shutil.rmtree(workdir, ignore_errors=True)
        if timed_out:
            output = f"mpiexec -n {self.size} timed out after {LAUNCH_TIMEOUT:.0f} s\n" + output
        # After a recorded failure the job aborts on purpose: the unfinished tests
        # were only interrupted and are run again. Without one, the unfinished
        # test is the culprit (timeout, segfault, hang).
        unfinished = [n for n in nodeids if n in per_test and n not in done]
        failed = any(outcome == "failed" for outcome, _ in done.values())
        crashed_in = unfinished[0] if (unfinished and not failed) else None
        return done, crashed_in, output[-20000:]


def _batch(item, size):
    batches = item.config._skspmd_batches
    if size not in batches:
        items = [
            i
            for i in item.session.items
            if getattr(i, "callspec", None) and i.callspec.params.get("mpi_size") == size
        ]
        batches[size] = Batch(item.config, size, items)
    return batches[size]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if IN_MPI_JOB:
        return None
    size = getattr(pyfuncitem, "callspec", None) and pyfuncitem.callspec.params.get("mpi_size")
    if not size or size == 1:
        return None
    outcome, text = _batch(pyfuncitem, size).results.get(
        pyfuncitem.nodeid, ("failed", "no result recorded by the mpiexec job")
    )
    if outcome == "failed":
        pytest.fail(f"under mpiexec -n {size}:\n{text}", pytrace=False)
    if outcome == "skipped":
        pytest.skip(text)
    return True


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    batches = getattr(config, "_skspmd_batches", {})
    for size, batch in sorted(batches.items()):
        counts = {}
        for outcome, _ in batch.results.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        terminalreporter.write_line(
            f"mpiexec -n {size}: {summary} in {batch.launches} launch(es), "
            f"{batch.seconds:.1f} s (these items are included in the counts below)"
        )
