"""Run every SPMD test at MPI sizes 1, 2 and 3 from one ``python -m pytest``.

Each test is parametrised with ``mpi_size`` (ids ``np1``, ``np2``, ``np3``).
The ``np1`` items run in this process. The ``np2``/``np3`` items are run in
batches under ``mpiexec -n 2``/``-n 3`` (one launch per size, started when the
first such item runs); each rank of the child job records its per-test
outcome in a file, and the parent reports every item from those records, so
the closing summary line counts the tests of all sizes.

Hang and crash safety:
- inside the child job, a failed test aborts the whole job at once
  (``COMM_WORLD.Abort``), because the other ranks may be waiting in a
  collective; every test also has a per-test timeout;
- every launch is bounded by a timeout and killed as a process group;
- after an abort or timeout the parent marks the test that was running as
  failed (with the ranks' output) and relaunches the remaining tests, so one
  failure costs one test, not the rest of the suite.

Mark a test ``@pytest.mark.serial`` to run it only in-process at size 1 (tests
that launch ``mpiexec`` themselves, or sklearn's estimator checks).
Run ``mpiexec -n 2 python -m pytest tests`` to run the suite at one size by hand.
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
        workdir = tempfile.mkdtemp(prefix=f"skspmd-np{self.size}-")
        select = os.path.join(workdir, "select.json")
        with open(select, "w") as f:
            json.dump(nodeids, f)
        files = sorted({n.split("::")[0] for n in nodeids})
        cmd = [
            mpiexec_path(),
            "-n",
            str(self.size),
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
        env = clean_env(SKSPMD_TEST_CHILD=workdir, SKSPMD_TEST_SELECT=select)
        log = os.path.join(workdir, "output.txt")
        start = time.monotonic()
        with open(log, "w") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=str(config.rootpath),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=LAUNCH_TIMEOUT)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # also on Ctrl-C or SIGTERM of this process: never leave ranks behind
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.seconds += time.monotonic() - start
        with open(log, errors="replace") as f:
            output = f.read()
        done, started = self._collect(workdir)
        unfinished = [n for n in nodeids if n in started and n not in done]
        running = unfinished[0] if unfinished else None
        shutil.rmtree(workdir, ignore_errors=True)
        if timed_out:
            output = f"mpiexec -n {self.size} timed out after {LAUNCH_TIMEOUT:.0f} s\n" + output
        # After a recorded failure the job aborts on purpose: the unfinished tests
        # were only interrupted and are run again. Without one, the unfinished
        # test is the culprit (timeout, segfault, hang).
        failed = any(outcome == "failed" for outcome, _ in done.values())
        crashed_in = running if (running and not failed) else None
        return done, crashed_in, output[-20000:]

    def _collect(self, workdir):
        """Merge the ranks' records: failed on any rank wins, then skipped, then passed."""
        per_test = {}
        for rank in range(self.size):
            path = os.path.join(workdir, f"rank{rank}.jsonl")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    nodeid = rec["nodeid"]
                    entry = per_test.setdefault(nodeid, {"finished": set(), "reports": []})
                    if rec["kind"] == "finish":
                        entry["finished"].add(rank)
                    elif rec["kind"] == "report":
                        entry["reports"].append((rank, rec))
                    elif rec["kind"] == "start":
                        entry.setdefault("started", set()).add(rank)
        done = {}
        for nodeid, entry in per_test.items():
            failed = [(r, rec) for r, rec in entry["reports"] if rec["outcome"] == "failed"]
            skipped = [rec for _, rec in entry["reports"] if rec["outcome"] == "skipped"]
            if failed:
                text = "\n".join(
                    f"--- rank {r} ({rec['when']}) ---\n{rec['longrepr']}" for r, rec in failed
                )
                done[nodeid] = ("failed", text)
            elif len(entry["finished"]) == self.size:
                if skipped:
                    done[nodeid] = ("skipped", skipped[0]["longrepr"])
                else:
                    done[nodeid] = ("passed", "")
        return done, set(per_test)


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


# ---------------------------------------------------------------------------
# Fixtures for SPMD tests
# ---------------------------------------------------------------------------


@pytest.fixture
def comm():
    return WORLD


@pytest.fixture
def one_blas_thread():
    """Small matrices: a second BLAS thread only costs time on a busy machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def one_thread_under_mpi():
    """Under mpiexec every rank also fits the sklearn reference: keep its BLAS and
    OpenMP threads from oversubscribing the cores the ranks share."""
    if WORLD.Get_size() == 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def shared_tmp_path(tmp_path):
    """A directory every rank of the job sees (rank 0's ``tmp_path``)."""
    path = WORLD.bcast(str(tmp_path) if WORLD.Get_rank() == 0 else None, root=0)
    yield path
    WORLD.Barrier()
