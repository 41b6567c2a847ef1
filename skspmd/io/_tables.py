"""Binary table formats read by row range: ``.npy``, Parquet (pyarrow), HDF5 (h5py).

Each format opens as a table with a known number of rows, optional column
names, and random access by row range (``read(start, stop)``) plus a batch
iterator that holds one batch at a time. Column selection by name or position
(:class:`Selection`) is shared with the CSV reader. Every table is local (not
collective): the readers in :mod:`._read` and :mod:`._stream` wrap them in
error agreement.

Parquet and HDF5 are optional: their modules are imported on first use, and a
missing one raises an ImportError that names the ``skspmd`` extra to install.
"""

import importlib
import os

import numpy as np

__all__ = [
    "ColumnNotFoundError",
    "Selection",
    "file_kind",
    "open_table",
    "rebatch",
    "require",
    "to_frame",
]

_KINDS = {
    ".npy": "npy",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
}
_EXTRAS = {"pyarrow": "parquet", "h5py": "hdf5", "pandas": "pandas"}


class ColumnNotFoundError(KeyError):
    """A column (or HDF5 dataset) asked for is not in the file; a KeyError with a plain message."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def file_kind(path):
    """``"npy"``, ``"parquet"``, ``"hdf5"`` by extension; any other file is CSV."""
    return _KINDS.get(os.path.splitext(os.fspath(path))[1].lower(), "csv")


def require(module, what):
    """Import an optional dependency, or raise an ImportError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top, top)
        raise ImportError(
            f"{what} needs the optional dependency {top!r}, which is not installed: "
            f"pip install 'skspmd[{extra}]' (or pip install {top})"
        ) from None


def to_frame(X, names, start):
    """``X`` as a pandas DataFrame (Series when 1-D) indexed by global row numbers."""
    pd = require("pandas", "as_frame=True")
    index = pd.RangeIndex(start, start + X.shape[0])
    if X.ndim == 1:
        return pd.Series(X, index=index, name=None if names is None else names[0])
    return pd.DataFrame(X, index=index, columns=names)


class Selection:
    """Which columns of a file to return, by name or position.

    ``columns`` is None (every column), one name or position (a 1-D result),
    or a list of them (2-D). Names need a file with named columns; positions
    work for any file. ``indices`` are the positions in the file, ``names``
    the output names (None when the file has none), ``squeeze`` whether the
    result is 1-D.
    """

    def __init__(self, columns, file_names, width, path):
        self.squeeze = columns is not None and not isinstance(columns, (list, tuple, np.ndarray))
        wanted = None if columns is None else ([columns] if self.squeeze else list(columns))
        if wanted is None:
            self.indices = None
            self.names = None if file_names is None else list(file_names)
            return
        if not wanted:
            raise ValueError(f"{path}: columns=[] selects no column")
        indices = []
        for c in wanted:
            if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
                if not -width <= c < width:
                    raise IndexError(f"{path}: column {c} out of range: the file has {width}")
                indices.append(int(c) % width)
            elif isinstance(c, str):
                if file_names is None:
                    raise ValueError(
                        f"{path}: column {c!r} asked for by name, but the file has no "
                        "column names (select columns by position)"
                    )
                if c not in file_names:
                    shown = ", ".join(map(repr, list(file_names)[:20]))
                    raise ColumnNotFoundError(f"{path}: no column {c!r}; the columns are {shown}")
                indices.append(list(file_names).index(c))
            else:
                raise TypeError(f"{path}: columns must be names or positions, got {c!r}")
        self.indices = indices
        self.names = None if file_names is None else [file_names[i] for i in indices]

    def width(self, file_width):
        return file_width if self.indices is None else len(self.indices)

    def apply(self, X):
        """The selected columns of the 2-D block ``X`` (1-D when ``squeeze``)."""
        if self.indices is not None and X.ndim == 2:
            X = X[:, self.indices[0]] if self.squeeze else X[:, self.indices]
        return X

    def empty(self, file_width, dtype):
        shape = (0,) if self.squeeze else (0, self.width(file_width))
        return np.empty(shape, dtype=dtype)


