"""Runtime safety: an uncaught exception on one rank ends the whole job.

A Python exception that escapes the user's script on one rank leaves the other
ranks waiting in their next collective forever: the interpreter of the failing
rank exits, but MPI does not tell the others. :func:`report_and_abort` prints
the traceback with this rank's number and calls ``MPI_Abort`` on
``COMM_WORLD``, which the launcher turns into the end of every rank.
"""

import sys
import traceback

from mpi4py import MPI

__all__ = ["exit_status", "report_and_abort", "report_uncaught"]


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
    ``SystemExit`` prints only its message, as Python does.
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
        MPI.COMM_WORLD.Abort(status)
    return status
