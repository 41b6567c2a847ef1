"""Numeric CSV, parsed locally (no MPI): skspmd's one set of CSV rules.

Rules: a line's fields are split at the delimiter and stripped; one trailing
delimiter adds no field (files written by daal4py's examples have one). A
first line with a field that is not a number is a header (``header="infer"``).
A row is a line with a non-blank character: blank lines are skipped
everywhere (counting and parsing agree on that). Shared by :mod:`skspmd.io`
and the daal4py layer (whose CSV input must not have a header).

A CSV file has no row index, so :mod:`skspmd.io` finds rows by bytes: the body
(after the header line) is cut into byte ranges, and a line belongs to the
range that holds its first byte. Ranges are read in line-aligned chunks of a
few MiB. Parsing uses NumPy's C parser (``numpy.loadtxt``) on a chunk; when
it fails, a Python parser redoes the chunk line by line to name the first bad
line, and the line number in the file is found by counting the newlines
before it (only on that error path).
"""

import io
import os
import warnings

import numpy as np

__all__ = [
    "CsvLayout",
    "count_range",
    "has_header",
    "is_numeric_row",
    "locate_row",
    "parse",
    "parse_range",
    "rank_range",
    "read_csv",
    "split_fields",
    "stream",
]

# Bytes read at a time when counting or parsing a range (4 MiB).
CHUNK_BYTES = 1 << 22
_WHITESPACE_START = (b"\n", b"\r", b" ", b"\t")


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


class CsvLayout:
    """What any rank learns from the head of a CSV file (local reads only).

    ``body_start`` is the byte where data lines start (after the header),
    ``names`` the header's column names (None without a header), ``width``
    the number of fields of the first data line (0 for a file without data),
    ``trailing`` whether data lines end with one extra delimiter.
    """

    def __init__(self, path, delimiter=",", header="infer"):
        self.path = os.fspath(path)
        self.delimiter = delimiter
        self.size = os.path.getsize(self.path)
        with open(self.path, "rb") as f:
            raw = f.readline()
            first = raw.decode("utf-8", errors="replace")
            if header == "infer":
                skip = has_header(first, delimiter)
            else:
                skip = bool(header) and bool(first.strip())
            names = split_fields(first, delimiter) if skip else None
            self.names = None if names is None else [n.strip("\"'") for n in names]
            self.body_start = len(raw) if skip else 0
            f.seek(self.body_start)
            data_line = ""
            for line in f:
                if line.strip():
                    data_line = line.decode("utf-8", errors="replace")
                    break
        self.trailing = data_line.rstrip().endswith(delimiter)
        self.width = len(split_fields(data_line, delimiter)) if data_line else len(names or ())
        if self.names is not None and data_line and len(self.names) != self.width:
            raise ValueError(
                f"{self.path}: the header names {len(self.names)} columns but the first "
                f"data line has {self.width} fields"
            )


# ---------------------------------------------------------------------------
# Rows in a chunk of bytes
# ---------------------------------------------------------------------------


_WHITESPACE_CODES = np.frombuffer(b"".join(_WHITESPACE_START), dtype=np.uint8)


def _blank_free(buf):
    """True when no line of ``buf`` can be blank (a quick test; False means: check).

    No line starts with whitespace (``\\n``, ``\\r``, space, tab): the bytes
    after the newlines are looked at all at once (NumPy, several GB/s; four
    substring searches ran at about 300 MB/s together).
    """
    if buf[:1] in _WHITESPACE_START:
        return False
    a = np.frombuffer(buf, dtype=np.uint8)
    after = a[np.flatnonzero(a[:-1] == 10) + 1]
    return not np.isin(after, _WHITESPACE_CODES).any()


def count_rows(buf):
    """Number of non-blank lines in ``buf``."""
    if not buf:
        return 0
    if _blank_free(buf):
        n = buf.count(b"\n")
        last = buf[buf.rfind(b"\n") + 1 :]
        return n + (1 if last.strip() else 0)
    return sum(1 for line in buf.split(b"\n") if line.strip())


def _row_offset(buf, k):
    """Where the ``k``-th non-blank line of ``buf`` starts (``len(buf)`` past the end)."""
    if _blank_free(buf):
        if k == 0:
            return 0
        newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        return int(newlines[k - 1]) + 1 if k - 1 < newlines.shape[0] else len(buf)
    position, seen = 0, 0
    for line in buf.split(b"\n"):
        if line.strip():
            if seen == k:
                return position
            seen += 1
        position += len(line) + 1
    return len(buf)


def _split_rows(buf, k):
    cut = _row_offset(buf, k)
    return buf[:cut], buf[cut:]


def _lines_before(path, byte):
    """Physical lines that end before ``byte`` (for error messages)."""
    n = 0
    with open(path, "rb") as f:
        while byte > 0:
            data = f.read(min(CHUNK_BYTES, byte))
            if not data:
                break
            n += data.count(b"\n")
            byte -= len(data)
    return n


