"""Run an unmodified daal4py SPMD script on skspmd.

::

    mpiexec -n 4 python -m skspmd.daal4py kmeans_spmd.py data/file
    mpiexec -n 4 python -m skspmd.daal4py -m package.module args...

The script runs as ``__main__`` with its own ``sys.argv`` (and its directory
first on ``sys.path``, as ``python script.py`` does). ``import daal4py``,
``import daal4py as d4p`` and ``from daal4py import ...`` resolve to
:mod:`skspmd.daal4py`, in the script and in every module it imports; a real
daal4py installed in the same environment is never imported. daal4py's other
packages (``daal4py.sklearn``, ``daal4py.mb``, ...) raise an ``ImportError``
that says so.

An uncaught exception on any rank prints the script's own traceback, with
the rank, and ends the whole job with ``MPI_Abort`` (as ``python -m mpi4py``
does), so the other ranks never wait for it in a collective.
"""

import importlib.abc
import importlib.util
import os
import runpy
import sys

USAGE = """\
usage: python -m skspmd.daal4py SCRIPT [ARG ...]
   or: python -m skspmd.daal4py -m MODULE [ARG ...]

Run a daal4py SPMD script unchanged on skspmd: `import daal4py` in it (and in
the modules it imports) gives skspmd.daal4py. Launch it as usual:
    mpiexec -n 4 python -m skspmd.daal4py kmeans_spmd.py
An uncaught exception on any rank ends the whole job (MPI_Abort).
"""

# daal4py's compiled module, where its functions live: the same functions here
_SAME_AS_TOP = ("daal4py._daal4py",)


class _Daal4pyFinder(importlib.abc.MetaPathFinder):
    """Refuse daal4py's subpackages that skspmd.daal4py does not provide.

    First on ``sys.meta_path``, so a real daal4py's ``sklearn`` or ``mb``
    subpackage is never found through another path entry.
    """

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("daal4py.") or fullname in sys.modules:
            return None
        raise ModuleNotFoundError(
            f"{fullname} is not provided by skspmd.daal4py, which runs this script in "
            "place of daal4py: it provides daal4py's SPMD functions (import daal4py; "
            "daal4py.kmeans, daal4py.pca, ...), not daal4py's other packages",
            name=fullname,
        )


def install_alias():
    """Make ``daal4py`` (and its compiled ``daal4py._daal4py``) name :mod:`skspmd.daal4py`."""
    import skspmd.daal4py as d4p

    sys.modules["daal4py"] = d4p
    for name in _SAME_AS_TOP:
        sys.modules[name] = d4p
    if not any(isinstance(f, _Daal4pyFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Daal4pyFinder())
    return d4p


def _run(argv):
    """Run the script or module of ``argv`` as ``__main__``; a missing one is a usage error."""
    if argv[0] == "-m":
        if len(argv) < 2:
            sys.stderr.write("Argument expected for the -m option\n" + USAGE)
            return 2
        sys.argv[:] = argv[1:]
        if importlib.util.find_spec(argv[1]) is None:
            sys.stderr.write(f"{sys.executable}: No module named {argv[1]}\n")
            return 1
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    if not os.path.exists(script):
        sys.stderr.write(
            f"{sys.executable}: can't open file {os.path.abspath(script)!r}: "
            "[Errno 2] No such file or directory\n"
        )
        return 2
    sys.argv[:] = argv
    if not sys.flags.isolated:
        sys.path[0] = os.path.dirname(os.path.realpath(script))
    runpy.run_path(script, run_name="__main__")
    return 0


def main(argv=None):
    """Entry point of ``python -m skspmd.daal4py``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(USAGE)
        return 0 if argv else 2
    install_alias()
    from .._runtime import exit_status, report_and_abort

    try:
        return _run(argv)
    except BaseException as exc:  # noqa: BLE001 - every way out of the script is handled
        if isinstance(exc, SystemExit) and exit_status(exc) == 0:
            return 0
        runner = _run.__code__.co_filename
        skip = {runner, runpy.__file__, runpy.run_path.__code__.co_filename}
        return report_and_abort(exc, skip_files=skip)


if __name__ == "__main__":
    sys.exit(main())
