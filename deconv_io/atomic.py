"""Atomic output files: a failed or interrupted run never clobbers a file.

Every output is written to a temporary file `.NAME.<12 hex>.tmp` in the
output's folder, flushed to disk (`fsync`), renamed onto `NAME`, and the
folder is flushed too, so that neither a crash nor a power loss leaves a
half-written `NAME`.

While a temporary file is being written its writer holds an exclusive
`flock` on it; a process that dies (even by SIGKILL) drops the lock, so a
later run can tell a leftover temporary file from a live one
(`remove_stale_temps`). An interrupted run stops all further renames and
removes its own temporary files (`stop_writes`).
"""

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import threading
import uuid
from pathlib import Path

import numpy as np

from deconv_io.errors import InputError

__all__ = ["OutputError", "TEMP_EXTRA_BYTES", "TEMP_PATTERN", "atomic_path", "begin_run",
           "remove_stale_temps", "save_npz_atomic", "stop_writes", "temp_folder_beside",
           "temp_name", "write_bytes_atomic", "written_outputs"]

_HEX_DIGITS = 12
#: Names of this project's temporary files: `.NAME.<12 hex digits>.tmp`.
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{%d}\.tmp(?:\.[A-Za-z0-9]+){0,2}$"
                          % _HEX_DIGITS)
#: Bytes a temporary file's name adds to its output's name ("." "." hex ".tmp").
TEMP_EXTRA_BYTES = 2 + _HEX_DIGITS + len(".tmp")


class OutputError(OSError, InputError):
    """An output file could not be written (disk full, a size limit, ...).

    Both an `OSError` (with the original `errno`) and the project's
    `InputError`, so that command lines report it as one line, exit 2.
    Printed as its message alone (no "[Errno N]" before it).
    """

    def __str__(self):
        return self.strerror or super().__str__()


# One lock over the run's shared state: the temporary files alive now, the
# outputs renamed into place, and whether the run was told to stop.
_LOCK = threading.Lock()
_LIVE = set()
_WRITTEN = []
_STOPPED = False


def begin_run():
    """Forgets the previous run's state (a command line calls it first)."""
    global _STOPPED
    with _LOCK:
        _LIVE.clear()
        _WRITTEN.clear()
        _STOPPED = False


def written_outputs():
    """The outputs this run renamed into place, in order."""
    with _LOCK:
        return tuple(_WRITTEN)


def stop_writes():
    """Stops this run's writing: no rename after this, temporary files removed.

    Safe to call while another thread is writing: that thread's pending
    rename is refused, and the file it writes to is already unlinked.

    Returns:
        The outputs renamed into place before the stop.
    """
    global _STOPPED
    with _LOCK:
        _STOPPED = True
        live = list(_LIVE)
        _LIVE.clear()
        written = tuple(_WRITTEN)
    for path in live:
        _remove(path)
    return written


def _remove(path):
    with contextlib.suppress(OSError):
        if Path(path).is_dir() and not Path(path).is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def temp_name(name, suffix=""):
    """A fresh temporary name for output `name`, `.NAME.<12 hex>.tmp[SUFFIX]`.

    Example:
    >>> bool(TEMP_PATTERN.match(temp_name("out.npz")))
    True
    >>> bool(TEMP_PATTERN.match(temp_name("w.weights.h5", ".weights.h5")))
    True
    """
    return f".{name}.{uuid.uuid4().hex[:_HEX_DIGITS]}.tmp{suffix}"


def _new_locked_temp(path, make, suffix=""):
    """Makes a new temporary entry beside `path` with `make(tmp) -> fd`, locked.

    A cleaner may take the entry for stale between its creation and the
    lock: then it is gone, and another name is drawn.

    Returns:
        `(tmp, fd)`: the path, registered as alive, and a descriptor holding
        its `flock`.
    """
    folder = path.parent if str(path.parent) else Path(".")
    while True:
        tmp = folder / temp_name(path.name, suffix)
        with _LOCK:
            if _STOPPED:
                raise InputError("interrupted: no further output is written")
            try:
                fd = make(tmp)
            except FileExistsError:  # pragma: no cover - 48 random bits
                continue
            _LIVE.add(str(tmp))
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(tmp).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return tmp, fd
        os.close(fd)
        with _LOCK:
            _LIVE.discard(str(tmp))


def _make_file(tmp):
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


