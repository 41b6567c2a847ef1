"""``python -m skspmd``: print :func:`skspmd.show_versions` for the job.

Run it the way you run your script (``mpiexec -n 4 python -m skspmd``): rank 0
prints one report for the whole job.
"""

import sys

USAGE = """\
usage: [mpiexec -n N] python -m skspmd

Print what a bug report needs (skspmd.show_versions()): versions, the MPI
library, the communicator size and ranks per node, BLAS/OpenMP threads per
rank, and whether the launcher matches the MPI that mpi4py uses. Under
mpiexec, rank 0 prints one report for the whole job.
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        (sys.stdout if argv[0] in ("-h", "--help") else sys.stderr).write(USAGE)
        return 0 if argv[0] in ("-h", "--help") else 2
    from skspmd import show_versions

    show_versions()
    return 0


if __name__ == "__main__":
    sys.exit(main())
