"""Read this rank's rows: per-rank files, a block of one shared file, batches, a scatter.

Every reader is collective: a missing or malformed file, an unknown column or
a missing optional reader on any rank raises the same exception on every rank
(naming the rank and the file, and the line for a CSV file) instead of leaving
the other ranks waiting.

Formats, by extension: ``.npy``; ``.parquet``/``.pq`` (pyarrow, the
``skspmd[parquet]`` extra); ``.h5``/``.hdf5`` (h5py, ``skspmd[hdf5]``); any
other file is a numeric CSV file, with or without a header row.
"""

from ._read import partition, read_csv, read_local, read_rows, scatter
from ._stream import RowBatches, iter_rows

__all__ = [
    "RowBatches",
    "iter_rows",
    "partition",
    "read_csv",
    "read_local",
    "read_rows",
    "scatter",
]
