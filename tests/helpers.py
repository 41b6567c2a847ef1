"""Helpers for SPMD tests: global data, this rank's rows, replication checks."""

import hashlib

import numpy as np
from mpi4py import MPI

WORLD = MPI.COMM_WORLD
SPLITS = ("even", "uneven", "empty")


def bounds(n_rows, split, size=None, rank=None):
    """``(start, stop)`` of this rank's rows of ``n_rows`` for a named split.

    ``even``: blocks differing by at most one row; ``uneven``: rank r gets a
    share proportional to ``(r + 1) ** 2``; ``empty``: rank 1 gets no rows, the
    others split evenly. At size 1 every split is the whole data.
    """
    size = WORLD.Get_size() if size is None else size
    rank = WORLD.Get_rank() if rank is None else rank
    if size == 1:
        return 0, n_rows
    if split == "even":
        weights = np.ones(size)
    elif split == "uneven":
        weights = (np.arange(size) + 1.0) ** 2
    elif split == "empty":
        weights = np.ones(size)
        weights[1] = 0.0
    else:
        raise ValueError(split)
    edges = np.concatenate(([0], np.floor(np.cumsum(weights) / weights.sum() * n_rows)))
    edges[-1] = n_rows
    edges = edges.astype(int)
    return int(edges[rank]), int(edges[rank + 1])


def local(split, *arrays):
    """This rank's rows of each global array (same rows of each)."""
    n = arrays[0].shape[0]
    start, stop = bounds(n, split)
    out = tuple(None if a is None else a[start:stop] for a in arrays)
    return out if len(out) > 1 else out[0]


def mapped_or_read_only(X, X_local, how, path):
    """This rank's rows ``X_local`` of ``X``, as the fit meets them in a file
    bigger than memory: a read-only memory map of ``X`` saved to ``path`` when
    ``how`` names ``"mmap"``, otherwise a read-only in-memory copy."""
    if "mmap" not in how:
        X_local = X_local.copy()
        X_local.setflags(write=False)
        return X_local
    if WORLD.Get_rank() == 0:
        np.save(path, X)
    WORLD.Barrier()
    start = WORLD.exscan(X_local.shape[0]) or 0
    return np.load(path, mmap_mode="r")[start : start + X_local.shape[0]]


def gather_rows(X_local):
    """Concatenate every rank's rows in rank order (for checks only)."""
    parts = WORLD.allgather(np.asarray(X_local))
    return np.concatenate(parts, axis=0)


def _digest(value):
    h = hashlib.sha256()
    if value is None:
        h.update(b"None")
    elif isinstance(value, np.ndarray) or np.isscalar(value):
        arr = np.asarray(value)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        if arr.dtype.kind == "O":  # the bytes of an object array are pointers
            h.update(repr(arr.tolist()).encode())
        else:
            h.update(np.ascontiguousarray(arr).tobytes())
    elif isinstance(value, (list, tuple)):
        for v in value:
            h.update(_digest(v).encode())
    else:
        h.update(repr(value).encode())
    return h.hexdigest()


def fitted_attributes(estimator, exclude=("labels_",)):
    """Public trailing-underscore attributes set by ``fit``."""
    return {
        k: v
        for k, v in vars(estimator).items()
        if k.endswith("_") and not k.startswith("_") and k not in exclude
    }


def assert_replicated(estimator, exclude=("labels_",)):
    """Every fitted attribute is bitwise identical on every rank."""
    digests = {k: _digest(v) for k, v in fitted_attributes(estimator, exclude).items()}
    everyone = WORLD.allgather(digests)
    for rank, other in enumerate(everyone):
        assert other == digests, (
            f"fitted attributes differ between this rank ({WORLD.Get_rank()}) and rank "
            f"{rank}: {sorted(k for k in digests if other.get(k) != digests[k])}"
        )


def assert_same_fit(ours, reference, rtol=1e-10, atol=1e-12, exclude=("labels_",)):
    """Every public fitted attribute of the sklearn reference is on ours and matches."""
    theirs = fitted_attributes(reference, exclude)
    for name, expected in theirs.items():
        assert hasattr(ours, name), f"missing fitted attribute {name}"
        got = getattr(ours, name)
        if expected is None or isinstance(expected, (str, bool)):
            assert got == expected, name
        elif isinstance(expected, np.ndarray) and expected.dtype.kind in "OUS":
            np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)


def launch(argv, size=None, env=None, cwd=None, timeout=120):
    """Run ``argv`` (under ``mpiexec -n size`` unless None) in a clean environment.

    Returns ``(returncode, stdout, stderr, seconds)``. The launch runs in its own
    process group, killed if it outlives ``timeout``; the calling test then fails.
    """
    import os
    import signal
    import subprocess
    import time

    import pytest
    from mpi_plugin import clean_env, mpiexec_path

    if size is not None:
        argv = [mpiexec_path(), "-n", str(size), *argv]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=clean_env(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(map(str, argv))} did not end within {timeout} s:\n"
                    f"{out[-2000:]}{err[-3000:]}")
    return proc.returncode, out, err, time.monotonic() - start
