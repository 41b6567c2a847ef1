"""``SKSPMD_TIMEOUT``: a collective that waits too long for a rank ends the job.

A script bug such as ``if rank == 0: model.fit(X)`` leaves rank 0 waiting in
skspmd's first collective forever. With ``SKSPMD_TIMEOUT=seconds``, every
collective skspmd makes (and the start of every collective fit) is preceded
by a handshake: a non-blocking ``Iallreduce`` of two integers identifying the
skspmd call, polled with ``Test`` until every rank has arrived. Then:

- every rank arrived at the same skspmd call: the collective runs as usual;
- the ranks are in different skspmd calls (rank 1 skipped ``SPMDPCA.fit``
  and went on to ``SPMDKMeans.fit``): every rank raises an
  :class:`~skspmd.SPMDError` naming the call of each rank, instead of mixing
  the two calls' messages;
- the handshake is not complete after the timeout: the waiting rank asks
  every other rank (point-to-point messages) which call it is waiting in. A
  rank that is itself waiting in a handshake answers at once; the ranks that
  do not answer within a short grace period never arrived. The waiting rank
  prints the call, the ranks that never arrived and those that did, and
  calls ``MPI_Abort`` on ``COMM_WORLD``.

No helper thread is used, so this works at any MPI thread level (mpi4py
initialises ``MPI_THREAD_MULTIPLE`` by default, but nothing here needs it).
The handshake costs one small non-blocking collective per collective, and the
poll sleeps for at most a twentieth of the time already waited (at most
20 ms), so a rank that arrives late is noticed promptly. ``SKSPMD_TIMEOUT``
must exceed the longest stretch of local work between two collectives (a
rank reading a large file while the others wait counts as waiting), and must
be set on every rank. Unset, none of this runs.
"""

import sys
import time
import zlib

import numpy as np
from mpi4py import MPI

from ._comm import SPMDError

__all__ = ["Watchdog", "current_call"]

_TAG_QUERY = 30_517  # below MPI's guaranteed minimum TAG_UB (32767)
_TAG_REPLY = 30_518
_SPIN_SECONDS = 1e-3  # poll without sleeping for this long first
_MAX_PAUSE = 0.02

# modules whose frames are wrappers or machinery, not the call the user made
_MACHINERY = {
    "skspmd._base",
    "skspmd._comm",
    "skspmd._runtime",
    "skspmd._watchdog",
    "skspmd.__main__",
    "skspmd.daal4py.__main__",
}


def _frame_name(frame, module):
    """``Class.method`` or ``module.function`` of a public skspmd frame, else None."""
    code = frame.f_code
    if code.co_name.startswith("_"):
        return None
    if code.co_argcount and code.co_varnames[0] == "self":
        owner = type(frame.f_locals.get("self")).__name__
        return None if owner.startswith("_") else f"{owner}.{code.co_name}"
    qualname = getattr(code, "co_qualname", code.co_name)
    if "." in qualname or any(part.startswith("_") for part in module.split(".")):
        return None  # a nested function, or a function of a private module
    return f"{module}.{qualname}"


def current_call(depth=1):
    """The public skspmd calls on this thread's stack, outermost first (``['SPMDPCA.fit']``).

    Public methods of public classes, and public functions of public
    modules, count; so the chain reads as the call the user made and the
    public calls it makes (``['GridSearchCV.fit', 'SPMDRidge.fit']``).
    """
    chain = []
    frame = sys._getframe(depth)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("skspmd") and module not in _MACHINERY:
            name = _frame_name(frame, module)
            if name is not None and (not chain or chain[-1] != name):
                chain.append(name)
        frame = frame.f_back
    return chain[::-1]


