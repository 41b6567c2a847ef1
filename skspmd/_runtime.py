"""Runtime safety beyond input errors: a wrong launcher, uncaught exceptions, the watchdog.

Three failures that skspmd's own input checks cannot see, each made impossible
to miss:

- **A launcher from another MPI.** When ``mpiexec`` belongs to another MPI
  than the one mpi4py uses, every process starts as a job of size 1 and
  believes it is rank 0: each fits on its own rows and writes "the" result.
  The environment still says the process is one of N (the variables of
  Hydra, Open MPI, MVAPICH, PMIx, Slurm's ``srun``). :func:`launcher_mismatch`
  compares the two; the first collective call then warns once per process
  (``SKSPMD_STRICT=1``: raises a ``RuntimeError``).
- **An uncaught exception on one rank** leaves the other ranks waiting in
  their next collective. :func:`abort_on_exception` (or
  ``SKSPMD_ABORT_ON_EXCEPTION=1``) prints its traceback with the rank and calls
  ``MPI_Abort``, which the launcher turns into the end of every rank.
- **A rank that skips a collective** (``if rank == 0: model.fit(X)``).
  ``SKSPMD_TIMEOUT=seconds`` turns the wait into an abort that names the call
  and the ranks that never arrived (:mod:`skspmd._watchdog`).

The environment is read once, when skspmd is imported. With none of these
set and a consistent launch, no hook is installed and a collective costs
exactly what it did (one ``is None`` test in :func:`skspmd._comm._timed`).
"""

import os
import sys
import traceback
import warnings

from mpi4py import MPI

from . import _comm

__all__ = [
    "abort_on_exception",
    "before_fit",
    "configure",
    "exit_status",
    "launcher_mismatch",
    "launcher_processes",
    "report_and_abort",
    "report_uncaught",
]

_STATE = {"mismatch": None, "strict": False, "watchdog": None, "excepthook": None}


def _flag(value):
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


# ---------------------------------------------------------------------------
# A launcher from another MPI
# ---------------------------------------------------------------------------

