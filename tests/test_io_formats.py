"""skspmd.io over every format: aligned blocks, columns, frames, batches, errors on every rank."""

import math
import os
import sys
import tracemalloc

import numpy as np
import pytest
from helpers import WORLD, gather_rows

from skspmd import io

RANK, SIZE = WORLD.Get_rank(), WORLD.Get_size()
N, D = 41, 4
NAMES = [f"c{i}" for i in range(D)]
WIDE_NAMES = [f"c{i}" for i in range(20)]
# rows of very different lengths: the first rows are long, so byte ranges and
# row blocks disagree whenever the rows are split by bytes
GLOBAL = np.round(
    np.random.default_rng(3).standard_normal((N, D))
    * np.where(np.arange(N) < 8, 1e9, 1.0)[:, None],
    4,
)
LABELS = np.arange(N, dtype=np.int64) % 5
FORMATS = ["csv", "csv-header", "npy", "parquet", "hdf5"]
NAMED = ["csv-header", "parquet", "hdf5"]


def _write_csv(path, X, names=None, trailing_comma=False, line_end="\n"):
    with open(path, "w", newline="") as f:
        if names is not None:
            f.write(",".join(names) + line_end)
        for row in X:
            f.write(
                ",".join(repr(float(v)) for v in row) + ("," if trailing_comma else "") + line_end
            )


def _write(path, fmt, X, row_group_size=7):
    """Write ``X`` (2-D) in ``fmt`` at ``path`` (called on one rank)."""
    if fmt == "csv":
        _write_csv(path, X)
    elif fmt == "csv-header":
        _write_csv(path, X, names=WIDE_NAMES[: X.shape[1]])
    elif fmt == "npy":
        np.save(path, X)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({WIDE_NAMES[j]: X[:, j] for j in range(X.shape[1])})
        pq.write_table(table, path, row_group_size=row_group_size)
    elif fmt == "hdf5":
        import h5py

        with h5py.File(path, "w") as f:
            chunks = (5, X.shape[1]) if X.shape[0] >= 5 else None
            dset = f.create_dataset("X", data=X, chunks=chunks)
            dset.attrs["columns"] = WIDE_NAMES[: X.shape[1]]
    else:
        raise ValueError(fmt)


def _ext(fmt):
    return {"csv": "csv", "csv-header": "csv", "npy": "npy", "parquet": "parquet", "hdf5": "h5"}[
        fmt
    ]


