"""Numeric CSV text, parsed locally (no MPI): skspmd's one set of CSV rules.

A line's fields are split at the delimiter and stripped; one trailing
delimiter adds no field. A first line with a field that is not a number is a
header. Shared by :mod:`skspmd.io` (which re-exports :func:`read_csv`) and the
daal4py layer (whose CSV input must not have a header).
"""

import os

import numpy as np

__all__ = ["has_header", "is_numeric_row", "parse_lines", "read_csv", "split_fields"]


def _is_number(field):
    try:
        float(field)
    except ValueError:
        return False
    return True


def split_fields(line, delimiter):
    """The stripped fields of one line; a trailing delimiter adds no field."""
    fields = [f.strip() for f in line.rstrip("\r\n").split(delimiter)]
    if fields and fields[-1] == "":
        fields = fields[:-1]
    return fields


def is_numeric_row(line, delimiter):
    """Whether ``line`` holds at least one field and only numbers."""
    fields = split_fields(line, delimiter)
    return bool(fields) and all(_is_number(f) for f in fields)


def has_header(first_line, delimiter):
    """Whether a file's first line is a header: it has a field that is not a number."""
    fields = split_fields(first_line, delimiter)
    return bool(fields) and not all(_is_number(f) for f in fields)


def parse_lines(lines, path, delimiter, first_line_number=1):
    """Parse numeric CSV lines; ragged rows or text fields are errors naming the line."""
    rows = []
    width = None
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        fields = split_fields(line, delimiter)  # tolerates one trailing delimiter
        try:
            row = [float(f) for f in fields]
        except ValueError:
            raise ValueError(
                f"{path}, line {first_line_number + i}: non-numeric field in {line!r}"
            ) from None
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(
                f"{path}, line {first_line_number + i}: {len(row)} fields, "
                f"expected {width} (ragged rows)"
            )
        rows.append(row)
    if not rows:
        return np.empty((0, 0))
    return np.asarray(rows, dtype=np.float64)


def read_csv(path, delimiter=",", header="infer"):
    """Read a numeric CSV file (local, not collective).

    Parameters
    ----------
    path : str or os.PathLike
    delimiter : str, default=","
    header : "infer", bool
        Whether the first line is a header of column names; ``"infer"``
        treats a first line with any non-numeric field as a header.

    Returns
    -------
    X : ndarray of shape (n_rows, n_columns), float64

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from skspmd.io import read_csv
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "data.csv")
    ...     with open(path, "w") as f:
    ...         _ = f.write("a,b\\n1,2\\n3,4\\n")
    ...     read_csv(path)  # the header row is detected
    array([[1., 2.],
           [3., 4.]])
    """
    path = os.fspath(path)
    with open(path) as f:
        first = f.readline()
    skip = has_header(first, delimiter) if header == "infer" else bool(header)
    try:  # fast path: NumPy's C parser
        return np.loadtxt(
            path, delimiter=delimiter, skiprows=int(skip), ndmin=2, dtype=np.float64
        )
    except ValueError:
        pass
    # slow path: tolerates a trailing delimiter, and names the line of any error
    with open(path) as f:
        lines = f.readlines()[int(skip):]
    return parse_lines(lines, path, delimiter, first_line_number=1 + int(skip))