# (launcher, variable with the number of processes, variable with this rank)
_LAUNCHERS = (
    ("Open MPI's mpirun/mpiexec", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
    ("MVAPICH's mpirun", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"),
    ("a PMIx launcher (prterun, srun --mpi=pmix)", None, "PMIX_RANK"),
    ("Slurm's srun", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID"),
    ("a Hydra mpiexec (MPICH, Intel MPI)", "PMI_SIZE", "PMI_RANK"),
)


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def launcher_processes(environ=None):
    """Launchers whose variables say this process is one of several.

    Parameters
    ----------
    environ : mapping, default=os.environ

    Returns
    -------
    found : list of (launcher, n_processes or None, rank or None, variables)
        One entry per launcher whose size variable is above 1 or whose rank
        variable is above 0; ``variables`` shows them (``"PMI_SIZE=4, PMI_RANK=1"``).
    """
    environ = os.environ if environ is None else environ
    found = []
    for name, size_var, rank_var in _LAUNCHERS:
        size = _int(environ.get(size_var)) if size_var else None
        rank = _int(environ.get(rank_var))
        if (size or 0) > 1 or (rank or 0) > 0:
            if size_var == "PMI_SIZE" and any(k.startswith("I_MPI_HYDRA") for k in environ):
                name = "Intel MPI's mpirun (Hydra)"
            shown = [f"{v}={environ[v]}" for v in (size_var, rank_var) if v and v in environ]
            found.append((name, size, rank, ", ".join(shown)))
    return found


def _mpiexec_hint():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return f" (the MPI of this Python environment installs {here})"
    return ""


def launcher_mismatch(world_size=None, environ=None):
    """The message for a launcher of another MPI, or None when the launch is consistent.

    A mismatch: ``COMM_WORLD`` has size 1 while the environment says this
    process was started as one of N > 1 (or as a rank above 0).
    """
    world_size = MPI.COMM_WORLD.Get_size() if world_size is None else world_size
    found = launcher_processes(environ)
    if world_size != 1 or not found:
        return None
    name, size, rank, shown = found[0]
    one_of = f"one of {size} processes" if size else f"rank {rank} of several processes"
    library = " ".join(MPI.Get_library_version().strip().splitlines()[0].split())
    return (
        f"skspmd: this process was started by {name} as {one_of} ({shown}), but "
        "MPI.COMM_WORLD has size 1: the launcher belongs to another MPI than the one "
        f"mpi4py uses ({library}). Every process then runs alone, believes it is rank 0 "
        "and fits on its own rows only. Launch with the mpiexec of the MPI that mpi4py "
        f"was built with{_mpiexec_hint()}; `python -m skspmd` shows it. Set "
        "SKSPMD_STRICT=1 to make this an error."
    )


def _user_stacklevel():
    """``warnings.warn`` stack level of the first frame outside skspmd and scikit-learn."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("skspmd.", "sklearn.")) and module != "skspmd":
            return level
        frame, level = frame.f_back, level + 1
    return 1


def _check_launcher():
    """Warn once (or raise, with SKSPMD_STRICT=1) about a launcher mismatch found at import."""
    message = _STATE["mismatch"]
    if message is None:
        return
    if _STATE["strict"]:
        raise RuntimeError(message)
    _STATE["mismatch"] = None  # once per process
    _install()
    warnings.warn(message, RuntimeWarning, stacklevel=_user_stacklevel())


# ---------------------------------------------------------------------------
# The hook before every collective
# ---------------------------------------------------------------------------


def _comm_of(collective, args, kwargs):
    owner = getattr(collective, "__self__", None)
    if isinstance(owner, MPI.Comm):
        return owner
    comm = kwargs.get("comm")
    if comm is None:
        comm = next((a for a in args if isinstance(a, MPI.Comm)), None)
    return comm or _comm.get_comm()


def _before_collective(collective, args, kwargs):
    """Installed as ``skspmd._comm._before_collective`` while a check is on."""
    _check_launcher()
    watchdog = _STATE["watchdog"]
    if watchdog is not None:
        watchdog.arrive(_comm_of(collective, args, kwargs), collective.__name__)


def before_fit(estimator, method, comm):
    """The same checks at the start of a collective fit (called by ``spmd_fit`` when on)."""
    _check_launcher()
    watchdog = _STATE["watchdog"]
    if watchdog is not None:
        watchdog.arrive(comm, None, f"{type(estimator).__name__}.{method}")


def _install():
    on = _STATE["mismatch"] is not None or _STATE["watchdog"] is not None
    _comm._before_collective = _before_collective if on else None


def _timeout(value):
    if value is None or not str(value).strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"SKSPMD_TIMEOUT must be a number of seconds > 0, got {value!r}")
    return seconds


def configure(environ=None):
    """Read ``SKSPMD_STRICT``, ``SKSPMD_TIMEOUT``, ``SKSPMD_ABORT_ON_EXCEPTION`` and the launcher.

    Called once when skspmd is imported. ``SKSPMD_TIMEOUT`` must be set
    alike on every rank (``mpiexec`` passes the environment to every rank).
    """
    from ._watchdog import Watchdog

    environ = os.environ if environ is None else environ
    _STATE["mismatch"] = launcher_mismatch(environ=environ)
    _STATE["strict"] = _flag(environ.get("SKSPMD_STRICT"))
    seconds = _timeout(environ.get("SKSPMD_TIMEOUT"))
    _STATE["watchdog"] = None if seconds is None else Watchdog(seconds)
    if _flag(environ.get("SKSPMD_ABORT_ON_EXCEPTION")):
        abort_on_exception()
    _install()


# ---------------------------------------------------------------------------
# An uncaught exception ends the whole job
# ---------------------------------------------------------------------------


def exit_status(exc):
    """The process exit status Python would give for the uncaught ``exc``."""
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    if isinstance(exc, KeyboardInterrupt):
        return 130  # 128 + SIGINT, as a shell reports it
    return 1


def _world():
    """Rank and size of ``COMM_WORLD`` (0 and 1 when MPI is not usable any more)."""
    try:
        if MPI.Is_initialized() and not MPI.Is_finalized():
            return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
    except Exception:  # pragma: no cover - defensive, MPI in an odd state
        pass
    return 0, 1


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pragma: no cover - closed stream
            pass


def report_uncaught(exc, tb=None, skip_files=()):
    """Print ``exc`` as Python would (its traceback), then a line naming this rank.

    Leading traceback frames whose file is in ``skip_files`` (a runner and
    ``runpy``) are left out, so the traceback starts in the user's script. A
    ``SystemExit`` prints only its message, as Python does. Returns the exit
    status.
    """
    rank, size = _world()
    tb = exc.__traceback__ if tb is None else tb
    while tb is not None and tb.tb_frame.f_code.co_filename in skip_files:
        tb = tb.tb_next
    if isinstance(exc, SystemExit):
        text = "" if isinstance(exc.code, (int, type(None))) else f"{exc.code}\n"
    else:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    status = exit_status(exc)
    if size > 1:
        text += (
            f"[skspmd] rank {rank} of {size}: uncaught {type(exc).__name__} "
            f"(exit status {status}); aborting the MPI job (MPI_Abort on COMM_WORLD)\n"
        )
    _flush()
    sys.stderr.write(text)
    _flush()
    return status


def report_and_abort(exc, tb=None, skip_files=()):
    """Report the uncaught ``exc`` and end the job with its exit status.

    In a job of several processes this calls ``COMM_WORLD.Abort(status)``
    (it does not return); the launcher then ends every rank and exits
    non-zero. In a job of one process it returns the status for the caller to
    exit with.
    """
    status = report_uncaught(exc, tb, skip_files)
    if _world()[1] > 1 and status != 0:
        abort_job(status)
    return status


# Seconds between writing the last report and MPI_Abort: Hydra's proxies drop
# output still in their pipes when the abort kills the job (measured: the
# watchdog's message was lost in about half of the 2-rank runs without it).
_FORWARD_SECONDS = 0.5


def abort_job(status=1):
    """Flush this rank's output, give the launcher time to forward it, then ``MPI_Abort``."""
    import time

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed stream must not keep the job alive
            pass
    time.sleep(_FORWARD_SECONDS)
    MPI.COMM_WORLD.Abort(status)


def _excepthook(exc_type, exc, tb):
    if _world()[1] == 1:
        (_STATE["excepthook"] or sys.__excepthook__)(exc_type, exc, tb)
        return
    report_and_abort(exc, tb)


def abort_on_exception(enable=True):
    """End the whole MPI job when an exception escapes the script on any rank.

    An exception that is not caught ends the Python process of its rank, but
    MPI does not tell the others: they wait in their next collective call
    forever. After ``abort_on_exception()``, an uncaught exception prints its
    traceback followed by the rank that raised it, then calls
    ``MPI.COMM_WORLD.Abort(1)``; the launcher ends every rank and exits with
    a non-zero status. ``SKSPMD_ABORT_ON_EXCEPTION=1`` in the environment
    does the same when skspmd is imported. ``python -m mpi4py script.py`` and
    ``python -m skspmd.daal4py script.py`` do it too.

    Parameters
    ----------
    enable : bool, default=True
        ``False`` restores the previous ``sys.excepthook``.

    Notes
    -----
    The hook is ``sys.excepthook``: it sees exceptions that reach the top of
    the main thread. ``sys.exit(n)`` is not an exception it sees; use
    ``python -m mpi4py`` if a rank may call ``sys.exit`` alone. In a job of
    one process the exception is printed as usual. Errors raised by skspmd
    itself need no hook: every rank raises them (see :class:`SPMDError`).

    Examples
    --------
    >>> import skspmd
    >>> skspmd.abort_on_exception()
    >>> skspmd.abort_on_exception(False)   # back to Python's default
    """
    if enable and sys.excepthook is not _excepthook:
        _STATE["excepthook"] = sys.excepthook
        sys.excepthook = _excepthook
    elif not enable and sys.excepthook is _excepthook:
        sys.excepthook = _STATE["excepthook"] or sys.__excepthook__
        _STATE["excepthook"] = None