def _parse_slow(text, lay, first_byte):
    """Parse line by line; a bad line raises with its line number in the file."""
    rows = []
    delimiter, width = lay.delimiter, lay.width

    def where(i):  # only on the error path: counts the newlines before the chunk
        return f"{lay.path}, line {_lines_before(lay.path, first_byte) + i + 1}"

    for i, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if not stripped:
            continue
        fields = line.rstrip("\r").split(delimiter)
        if len(fields) > 1 and fields[-1].strip() == "":  # one trailing delimiter
            fields = fields[:-1]
        if len(fields) != width:
            raise ValueError(
                f"{where(i)}: {len(fields)} fields, expected {width} "
                "(ragged rows or truncated file)"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise ValueError(f"{where(i)}: non-numeric field in {stripped[:80]!r}") from None
    return np.array(rows, dtype=np.float64).reshape(-1, width)


def parse(buf, lay, first_byte):
    """The rows of ``buf`` (whole lines starting at byte ``first_byte`` of the file)."""
    if lay.trailing:
        d = lay.delimiter.encode()
        buf = buf.replace(d + b"\r\n", b"\r\n").replace(d + b"\n", b"\n")
        if buf.endswith(d):
            buf = buf[: -len(d)]
    if not buf.strip():
        return np.empty((0, lay.width))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            # bytes in, decoded by the C reader as it goes: no text copy of the chunk
            X = np.loadtxt(
                io.BytesIO(buf),
                delimiter=lay.delimiter,
                comments=None,
                ndmin=2,
                dtype=np.float64,
                encoding="latin-1",
            )
        if X.shape[1] == lay.width:
            return X
    except ValueError:
        pass
    return _parse_slow(buf.decode("utf-8", errors="replace"), lay, first_byte)


# ---------------------------------------------------------------------------
# Byte ranges
# ---------------------------------------------------------------------------


def _align(f, pos, lay):
    """The first line start at or after byte ``pos`` of the body."""
    if pos <= lay.body_start:
        return lay.body_start
    if pos >= lay.size:
        return lay.size
    f.seek(pos - 1)
    if f.read(1) == b"\n":
        return pos
    f.readline()
    return min(f.tell(), lay.size)


def rank_range(lay, rank, size):
    """Line-aligned ``(lo, hi)`` bytes of the body for ``rank`` of ``size``."""
    body = lay.size - lay.body_start
    with open(lay.path, "rb") as f:
        lo = _align(f, lay.body_start + body * rank // size, lay)
        hi = _align(f, lay.body_start + body * (rank + 1) // size, lay)
    return lo, max(lo, hi)


def _chunks(f, lo, hi, chunk_bytes=CHUNK_BYTES):
    """``(offset, bytes)`` of whole lines covering ``[lo, hi)`` (both line-aligned)."""
    f.seek(lo)
    pos, tail = lo, b""
    while pos < hi:
        data = f.read(min(chunk_bytes, hi - pos))
        if not data:
            break
        start = pos - len(tail)
        pos += len(data)
        data = tail + data
        if pos < hi:
            cut = data.rfind(b"\n") + 1
            data, tail = data[:cut], data[cut:]
        else:
            tail = b""
        if data:
            yield start, data
    if tail:
        yield pos - len(tail), tail


def parse_range(lay, lo, hi):
    """Every row in the line-aligned byte range ``[lo, hi)``."""
    with open(lay.path, "rb") as f:
        parts = [parse(buf, lay, offset) for offset, buf in _chunks(f, lo, hi)]
    if not parts:
        return np.empty((0, lay.width))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def count_range(lay, lo, hi):
    """Rows in ``[lo, hi)`` and checkpoints ``(offset, end, rows before, rows in chunk)``."""
    checkpoints, total = [], 0
    with open(lay.path, "rb") as f:
        for offset, buf in _chunks(f, lo, hi):
            n = count_rows(buf)
            checkpoints.append((offset, offset + len(buf), total, n))
            total += n
    return total, checkpoints


def locate_row(lay, checkpoints, k, hi):
    """Byte offset of the ``k``-th row of a counted range (``hi`` when ``k`` is its row count)."""
    for offset, end, before, n in checkpoints:
        if before <= k < before + n:
            with open(lay.path, "rb") as f:
                f.seek(offset)
                buf = f.read(end - offset)
            return offset + _row_offset(buf, k - before)
    return hi


def stream(lay, offset, n_rows, batch_rows):
    """Batches of ``batch_rows`` rows (last may be short) of ``n_rows`` rows from byte ``offset``.

    Each batch is a preallocated array filled chunk by chunk: at most one
    chunk of text (about one batch of bytes, at most ``CHUNK_BYTES``) is
    held besides the batch.
    """
    remaining, read_size = n_rows, 1 << 13
    lines, lines_at = b"", offset  # whole lines read, not parsed yet, and their offset
    tail, tail_at = b"", offset  # a partial line read ahead
    parsed_bytes = parsed_rows = 0
    with open(lay.path, "rb") as f:
        f.seek(offset)
        while remaining > 0:
            want = min(batch_rows, remaining)
            out = np.empty((want, lay.width))
            filled = 0
            while filled < want:
                if not lines:
                    data = f.read(read_size)
                    if not data and not tail.strip():
                        raise ValueError(
                            f"{lay.path}: the file ended {remaining - filled} row(s) early "
                            "(was it changed while being read?)"
                        )
                    data = tail + data if data else tail + b"\n"
                    cut = data.rfind(b"\n") + 1
                    lines, lines_at, tail = data[:cut], tail_at, data[cut:]
                    tail_at += cut
                    if not lines:  # a line longer than the read: read more
                        read_size = min(2 * read_size, CHUNK_BYTES)
                        continue
                need = want - filled
                if count_rows(lines) > need:
                    cut = _row_offset(lines, need)
                    part, lines = lines[:cut], lines[cut:]
                else:
                    part, lines = lines, b""
                X = parse(part, lay, lines_at)
                lines_at += len(part)
                out[filled : filled + X.shape[0]] = X
                filled += X.shape[0]
                parsed_bytes, parsed_rows = parsed_bytes + len(part), parsed_rows + X.shape[0]
            remaining -= want
            # later reads: about one batch of bytes at a time
            per_row = parsed_bytes / max(parsed_rows, 1)
            read_size = int(min(max(per_row * batch_rows, 1 << 12), CHUNK_BYTES))
            yield out


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
    lay = CsvLayout(path, delimiter, header)
    return parse_range(lay, lay.body_start, lay.size)
