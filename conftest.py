"""Repository-wide pytest configuration (the role scikit-learn's top-level conftest plays).

``python -m pytest`` collects ``tests/`` and ``skspmd/`` (``testpaths``) with
``--doctest-modules`` (``addopts``, both in ``pyproject.toml``): besides the
test suite, the ``Examples`` section of every docstring in ``skspmd/`` runs as
a doctest, so every documented example is executed.

- The MPI machinery of the suite (every test at sizes 1, 2 and 3) is the plugin
  ``tests/mpi_plugin.py``, registered here; its docstring says how it works.
- Doctests run in this process only, an MPI job of size 1: they are not test
  functions, so the plugin neither parametrises them nor sends them to its
  ``mpiexec`` batches. When the whole session runs under ``mpiexec`` they are
  skipped: each rank would run the example on its own copy of the data.
- Each doctest starts from an empty namespace, so an example imports what it
  uses, as a reader copying it must. NumPy 2 prints with NumPy 1.25's options
  (``1.0``, not ``np.float64(1.0)``), so the outputs do not depend on the NumPy
  version. An example that changes BLAS threads (``set_num_threads``) does not
  leak its setting into the tests that follow.
"""

import numpy as np
import pytest
from _pytest.doctest import DoctestItem

pytest_plugins = ["mpi_plugin"]  # found on sys.path: pyproject.toml's pythonpath = ["tests"]

# print options of the doctests' expected outputs
PRINT_OPTIONS = {"legacy": "1.25"} if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else {}


def pytest_collection_modifyitems(config, items):
    from mpi_plugin import IN_MPI_JOB

    for item in items:
        if isinstance(item, DoctestItem):
            item.dtest.globs = {}
            if IN_MPI_JOB:
                item.add_marker(pytest.mark.skip(reason="doctests run at MPI size 1 only"))


@pytest.fixture(autouse=True)
def _doctest_setup(request):
    """NumPy print options and BLAS threads for a doctest; nothing for a test function."""
    if not isinstance(request.node, DoctestItem):
        yield
        return
    from threadpoolctl import threadpool_limits

    with np.printoptions(**PRINT_OPTIONS), threadpool_limits(limits=None):
        yield