def rebatch(pieces, batch_rows):
    """Re-cut an iterator of row blocks into blocks of ``batch_rows`` rows (last may be short)."""
    held, n_held = [], 0
    for piece in pieces:
        while piece.shape[0]:
            take = min(batch_rows - n_held, piece.shape[0])
            held.append(piece[:take])
            n_held += take
            piece = piece[take:]
            if n_held == batch_rows:
                yield held[0] if len(held) == 1 else np.concatenate(held)
                held, n_held = [], 0
    if n_held:
        yield np.concatenate(held)


def _numeric_dtype(path, names, dtypes):
    bad = [n for n, dt in zip(names, dtypes) if dt.kind not in "biuf"]
    if bad:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, bad[:5]))} are not numeric; select "
            "numeric columns with columns=[...], or read them with as_frame=True"
        )
    return np.result_type(*dtypes) if dtypes else np.dtype(np.float64)


def _structured_to_2d(block, fields, dtype):
    out = np.empty((block.shape[0], len(fields)), dtype=dtype)
    for j, name in enumerate(fields):
        out[:, j] = block[name]
    return out


# ---------------------------------------------------------------------------
# .npy
# ---------------------------------------------------------------------------


class _ArrayTable:
    """What the ``.npy`` and HDF5 tables share: an array file read by row ranges.

    Subclasses set ``sel`` (the :class:`Selection`), ``one_d`` (a 1-D file),
    ``file_width`` and ``dtype``, and read raw rows in ``read``.
    """

    @property
    def names(self):
        return self.sel.names

    def _select(self, block):
        """The selected columns of raw rows (a 1-D file becomes one column when chosen)."""
        if self.one_d and self.sel.indices is not None:
            block = block.reshape(-1, 1)
        return self.sel.apply(block)

    def batches(self, start, stop, batch_rows):
        for a in range(start, stop, batch_rows):
            yield self.read(a, min(a + batch_rows, stop))

    def empty(self):
        if self.one_d and self.sel.indices is None:
            return np.empty(0, dtype=self.dtype)
        return self.sel.empty(self.file_width, self.dtype)


