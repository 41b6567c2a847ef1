"""skspmd.io: per-rank files, blocks of one shared file, scatter; errors on every rank."""

import os

import numpy as np
import pytest
from helpers import WORLD, gather_rows

from skspmd import io

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
GLOBAL = np.arange(47 * 3, dtype=np.float64).reshape(47, 3) / 7.0


@pytest.mark.parametrize("n", [0, 1, 5, 47])
def test_partition_covers_rows_in_order(n):
    start, stop = io.partition(n)
    blocks = WORLD.allgather((start, stop))
    assert blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    sizes = [b - a for a, b in blocks]
    assert max(sizes) - min(sizes) <= 1
    assert [s for s in sizes] == [len(p) for p in np.array_split(np.arange(n), SIZE)]


def test_partition_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        io.partition(-1)


def _write_csv(path, X, header=False, trailing_comma=False):
    with open(path, "w") as f:
        if header:
            f.write(",".join(f"col{i}" for i in range(X.shape[1])) + "\n")
        for row in X:
            f.write(",".join(repr(float(v)) for v in row) + ("," if trailing_comma else "") + "\n")


@pytest.mark.parametrize("ext", ["csv", "npy"])
@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("trailing_comma", [False, True])
def test_read_local_pattern(shared_tmp_path, ext, header, trailing_comma):
    if ext == "npy" and (header or trailing_comma):
        pytest.skip("CSV options")
    mine = np.array_split(GLOBAL, SIZE)[RANK]
    path = os.path.join(shared_tmp_path, f"part{RANK}.{ext}")
    if ext == "npy":
        np.save(path, mine)
    else:
        _write_csv(path, mine, header=header, trailing_comma=trailing_comma)
    WORLD.Barrier()
    got = io.read_local(os.path.join(shared_tmp_path, "part{}." + ext))
    np.testing.assert_array_equal(got, mine)
    np.testing.assert_array_equal(gather_rows(got), GLOBAL)


def test_read_local_passes_arrays_through():
    np.testing.assert_array_equal(io.read_local([[1, 2], [3, 4]]), [[1, 2], [3, 4]])


def test_read_local_missing_file_on_one_rank(shared_tmp_path):
    path = os.path.join(shared_tmp_path, f"part{RANK}.csv")
    if RANK != SIZE - 1:
        _write_csv(path, GLOBAL[:3])
    WORLD.Barrier()
    with pytest.raises(FileNotFoundError, match=f"part{SIZE - 1}.csv"):
        io.read_local(os.path.join(shared_tmp_path, "part{}.csv"))


@pytest.mark.parametrize(
    "content, match",
    [("1,2,3\n4,5\n", "ragged"), ("1,2,3\n4,abc,6\n", "non-numeric")],
    ids=["ragged", "text"],
)
def test_read_local_malformed_csv_on_one_rank(shared_tmp_path, content, match):
    path = os.path.join(shared_tmp_path, f"part{RANK}.csv")
    with open(path, "w") as f:
        f.write(content if RANK == SIZE - 1 else "1,2,3\n4,5,6\n")
    WORLD.Barrier()
    with pytest.raises(ValueError, match=match):
        io.read_local(os.path.join(shared_tmp_path, "part{}.csv"))


@pytest.mark.parametrize("ext", ["npy", "csv"])
@pytest.mark.parametrize("header", [False, True])
def test_read_rows_of_one_shared_file(shared_tmp_path, ext, header):
    if ext == "npy" and header:
        pytest.skip("CSV option")
    path = os.path.join(shared_tmp_path, f"all.{ext}")
    if RANK == 0:
        if ext == "npy":
            np.save(path, GLOBAL)
        else:
            _write_csv(path, GLOBAL, header=header)
    WORLD.Barrier()
    got = io.read_rows(path)
    assert got.ndim == 2 and got.shape[1] == 3
    np.testing.assert_array_equal(gather_rows(got), GLOBAL)
    if ext == "npy":
        start, stop = io.partition(GLOBAL.shape[0])
        np.testing.assert_array_equal(got, GLOBAL[start:stop])


def test_read_rows_missing_file(shared_tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        io.read_rows(os.path.join(shared_tmp_path, "nope.npy"))


@pytest.mark.parametrize("n", [0, 2, 47])
def test_scatter_from_root(n):
    X = GLOBAL[:n] if RANK == 0 else None
    got = io.scatter(X)
    start, stop = io.partition(n)
    np.testing.assert_array_equal(got, GLOBAL[start:stop])
    assert got.shape == (stop - start, 3)


def test_scatter_int_1d_from_last_rank():
    root = SIZE - 1
    y = np.arange(10, dtype=np.int32) if RANK == root else None
    got = io.scatter(y, root=root)
    start, stop = io.partition(10)
    np.testing.assert_array_equal(got, np.arange(start, stop))
    assert got.dtype == np.int32
