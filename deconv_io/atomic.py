"""Atomic output files: a failed or interrupted run never clobbers a file."""

import contextlib
import io
import os
import stat
import uuid
from pathlib import Path

import numpy as np


def _create_temp_beside(path, suffix=".tmp"):
    """Creates an empty, new temporary file in `path`'s folder.

    Unlike `tempfile.mkstemp` (mode 0600), the file gets the mode a plain
    `open(path, "w")` would give: the user's umask for a new file, the old
    file's mode when it replaces one.
    """
    folder = path.parent if str(path.parent) else Path(".")
    while True:
        tmp = folder / f".{path.name}.{uuid.uuid4().hex[:12]}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        break
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
    finally:
        os.close(fd)
    return tmp


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yields a temporary path beside `path`, moved onto `path` on success.

    The temporary file lives in the same folder so that `os.replace` is an
    atomic rename; on any exception (Ctrl-C included) it is removed and
    `path` is untouched.

    Args:
        path: the final file path.
        suffix: the temporary name's ending, for writers that insist on one
            (Keras's `save_weights` wants `.weights.h5`).

    Yields:
        A `pathlib.Path` to write the whole file to.

    Example:
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    tmp = _create_temp_beside(path, suffix)
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