def _shared_file(folder, fmt, X=GLOBAL, name="all"):
    path = os.path.join(folder, f"{name}.{_ext(fmt)}")
    if RANK == 0:
        _write(path, fmt, X)
    WORLD.Barrier()
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_rows_gives_the_partition_block(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    got = io.read_rows(path)
    start, stop = io.partition(N)
    np.testing.assert_array_equal(got, GLOBAL[start:stop])
    np.testing.assert_array_equal(gather_rows(got), GLOBAL)


@pytest.mark.parametrize("y_fmt", ["csv", "npy", "parquet", "hdf5"])
def test_x_and_y_from_two_files_line_up(shared_tmp_path, y_fmt):
    x_path = _shared_file(shared_tmp_path, "csv-header")
    y_path = os.path.join(shared_tmp_path, f"y.{_ext(y_fmt)}")
    if RANK == 0:
        if y_fmt == "npy":
            np.save(y_path, LABELS)
        else:
            _write(y_path, y_fmt, LABELS[:, None].astype(np.float64))
    WORLD.Barrier()
    X = io.read_rows(x_path)
    y = io.read_rows(y_path) if y_fmt == "npy" else io.read_rows(y_path, columns=0)
    start, stop = io.partition(N)
    assert y.ndim == 1
    np.testing.assert_array_equal(X, GLOBAL[start:stop])
    np.testing.assert_array_equal(y, LABELS[start:stop])


@pytest.mark.parametrize("fmt", NAMED)
def test_columns_by_name(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    start, stop = io.partition(N)
    both = io.read_rows(path, columns=["c2", "c0"])
    np.testing.assert_array_equal(both, GLOBAL[start:stop][:, [2, 0]])
    one = io.read_rows(path, columns="c1")
    assert one.ndim == 1
    np.testing.assert_array_equal(one, GLOBAL[start:stop, 1])


@pytest.mark.parametrize("fmt", FORMATS)
def test_columns_by_position(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    start, stop = io.partition(N)
    np.testing.assert_array_equal(io.read_rows(path, columns=[3, 1]), GLOBAL[start:stop][:, [3, 1]])
    np.testing.assert_array_equal(io.read_rows(path, columns=-1), GLOBAL[start:stop, -1])


@pytest.mark.parametrize("fmt", NAMED)
def test_as_frame_keeps_names_and_global_index(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    start, stop = io.partition(N)
    frame = io.read_rows(path, as_frame=True)
    assert list(frame.columns) == NAMES
    assert list(frame.index) == list(range(start, stop))
    np.testing.assert_array_equal(frame.to_numpy(), GLOBAL[start:stop])
    series = io.read_rows(path, columns="c3", as_frame=True)
    assert series.name == "c3"
    local = io.read_local(path, columns=["c1"], as_frame=True)
    assert list(local.columns) == ["c1"] and local.shape == (N, 1)


@pytest.mark.parametrize("fmt", NAMED)
def test_missing_column_raises_everywhere(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    with pytest.raises(KeyError, match="no column 'nope'"):
        io.read_rows(path, columns=["c0", "nope"])
    with pytest.raises(KeyError, match="no column 'nope'"):
        io.iter_rows(path, 5, columns="nope")
    with pytest.raises(IndexError, match="out of range"):
        io.read_rows(path, columns=[D])


def test_names_need_a_file_with_names(shared_tmp_path):
    path = _shared_file(shared_tmp_path, "npy")
    with pytest.raises(ValueError, match="no column names"):
        io.read_rows(path, columns="c0")


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_file_raises_everywhere(shared_tmp_path, fmt):
    path = os.path.join(shared_tmp_path, f"nope.{_ext(fmt)}")
    with pytest.raises(FileNotFoundError, match="nope"):
        io.read_rows(path)
    with pytest.raises(FileNotFoundError, match="nope"):
        io.iter_rows(path, 4)
    with pytest.raises(FileNotFoundError, match="nope"):
        io.read_local(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_fewer_rows_than_ranks(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt, X=GLOBAL[:2])
    start, stop = io.partition(2)
    got = io.read_rows(path)
    assert got.shape == (stop - start, D)
    np.testing.assert_array_equal(got, GLOBAL[start:stop])
    batches = list(io.iter_rows(path, 1))
    assert len(batches) == math.ceil(2 / SIZE)
    assert all(b.shape in ((0, D), (1, D)) for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), GLOBAL[start:stop])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("batch_rows", [1, 4, 5, 100])
def test_iter_rows_of_a_shared_file(shared_tmp_path, fmt, batch_rows):
    path = _shared_file(shared_tmp_path, fmt)
    start, stop = io.partition(N)
    batches = io.iter_rows(path, batch_rows)
    expected = math.ceil(math.ceil(N / SIZE) / batch_rows)
    assert len(batches) == expected and batches.start == start
    got = list(batches)
    assert len(got) == expected
    assert all(b.shape[0] <= batch_rows and b.shape[1:] == (D,) for b in got)
    np.testing.assert_array_equal(np.concatenate(got), GLOBAL[start:stop])


@pytest.mark.parametrize("fmt", FORMATS)
def test_iter_rows_of_per_rank_files(shared_tmp_path, fmt):
    # rank r holds 3 r rows: rank 0 none; it still yields every batch, empty
    counts = [3 * r for r in range(SIZE)] if SIZE > 1 else [5]
    mine = GLOBAL[sum(counts[:RANK]) : sum(counts[: RANK + 1])]
    path = os.path.join(shared_tmp_path, f"part{RANK}.{_ext(fmt)}")
    if fmt == "csv-header" or mine.shape[0] or fmt != "csv":
        _write(path, fmt, mine)
    else:
        open(path, "w").close()  # an empty CSV file
    WORLD.Barrier()
    pattern = os.path.join(shared_tmp_path, "part{}." + _ext(fmt))
    got = list(io.iter_rows(pattern, 2))
    assert len(got) == max(math.ceil(c / 2) for c in counts)
    assert all(b.ndim == 2 and b.shape[1] == D for b in got)
    np.testing.assert_array_equal(np.concatenate(got) if got else np.empty((0, D)), mine)
    np.testing.assert_array_equal(io.read_local(pattern).reshape(-1, D), mine)


@pytest.mark.parametrize("fmt", ["csv-header", "parquet"])
def test_iter_rows_columns_and_frames(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    start, stop = io.partition(N)
    labels = np.concatenate(list(io.iter_rows(path, 3, columns="c2")))
    np.testing.assert_array_equal(labels, GLOBAL[start:stop, 2])
    frames = list(io.iter_rows(path, 3, columns=["c0", "c3"], as_frame=True))
    assert all(list(f.columns) == ["c0", "c3"] for f in frames)
    assert [i for f in frames for i in f.index] == list(range(start, stop))


@pytest.mark.parametrize("fmt", ["csv", "npy", "parquet", "hdf5"])
def test_iter_rows_holds_one_batch(shared_tmp_path, fmt):
    X = np.random.default_rng(0).standard_normal((60000, 10))
    path = os.path.join(shared_tmp_path, f"big.{_ext(fmt)}")
    if RANK == 0:
        _write(path, fmt, X, row_group_size=1000)
    WORLD.Barrier()
    for _ in io.iter_rows(path, 100):
        break  # warm up: the readers' first imports are not the stream's memory
    tracemalloc.start()
    try:
        batches = io.iter_rows(path, 100)
        setup_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        n = sum(b.shape[0] for b in batches)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == np.subtract(*io.partition(60000)[::-1])
    # a CSV file is counted first, in 4 MiB chunks: bounded whatever the file size
    assert setup_peak < 4 * (1 << 22)
    # a batch is 8 kB of float64 (about 20 kB of CSV text); the block 1.6 to 4.8 MB
    assert peak < 0.1 * X.nbytes / 3, (peak, X.nbytes)


def test_csv_variants_parse_alike(shared_tmp_path):
    # CRLF line ends, a trailing delimiter, blank lines: the same rows everywhere
    path = os.path.join(shared_tmp_path, "variants.csv")
    if RANK == 0:
        with open(path, "w", newline="") as f:
            f.write("x,y,z,w,\r\n")
            for i, row in enumerate(GLOBAL):
                f.write(",".join(repr(float(v)) for v in row) + ",\r\n")
                if i % 9 == 4:
                    f.write("\r\n   \r\n")
    WORLD.Barrier()
    start, stop = io.partition(N)
    np.testing.assert_array_equal(io.read_rows(path), GLOBAL[start:stop])
    np.testing.assert_array_equal(np.concatenate(list(io.iter_rows(path, 6))), GLOBAL[start:stop])
    assert list(io.read_rows(path, as_frame=True).columns) == ["x", "y", "z", "w"]


def _bad_csv(folder, line, content):
    """GLOBAL as CSV with a header, line ``line`` (1-based, header = 1) replaced."""
    path = os.path.join(folder, "bad.csv")
    if RANK == 0:
        lines = [",".join(NAMES)] + [",".join(repr(float(v)) for v in row) for row in GLOBAL]
        lines[line - 1] = content
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
    WORLD.Barrier()
    return path


@pytest.mark.parametrize(
    "line, content, match",
    [
        (30, "1.0,2.0,3.0", "line 30: 3 fields, expected 4"),
        (3, "1,2,3,4,5", "line 3: 5 fields"),
        (17, "1.0,abc,3.0,4.0", "line 17: non-numeric"),
        (N + 1, "1.5,2", f"line {N + 1}: 2 fields"),  # truncated last row
    ],
    ids=["ragged", "ragged-early", "text", "truncated"],
)
@pytest.mark.parametrize("reader", ["read_rows", "iter_rows", "read_local"])
def test_bad_csv_line_is_named_on_every_rank(shared_tmp_path, line, content, match, reader):
    path = _bad_csv(shared_tmp_path, line, content)
    with pytest.raises(ValueError, match=match) as info:
        if reader == "read_rows":
            io.read_rows(path)
        elif reader == "read_local":
            io.read_local(path)
        else:
            for _ in io.iter_rows(path, 4):
                pass
    assert "bad.csv" in str(info.value)


def test_truncated_npy_names_the_row(shared_tmp_path):
    path = _shared_file(shared_tmp_path, "npy")
    if RANK == 0:
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 3 * D * 8 - 5)
    WORLD.Barrier()
    for read in (io.read_rows, io.read_local, lambda p: io.iter_rows(p, 3)):
        with pytest.raises(ValueError, match=f"all.npy: truncated .npy file.*row {N - 4}"):
            read(path)


@pytest.mark.parametrize("fmt", ["parquet", "hdf5"])
def test_truncated_binary_file_is_named(shared_tmp_path, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    if RANK == 0:
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    WORLD.Barrier()
    with pytest.raises(ValueError, match=r"all\.(parquet|h5)"):
        io.read_rows(path)


@pytest.mark.parametrize(
    "module, extra, fmt", [("pyarrow", "parquet", "parquet"), ("h5py", "hdf5", "hdf5")]
)
def test_missing_optional_reader_names_the_extra(shared_tmp_path, monkeypatch, module, extra, fmt):
    path = _shared_file(shared_tmp_path, fmt)
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=rf"pip install 'skspmd\[{extra}\]'"):
        io.read_rows(path)
    with pytest.raises(ImportError, match=rf"skspmd\[{extra}\]"):
        io.iter_rows(path, 4)


def test_hdf5_key_and_compound_fields(shared_tmp_path):
    import h5py

    path = os.path.join(shared_tmp_path, "two.h5")
    if RANK == 0:
        table = np.zeros(N, dtype=[("a", "f8"), ("label", "i8")])
        table["a"], table["label"] = GLOBAL[:, 0], LABELS
        with h5py.File(path, "w") as f:
            f["X"] = GLOBAL
            f.create_group("meta")["table"] = table
    WORLD.Barrier()
    start, stop = io.partition(N)
    with pytest.raises(ValueError, match="2 datasets.*key="):
        io.read_rows(path)
    np.testing.assert_array_equal(io.read_rows(path, key="X"), GLOBAL[start:stop])
    y = io.read_rows(path, key="meta/table", columns="label")
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, LABELS[start:stop])
    both = io.read_rows(path, key="meta/table")
    np.testing.assert_array_equal(both, np.column_stack((GLOBAL[:, 0], LABELS))[start:stop])
    with pytest.raises(KeyError, match="no dataset 'nope'"):
        io.read_rows(path, key="nope")


def test_parquet_labels_keep_their_dtype(shared_tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(shared_tmp_path, "xy.parquet")
    if RANK == 0:
        pq.write_table(pa.table({"x": GLOBAL[:, 0], "label": LABELS}), path, row_group_size=4)
    WORLD.Barrier()
    start, stop = io.partition(N)
    y = io.read_rows(path, columns="label")
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, LABELS[start:stop])
    frame = io.read_rows(path, as_frame=True)
    assert frame["label"].dtype == np.int64 and frame["x"].dtype == np.float64


def test_mmap_npy_is_a_read_only_map(shared_tmp_path):
    path = _shared_file(shared_tmp_path, "npy")
    start, stop = io.partition(N)
    X = io.read_rows(path, mmap=True)
    assert isinstance(X, np.memmap) and not X.flags.writeable
    np.testing.assert_array_equal(X, GLOBAL[start:stop])
    csv = _shared_file(shared_tmp_path, "csv")
    with pytest.raises(ValueError, match="mmap=True maps a .npy file"):
        io.read_rows(csv, mmap=True)


def test_one_dimensional_npy_gives_1d_blocks(shared_tmp_path):
    path = os.path.join(shared_tmp_path, "y.npy")
    if RANK == 0:
        np.save(path, LABELS)
    WORLD.Barrier()
    start, stop = io.partition(N)
    np.testing.assert_array_equal(io.read_rows(path), LABELS[start:stop])
    batches = list(io.iter_rows(path, 4))
    assert all(b.ndim == 1 for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), LABELS[start:stop])


def test_batch_rows_must_be_positive(shared_tmp_path):
    path = _shared_file(shared_tmp_path, "npy")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_rows"):
            io.iter_rows(path, bad)
