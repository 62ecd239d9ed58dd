"""Atomic output files: a failed or interrupted run never clobbers a file."""

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`, moved onto `path` on success.

    The temporary file lives in the same folder so that `os.replace` is an
    atomic rename; on any exception it is removed and `path` is untouched.

    Args:
        path: the final file path.

    Yields:
        A `pathlib.Path` to write the whole file to.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(path, data):
    """Writes `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_npz_atomic(path, **arrays):
    """Saves `arrays` as an uncompressed `.npz` at exactly `path`, atomically.

    `np.savez` appends `.npz` to names without it; writing to a buffer first
    keeps the user's file name as given.
    """
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
