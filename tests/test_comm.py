"""The communicator, collective helpers and collective error agreement."""

import numpy as np
import pytest
from mpi4py import MPI

import skspmd
from skspmd._comm import (
    SPMDError,
    agree_on_errors,
    allgather_array,
    allreduce,
    bcast_array,
    raise_on_any,
)

WORLD = MPI.COMM_WORLD


def test_default_comm_is_world():
    assert skspmd.get_comm() is MPI.COMM_WORLD


def test_comm_context_nests_and_restores():
    with skspmd.comm_context(MPI.COMM_SELF) as c:
        assert skspmd.get_comm() is c
        assert skspmd.get_comm().Get_size() == 1
        with skspmd.comm_context(MPI.COMM_WORLD):
            assert skspmd.get_comm() is MPI.COMM_WORLD
        assert skspmd.get_comm() is MPI.COMM_SELF
    assert skspmd.get_comm() is MPI.COMM_WORLD


def test_comm_context_rejects_non_communicator():
    with pytest.raises(TypeError, match="communicator"):
        with skspmd.comm_context("world"):
            pass


def test_comm_self_fit_sees_only_local_rows():
    rank = WORLD.Get_rank()
    X = np.full((3, 2), float(rank))
    with skspmd.comm_context(MPI.COMM_SELF):
        scaler = skspmd.SPMDStandardScaler().fit(X)
    np.testing.assert_array_equal(scaler.mean_, [rank, rank])


def test_allreduce_sum_and_max_match_numpy():
    rank, size = WORLD.Get_rank(), WORLD.Get_size()
    local = np.arange(6, dtype=np.float64) * (rank + 1)
    np.testing.assert_array_equal(
        allreduce(local), np.arange(6) * sum(r + 1 for r in range(size))
    )
    np.testing.assert_array_equal(allreduce(local, op=MPI.MAX), np.arange(6) * size)


def test_allgather_and_bcast():
    rank, size = WORLD.Get_rank(), WORLD.Get_size()
    got = allgather_array(np.array([rank, 2 * rank], dtype=np.int64))
    np.testing.assert_array_equal(got, [[r, 2 * r] for r in range(size)])
    arr = np.full(3, 7.0) if rank == 0 else np.zeros(3)
    np.testing.assert_array_equal(bcast_array(arr), [7.0, 7.0, 7.0])


def test_error_on_one_rank_raises_everywhere_naming_it():
    size = WORLD.Get_size()
    bad = size - 1
    with pytest.raises(ValueError, match=f"rank {bad}: boom on {bad}" if size > 1 else "boom"):
        with agree_on_errors():
            if WORLD.Get_rank() == bad:
                raise ValueError(f"boom on {bad}")
    # the job is still in step afterwards
    assert WORLD.allreduce(1) == size


def test_error_type_of_lowest_failing_rank():
    rank, size = WORLD.Get_rank(), WORLD.Get_size()
    expected = KeyError if size == 1 else TypeError
    with pytest.raises(expected):
        with agree_on_errors():
            if rank == 0 and size > 1:
                raise TypeError("first")
            if rank == size - 1:
                raise KeyError("last")


def test_unrebuildable_exception_becomes_spmd_error():
    class Local(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}{b}")

    if WORLD.Get_size() == 1:
        pytest.skip("the original exception propagates at size 1")
    with pytest.raises(SPMDError, match="rank 0"):
        with agree_on_errors():
            if WORLD.Get_rank() == 0:
                raise Local(1, 2)


def test_payload_gathered_in_rank_order():
    with agree_on_errors() as step:
        step.payload = WORLD.Get_rank() * 10
    assert step.gathered == [r * 10 for r in range(WORLD.Get_size())]


def test_raise_on_any():
    with pytest.raises(ValueError, match="too small"):
        raise_on_any(WORLD.Get_rank() == 0, "too small")
    raise_on_any(False, "never")


def test_set_num_threads_validates_and_applies():
    from threadpoolctl import threadpool_info

    with pytest.raises(ValueError, match=">= 1"):
        skspmd.set_num_threads(0)
    skspmd.set_num_threads(1)
    assert all(lib["num_threads"] == 1 for lib in threadpool_info() if lib["user_api"] == "blas")
    skspmd.set_num_threads(None)
