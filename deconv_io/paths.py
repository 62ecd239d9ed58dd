"""Checks of input and output paths, made before any computation.

Every command line names its inputs (image, weights, checkpoint) and its
outputs (`--dump`, `--save`, `--output-dir`, `--report`, a checkpoint
prefix) and hands them here first, so that a path that cannot work is
refused with one line before TensorFlow or matplotlib is even imported:

- an input must exist, be a regular file and be readable;
- an output must be a regular file or absent (never a device, FIFO, socket
  or folder: the atomic rename would replace it), must not be, after
  resolving links, one of the run's inputs, and must be creatable: its
  folder exists and is writable and searchable, its name and the temporary
  name the atomic writer uses fit the file system, a sticky folder lets
  this user replace it, and its estimated size fits the free space and the
  file-size limit (`ulimit -f`) where those can be read.

An output naming a symbolic link to a regular file is written through the
link (the file it points to is replaced; the link stays); a dangling link
is refused.
"""

import errno
import os
import stat
from pathlib import Path

from deconv_io.atomic import TEMP_EXTRA_BYTES, remove_stale_temps
from deconv_io.errors import InputError

__all__ = ["check_free_space", "check_input_file", "check_output_dir", "check_output_file",
           "check_outputs_distinct", "describe_mode", "folder_of", "is_dir", "same_file"]

_NAME_MAX_DEFAULT = 255
_PATH_MAX_DEFAULT = 4096


def describe_mode(mode):
    """Names a file type for a message: 'a directory', 'a FIFO', ...

    Example:
    >>> describe_mode(stat.S_IFIFO)
    'a FIFO (named pipe)'
    """
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"


def _reason(error):
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _stat(path, follow=True):
    """`os.stat` / `os.lstat`, None when the path does not exist."""
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:  # cannot exist; `_check_name` says why
            return None
        raise


def is_dir(path):
    """Whether `path` is a folder; False where it cannot be looked at."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def folder_of(path):
    """The folder a path's entry lives in (`.` for a bare name)."""
    path = Path(path)
    return path.parent if str(path.parent) else Path(".")


def same_file(a, b):
    """Whether two paths name one file: same device and inode, else same real path.

    Example:
    >>> same_file("a/../b.npz", "b.npz")
    True
    """
    try:
        one, two = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)
    return (one.st_dev, one.st_ino) == (two.st_dev, two.st_ino)


def check_input_file(path, what):
    """Refuses an input that is missing, not a regular file, or unreadable.

    Args:
        path: the file.
        what: its role, for the message (e.g. "Weights file").

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        InputError: with a one-line reason.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{what} not found: {path}") from None
    except (OSError, ValueError) as e:  # EACCES on a folder above, ELOOP, a NUL byte
        raise InputError(f"Cannot access {what.lower()} {path}: {_reason(e)}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{what} {path} is {describe_mode(info.st_mode)}, expected a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise InputError(f"Cannot read {what.lower()} {path}: {_reason(e)}") from None
    return path


def _limits(folder):
    def conf(name, default):
        try:
            value = os.pathconf(folder, name)
        except (OSError, ValueError):
            return default
        return value if value and value > 0 else default

    return conf("PC_NAME_MAX", _NAME_MAX_DEFAULT), conf("PC_PATH_MAX", _PATH_MAX_DEFAULT)


def _check_folder(folder, label):
    """The folder an output is created in: exists, a folder, writable."""
    info = _stat(folder)
    if info is None:
        raise InputError(f"{label}: folder {folder} does not exist")
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{label}: folder {folder} is not writable")


def _check_name(path, label, extra):
    """The entry's name, with `extra` bytes added by a temporary name, fits."""
    folder = folder_of(path)
    name_max, path_max = _limits(folder)
    size = len(os.fsencode(path.name))
    if size + extra > name_max:
        raise InputError(
            f"{label}: the file name is {size} bytes; at most {name_max - extra} are allowed "
            f"here ({name_max} bytes, less {extra} for the temporary file it is written as)")
    if len(os.fsencode(os.path.abspath(path))) + extra >= path_max:
        raise InputError(f"{label}: the path is too long (at most {path_max} bytes)")


def _check_sticky(path, folder, label):
    """A sticky folder lets only the owner (or root) replace a file."""
    info, where = _stat(path, follow=False), _stat(folder)
    if info is None or where is None or not where.st_mode & stat.S_ISVTX:
        return
    uid = os.geteuid()
    if uid != 0 and uid not in (info.st_uid, where.st_uid):
        raise InputError(
            f"{label}: {path} belongs to another user in the sticky folder {folder} "
            "(like /tmp), which lets only its owner replace it")