class NpyTable(_ArrayTable):
    """A ``.npy`` file; C-ordered rows are read with plain file reads (no mapping)."""

    kind = "npy"

    def __init__(self, path, columns):
        self.path = path
        with open(path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            except ValueError as exc:
                raise ValueError(f"{path}: not a valid .npy file ({exc})") from None
            self.offset = f.tell()
        if dtype.hasobject:
            raise ValueError(f"{path}: holds Python objects, not a numeric array")
        if len(shape) not in (1, 2):
            raise ValueError(f"{path}: a {len(shape)}-D array; rows need a 1-D or 2-D array")
        self.shape, self.fortran, self.file_dtype = shape, fortran, dtype
        self.n_rows = shape[0]
        self.fields = list(dtype.names) if dtype.names else None
        file_width = len(self.fields) if self.fields else (shape[1] if len(shape) == 2 else 1)
        self.one_d = len(shape) == 1 and not self.fields
        self.row_bytes = dtype.itemsize * (shape[1] if len(shape) == 2 else 1)
        self._check_size()
        self.sel = Selection(columns, self.fields, file_width, path)
        self.file_width = file_width
        if self.fields:
            chosen = self.fields if self.sel.indices is None else self.sel.names
            self.dtype = _numeric_dtype(path, chosen, [dtype[n] for n in chosen])
        else:
            self.dtype = _numeric_dtype(path, ["(data)"], [dtype])

    def _check_size(self):
        size = os.path.getsize(self.path)
        expected = self.offset + self.n_rows * self.row_bytes
        if size < expected:
            complete = (size - self.offset) // max(1, self.row_bytes)
            raise ValueError(
                f"{self.path}: truncated .npy file: the header promises {self.n_rows} rows "
                f"but the file ends in row {complete} ({size} of {expected} bytes)"
            )

    def memmap(self, start, stop):
        whole = np.load(self.path, mmap_mode="r")
        return whole[start:stop]

    def read(self, start, stop):
        """Rows ``[start, stop)``, selected columns."""
        n = stop - start
        if self.fortran:
            block = np.array(np.load(self.path, mmap_mode="r")[start:stop])
        else:
            block = np.empty((n,) + tuple(self.shape[1:]), dtype=self.file_dtype)
            with open(self.path, "rb") as f:
                f.seek(self.offset + start * self.row_bytes)
                got = f.readinto(block.data) if n else 0
            if got != n * self.row_bytes:
                raise ValueError(f"{self.path}: truncated .npy file: rows from {start} are missing")
        if self.fields:
            return self.sel.apply(_structured_to_2d(block, self.fields, self.dtype))
        return self._select(block)

    def close(self):
        pass


# ---------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------


class ParquetTable:
    """A Parquet file; only the row groups that overlap the wanted rows are read."""

    kind = "parquet"

    def __init__(self, path, columns):
        pq = require("pyarrow.parquet", "Reading Parquet files")
        self.path = path
        try:
            self.file = pq.ParquetFile(path)
        except Exception as exc:
            raise ValueError(f"{path}: cannot read as Parquet: {exc}") from None
        meta = self.file.metadata
        schema = self.file.schema_arrow
        all_names = list(schema.names)
        self.sel = Selection(columns, all_names, len(all_names), path)
        self.columns = self.sel.names
        self.n_rows = meta.num_rows
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        self.group_starts = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        self.file_width = len(all_names)
        self.arrow_types = [schema.field(n).type for n in self.columns]
        self._types = None

    @property
    def names(self):
        return self.columns

    @property
    def dtype(self):
        if self._types is None:
            import pyarrow as pa

            dts = []
            for t in self.arrow_types:
                try:
                    dts.append(np.dtype(t.to_pandas_dtype()))
                except (NotImplementedError, TypeError):
                    dts.append(np.dtype(object))
                if pa.types.is_dictionary(t) or pa.types.is_string(t):
                    dts[-1] = np.dtype(object)
            self._types = _numeric_dtype(self.path, self.columns, dts)
        return self._types

    def _groups(self, start, stop):
        first = int(np.searchsorted(self.group_starts, start, side="right")) - 1
        last = int(np.searchsorted(self.group_starts, stop, side="left"))
        return list(range(max(first, 0), min(last, len(self.group_starts) - 1)))

    def _to_numpy(self, table):
        dtype = self.dtype
        out = np.empty((table.num_rows, len(self.columns)), dtype=dtype)
        for j, column in enumerate(table.columns):
            out[:, j] = column.to_numpy(zero_copy_only=False)
        return out[:, 0] if self.sel.squeeze else out

    def _read_table(self, start, stop):
        groups = self._groups(start, stop) if stop > start else []
        if not groups:
            return None
        try:
            table = self.file.read_row_groups(groups, columns=self.columns)
        except Exception as exc:
            raise ValueError(f"{self.path}: rows {start} to {stop}: cannot read: {exc}") from None
        return table.slice(start - int(self.group_starts[groups[0]]), stop - start)

    def read(self, start, stop):
        table = self._read_table(start, stop)
        return self.empty() if table is None else self._to_numpy(table)

    def read_frame(self, start, stop):
        """Rows ``[start, stop)`` as a DataFrame keeping each column's type."""
        pd = require("pandas", "as_frame=True")
        table = self._read_table(start, stop)
        if table is None:
            frame = pd.DataFrame({n: pd.Series(dtype=object) for n in self.columns})
        else:
            frame = table.to_pandas()
        frame.index = pd.RangeIndex(start, start + len(frame))
        return frame[self.columns[0]] if self.sel.squeeze else frame

    def batches(self, start, stop, batch_rows):
        groups = self._groups(start, stop) if stop > start else []
        if not groups:
            return

        def pieces():
            position = int(self.group_starts[groups[0]])
            stream = self.file.iter_batches(
                batch_size=batch_rows, row_groups=groups, columns=self.columns
            )
            for record_batch in stream:
                n = record_batch.num_rows
                lo, hi = max(start - position, 0), min(stop - position, n)
                position += n
                if hi > lo:
                    yield self._to_numpy(record_batch.slice(lo, hi - lo))

        yield from rebatch(pieces(), batch_rows)

    def empty(self):
        return self.sel.empty(self.file_width, self.dtype)

    def close(self):
        self.file.close()


# ---------------------------------------------------------------------------
# HDF5
# ---------------------------------------------------------------------------


def _find_dataset(h5py, handle, key, path):
    if key is not None:
        if key not in handle:
            raise ColumnNotFoundError(f"{path}: no dataset {key!r}")
        node = handle[key]
        if not isinstance(node, h5py.Dataset):
            raise ValueError(f"{path}: {key!r} is a group, not a dataset")
        return node
    found = []
    handle.visititems(
        lambda name, node: found.append(name) if isinstance(node, h5py.Dataset) else None
    )
    if len(found) != 1:
        listed = ", ".join(map(repr, found[:20])) or "none"
        raise ValueError(f"{path}: holds {len(found)} datasets ({listed}); choose one with key=")
    return handle[found[0]]


class HDF5Table(_ArrayTable):
    """One dataset of an HDF5 file, read by hyperslab (``dataset[start:stop]``).

    Column names come from a compound dataset's fields, or from a
    ``columns`` attribute of the dataset (a list of strings).
    """

    kind = "hdf5"

    def __init__(self, path, columns, key=None):
        h5py = require("h5py", "Reading HDF5 files")
        self.path = path
        try:
            self.file = h5py.File(path, "r")
        except OSError as exc:
            raise ValueError(f"{path}: cannot open as HDF5: {exc}") from None
        try:
            self._open(h5py, columns, key)
        except Exception:
            self.file.close()
            raise

    def _open(self, h5py, columns, key):
        path = self.path
        dset = self.dataset = _find_dataset(h5py, self.file, key, path)
        if dset.ndim not in (1, 2):
            raise ValueError(
                f"{path}: dataset {dset.name!r} is {dset.ndim}-D; rows need 1-D or 2-D"
            )
        self.n_rows = dset.shape[0]
        self.fields = list(dset.dtype.names) if dset.dtype.names else None
        if self.fields:
            file_names = self.fields
            dtypes = [dset.dtype[n] for n in self.fields]
        else:
            attr = dset.attrs.get("columns")
            file_names = (
                None
                if attr is None
                else [c.decode() if isinstance(c, bytes) else str(c) for c in np.ravel(attr)]
            )
            dtypes = [dset.dtype]
        self.file_width = (
            len(self.fields) if self.fields else (dset.shape[1] if dset.ndim == 2 else 1)
        )
        if file_names is not None and len(file_names) != self.file_width:
            raise ValueError(
                f"{path}: the 'columns' attribute names {len(file_names)} columns, the "
                f"dataset has {self.file_width}"
            )
        self.one_d = dset.ndim == 1 and not self.fields
        self.sel = Selection(columns, file_names, self.file_width, path)
        if self.fields and self.sel.indices is not None:
            dtypes = [dtypes[i] for i in self.sel.indices]
            file_names = self.sel.names
        self.dtype = _numeric_dtype(path, file_names or ["(data)"] * len(dtypes), dtypes)

    def read(self, start, stop):
        try:
            if self.fields:
                wanted = (
                    self.fields
                    if self.sel.indices is None
                    else [self.fields[i] for i in self.sel.indices]
                )
                block = self.dataset.fields(wanted)[start:stop]
                block = _structured_to_2d(np.atleast_1d(block), wanted, self.dtype)
                return block[:, 0] if self.sel.squeeze else block
            block = self.dataset[start:stop]
        except OSError as exc:
            raise ValueError(f"{self.path}: rows {start} to {stop}: cannot read: {exc}") from None
        return self._select(block)

    def close(self):
        self.file.close()


def open_table(path, columns=None, key=None):
    """Open a ``.npy``, Parquet or HDF5 file as a table (local)."""
    kind = file_kind(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}")
    if key is not None and kind != "hdf5":
        raise ValueError(f"{path}: key= names an HDF5 dataset; this is a {kind} file")
    if kind == "npy":
        return NpyTable(path, columns)
    if kind == "parquet":
        return ParquetTable(path, columns)
    if kind == "hdf5":
        return HDF5Table(path, columns, key)
    raise ValueError(f"{path}: not a binary table format")