class Watchdog:
    """The handshake before each collective, with a deadline of ``timeout`` seconds."""

    def __init__(self, timeout):
        self.timeout = float(timeout)
        self._replies = []  # pending isend requests of answers (kept alive until done)

    def arrive(self, comm, what, call=None):
        """Wait until every rank of ``comm`` has arrived here; abort after the timeout.

        ``what`` names the collective (``"allreduce"``; None at the start of a
        fit); ``call`` the skspmd call (found on the stack when None).
        """
        if comm.Get_size() == 1:
            return
        chain = current_call()
        if call is not None and (not chain or chain[-1] != call):
            chain.append(call)
        label = " > ".join(chain) or "an skspmd collective"
        where = label if what is None else f"{label} (collective {what})"
        token = zlib.crc32((chain[0] if chain else "").encode())
        sent = np.array([token, -token], dtype=np.int64)
        got = np.empty(2, dtype=np.int64)
        request = comm.Iallreduce(sent, got, op=MPI.MAX)
        self._wait(request, comm, where)
        if got[0] != -got[1]:  # not every rank gave the same token
            calls = comm.allgather(where)
            raise SPMDError(
                "the ranks are in different skspmd calls: "
                + "; ".join(f"rank {r}: {c}" for r, c in enumerate(calls))
                + ". Every rank must make the same collective calls in the same order; "
                "a collective call inside `if rank == ...` is the usual cause"
            )

    def _wait(self, request, comm, where):
        start = time.monotonic()
        while not request.Test():
            waited = time.monotonic() - start
            self._answer(comm, where, waited)
            if waited >= self.timeout:
                self._expire(comm, where, waited)
            if waited > _SPIN_SECONDS:
                time.sleep(min(_MAX_PAUSE, waited / 20))
        self._replies = [r for r in self._replies if not r.Test()]

    def _answer(self, comm, where, waited):
        """Tell every rank that asked which call this rank is waiting in."""
        status = MPI.Status()
        while comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_QUERY, status=status):
            source = status.Get_source()
            comm.recv(source=source, tag=_TAG_QUERY)
            self._replies.append(comm.isend((where, waited), dest=source, tag=_TAG_REPLY))

    def _expire(self, comm, where, waited):
        """Find the ranks that never arrived, report them, and abort the job."""
        rank, size = comm.Get_rank(), comm.Get_size()
        # kept referenced until the abort below (never completed: no matter)
        self._queries = [comm.isend(rank, dest=q, tag=_TAG_QUERY) for q in range(size) if q != rank]
        present = {rank: (where, waited)}
        grace = time.monotonic() + min(2.0, max(0.5, self.timeout / 4))
        status = MPI.Status()
        while len(present) < size and time.monotonic() < grace:
            self._answer(comm, where, waited)
            while comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REPLY, status=status):
                source = status.Get_source()
                present[source] = comm.recv(source=source, tag=_TAG_REPLY)
            time.sleep(0.01)
        missing = [q for q in range(size) if q not in present]
        sys.stderr.write(_message(comm, where, waited, self.timeout, present, missing))
        sys.stderr.flush()
        from ._runtime import abort_job

        abort_job(1)  # the queries in flight are never completed: no matter


def _ranks(ranks):
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))


def _message(comm, where, waited, timeout, present, missing):
    size = comm.Get_size()
    name = "COMM_WORLD" if comm == MPI.COMM_WORLD else f"a communicator of size {size}"
    lines = [
        f"[skspmd] SKSPMD_TIMEOUT={timeout:g} s: rank {comm.Get_rank()} waited "
        f"{waited:.1f} s in {where} on {name}.",
    ]
    if missing:
        lines.append(f"  never arrived: {_ranks(missing)}")
    by_call = {}
    for r, (call, _) in sorted(present.items()):
        by_call.setdefault(call, []).append(r)
    for call, ranks in by_call.items():
        lines.append(f"  waiting in {call}: {_ranks(ranks)}")
    lines.append(
        "  Every rank must make the same collective skspmd calls (fit, partial_fit, "
        "score, ...) in the same order: look for a call inside `if rank == ...`, or a "
        "rank that returned early, stopped or died. Aborting the MPI job."
    )
    return "\n".join(lines) + "\n"