def check_free_space(folder, need, label):
    """Refuses a write of `need` bytes that cannot fit the disk or `ulimit -f`.

    Free space is read with `statvfs` (the blocks this user may use); where
    it cannot be read, nothing is refused.

    Raises:
        InputError: naming the need and what is free.
    """
    if not need:
        return
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        limit = -1
    if limit not in (-1, getattr(resource, "RLIM_INFINITY", -1)) and need > limit:
        raise InputError(f"{label}: about {need} bytes to write, over the file-size limit "
                         f"(ulimit -f) of {limit} bytes")
    try:
        info = os.statvfs(folder)
    except (OSError, ValueError):
        return
    free = (info.f_bfree if os.geteuid() == 0 else info.f_bavail) * info.f_frsize
    if need > free:
        raise InputError(f"{label}: about {need} bytes to write, but only {free} bytes are "
                         f"free in {folder}")


def _lookup(path, label):
    """`(lstat, stat)` of an output path (None where absent); a dangling link is refused."""
    try:
        link = _stat(path, follow=False)
        info = _stat(path)
    except (OSError, ValueError) as e:
        raise InputError(f"{label}: {_reason(e)}") from None
    if link is not None and info is None:
        raise InputError(f"{label}: is a dangling symbolic link (to {os.readlink(path)})")
    return link, info


def check_output_file(path, flag, inputs=(), size=None, extra=TEMP_EXTRA_BYTES,
                      clean_stale=True):
    """Fails early, before any work, when `path` cannot be written safely.

    Args:
        path: the output file a flag names, or None.
        flag: the flag, for the message (e.g. "--dump").
        inputs: the run's input files; an output that is one of them
            (after resolving links) is refused.
        size: estimated bytes of the file, or None (free space not checked).
        extra: bytes the temporary file's name adds to the output's name.
        clean_stale: remove every temporary file of this project's pattern
            that a killed run left in the output's folder, whatever output
            it was for (see `deconv_io.atomic.remove_stale_temps`: files a
            live run holds locked are kept).

    Returns:
        The path to write, a `pathlib.Path` (a link's target for a symbolic
        link), or None.

    Raises:
        InputError: see the module docstring.
    """
    if path is None:
        return None
    path = Path(path)
    label = f"{flag} {path}"
    link, info = _lookup(path, label)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(f"{label}: is {describe_mode(info.st_mode)}; an output must be a "
                         "regular file or not exist yet")
    if link is not None and stat.S_ISLNK(link.st_mode):
        path = Path(os.path.realpath(path))
    for given in inputs:
        if given is not None and same_file(path, given):
            raise InputError(f"{label}: is an input of this run ({given}); choose another "
                             "output path")
    folder = folder_of(path)
    _check_folder(folder, label)
    _check_name(path, label, extra)
    _check_sticky(path, folder, label)
    if size is not None:
        check_free_space(folder, size, label)
    if clean_stale:
        remove_stale_temps(folder)
    return path


def check_outputs_distinct(outputs):
    """Refuses two outputs that name the same file.

    Args:
        outputs: `{flag: path or None}`.

    Raises:
        InputError: "--dump and --save name the same file: PATH".
    """
    given = [(flag, path) for flag, path in outputs.items() if path is not None]
    for i, (flag, path) in enumerate(given):
        for other, other_path in given[i + 1:]:
            if same_file(path, other_path):
                raise InputError(f"{flag} and {other} name the same file: {path}")


def check_output_dir(folder, flag, inputs=()):
    """Fails early unless `folder` is, or can be made as, a writable folder.

    Args:
        folder: the folder a flag names (created later, after every check).
        flag: the flag, for the message (e.g. "--output-dir").
        inputs: the run's input files; a folder that is one is refused.

    Returns:
        `folder` as a `pathlib.Path`.

    Raises:
        InputError: `folder` exists and is not a folder, is a dangling
            symbolic link, or the folder it would be made in does not exist
            or is not writable.
    """
    folder = Path(folder)
    label = f"{flag} {folder}"
    _, info = _lookup(folder, label)
    if info is not None and not stat.S_ISDIR(info.st_mode):
        what = ("an input of this run" if any(g is not None and same_file(folder, g)
                                              for g in inputs) else "exists")
        raise InputError(f"{label}: {what} and is not a folder")
    if info is not None:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"{label}: folder {folder} is not writable")
        return folder
    parent = folder_of(folder)
    _check_folder(parent, label)
    _check_name(folder, label, 0)
    return folder