def _make_folder(tmp):
    os.mkdir(tmp, 0o700)
    return os.open(tmp, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _create_temp_beside(path, suffix=""):
    """Creates an empty, new, locked temporary file in `path`'s folder.

    Unlike `tempfile.mkstemp` (mode 0600), the file gets the mode a plain
    `open(path, "w")` would give: the user's umask for a new file, the old
    file's mode when it replaces one.

    Returns:
        `(tmp, fd)`: the temporary path and a descriptor holding its lock.
    """
    tmp, fd = _new_locked_temp(path, _make_file, suffix)
    with contextlib.suppress(FileNotFoundError):
        os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
    return tmp, fd


def _fsync_folder(folder):
    """Flushes a folder's entries (the rename) to disk, where supported."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems cannot sync a folder
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(fd)


def _commit(tmp, fd, path):
    """fsync, then rename `tmp` onto `path` unless the run was stopped."""
    os.fsync(fd)
    with _LOCK:
        if _STOPPED:
            raise InputError("interrupted: no further output is written")
        os.replace(tmp, path)
        _LIVE.discard(str(tmp))
        _WRITTEN.append(str(path))
    _fsync_folder(path.parent if str(path.parent) else Path("."))


@contextlib.contextmanager
def atomic_path(path, suffix="", lock=True):
    """Yields a temporary path beside `path`, moved onto `path` on success.

    The temporary file lives in the same folder so that `os.replace` is an
    atomic rename; it is `fsync`ed before the rename and the folder after
    it. On any exception (Ctrl-C included) it is removed and `path` is
    untouched. An `OSError` while writing (disk full, a file-size limit, a
    refused rename) comes out as `OutputError`, naming `path`.

    Args:
        path: the final file path.
        suffix: an ending after the temporary name's `.tmp`, for writers
            that insist on one (Keras's `save_weights` wants `.weights.h5`):
            `TEMP_PATTERN` allows up to two such parts.
        lock: hold this run's `flock` on the temporary file while it is
            written; False for writers that lock the file themselves (HDF5
            does, and fails on a file locked by another descriptor).

    Yields:
        A `pathlib.Path` to write the whole file to.

    Raises:
        OutputError: the file could not be written.

    Example:
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    try:
        tmp, fd = _create_temp_beside(path, suffix)
        if not lock:
            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as e:
        raise _output_error(path, e) from None
    try:
        try:
            yield tmp
            _commit(tmp, fd, path)
        except OSError as e:
            raise _output_error(path, e) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        os.close(fd)
        with _LOCK:
            _LIVE.discard(str(tmp))


def _output_error(path, error):
    if isinstance(error, OutputError):
        return error
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno == errno.EFBIG:
        reason += " (the file-size limit, ulimit -f, is too small)"
    return OutputError(error.errno, f"Cannot write {path}: {reason}")


@contextlib.contextmanager
def temp_folder_beside(path):
    """A new, locked temporary folder `.NAME.<12 hex>.tmp` beside `path`.

    For outputs made of several files (a checkpoint): they are written in
    it and renamed into place by the caller. The folder is removed on exit,
    by `stop_writes` on an interrupt, and, if the process is killed, by a
    later run's `remove_stale_temps`.

    Yields:
        The folder, a `pathlib.Path`.

    Raises:
        OutputError: it cannot be made.
    """
    path = Path(path)
    try:
        tmp, fd = _new_locked_temp(path, _make_folder)
    except OSError as e:
        raise _output_error(path, e) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(fd)
        with _LOCK:
            _LIVE.discard(str(tmp))


def remove_stale_temps(folder, names=None):
    """Removes temporary files that killed runs left in `folder`.

    Only files (and `temp_folder_beside` folders) named like this
    project's (`.NAME.<12 hex>.tmp`, see `TEMP_PATTERN`) that no live
    process holds locked are removed; a concurrent run's temporary files
    are left alone.

    Args:
        folder: the folder to clean.
        names: only temporary files of these output names (None: any).

    Returns:
        The number of files removed.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        found = TEMP_PATTERN.match(entry.name)
        if not found or (names is not None and found["name"] not in names):
            continue
        if entry.is_symlink():
            continue
        if entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
            removed += _remove_if_unlocked(entry.path)
    return removed


def _remove_if_unlocked(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        info = os.fstat(fd)
        if os.lstat(path).st_ino != info.st_ino:
            return 0
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        return 1
    except OSError:  # locked by a live writer, or gone meanwhile
        return 0
    finally:
        os.close(fd)


def write_bytes_atomic(path, data):
    """Writes `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_npz_atomic(path, **arrays):
    """Saves `arrays` as an uncompressed `.npz` at exactly `path`, atomically.

    `np.savez` appends `.npz` to names without it; given an open file it
    keeps the user's file name as given. It writes each array in pieces,
    so a signal is handled between them rather than after the whole file.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
