"""Fixtures for the SPMD tests.

The machinery that runs every test at MPI sizes 1, 2 and 3 (the ``mpi_size``
parametrisation, the ``mpiexec`` batches, abort on failure, timeouts) is the
plugin ``tests/mpi_plugin.py``, loaded by the top-level ``conftest.py``; its
docstring explains how it works.
"""

import pytest
from mpi4py import MPI

WORLD = MPI.COMM_WORLD

# daal4py-style scripts run by test_daal4py_runner.py (`import daal4py`): not test modules
collect_ignore = ["daal4py_scripts"]


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
