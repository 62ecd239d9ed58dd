"""What a shimmed script reads, and how it may end, kept to the command-line contract.

`record_reads` notes every file the script opens for reading, through the
calls a TF1 script uses for it: `open` (its own builtins), `PIL.Image.open`,
matplotlib's `imread` (`plt.imread`), NumPy's `load`, `loadtxt`, `genfromtxt` and
`fromfile`, and TensorFlow's file reads (`tf.io.gfile.GFile`, `tf.gfile`'s
`GFile`, `Open` and `FastGFile`, `tf.io.read_file` / `tf.read_file` given a
name). Each read is kept as its resolved path and its device and inode, so
that `check_not_read` refuses an output that would replace one of them, by
name, symbolic link or hard link (the shipped script reads `timg.jpg`
through a link into `data/`).

`script_exit` maps the script's own `SystemExit` to the contract: status 0
(or None) is a normal end, anything else one `InputError` line.
`restore_streams` gives the program its stdout and stderr back when the
script closed them (`sys.stdout.close()` leaves descriptor 1 open).
"""

import contextlib
import io
import os
import sys

from deconv_io.errors import InputError

__all__ = ["FileRead", "check_not_read", "describe_exception", "record_reads",
           "restore_streams", "run_code", "script_exit"]


class FileRead:
    """One file a script read: its absolute and resolved path, device and inode."""

    __slots__ = ("path", "real", "key")

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.real = os.path.realpath(path)
        try:
            info = os.stat(path)
            self.key = (info.st_dev, info.st_ino)
        except (OSError, ValueError):
            self.key = None

    def same_as(self, other):
        """Whether `other` (a path) is this file, by inode or by resolved path."""
        try:
            info = os.stat(other)
        except (OSError, ValueError):
            info = None
        if info is not None and self.key is not None:
            return (info.st_dev, info.st_ino) == self.key
        return os.path.realpath(other) == self.real


def _file_argument(args, kwargs, names=("file", "fp", "fname", "name", "filename")):
    value = args[0] if args else next((kwargs[n] for n in names if n in kwargs), None)
    if isinstance(value, (str, bytes, os.PathLike)):
        return os.fsdecode(value)
    return None


def _reading(args, kwargs, position=1):
    mode = args[position] if len(args) > position else kwargs.get("mode", "r")
    return not isinstance(mode, str) or "r" in mode or "+" in mode


def _recorder(function, reads, check_mode=False, mode_position=1):
    def recorded(*args, **kwargs):
        path = _file_argument(args, kwargs)
        if path and (not check_mode or _reading(args, kwargs, mode_position)):
            reads.append(FileRead(path))
        return function(*args, **kwargs)

    recorded.__wrapped__ = function
    recorded.__name__ = getattr(function, "__name__", "recorded")
    recorded.__doc__ = getattr(function, "__doc__", None)
    return recorded


def _targets():
    """`(module, attribute, checks mode)` of every reading call that is recorded."""
    import matplotlib.image
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    targets = [(Image, "open", False), (matplotlib.image, "imread", False)]
    targets += [(np, name, False) for name in ("load", "loadtxt", "genfromtxt", "fromfile")]
    for gfile in (tf.io.gfile, tf.compat.v1.gfile, tf.compat.v1.io.gfile):
        targets += [(gfile, name, True) for name in ("GFile", "Open", "FastGFile")
                    if hasattr(gfile, name)]
    for module in (tf.io, tf.compat.v1.io, tf.compat.v1):
        if hasattr(module, "read_file"):
            targets.append((module, "read_file", False))
    return targets


@contextlib.contextmanager
def record_reads(script_builtins):
    """Records the files the script reads while the block runs.

    Args:
        script_builtins: the script's own builtins dict; its `open` is
            replaced (the process's `builtins.open` is left alone).

    Yields:
        The list of `FileRead`s, filled as the script runs.
    """
    reads = []
    script_builtins["open"] = _recorder(script_builtins["open"], reads, check_mode=True)
    saved = []
    try:
        for module, name, check_mode in _targets():
            original = getattr(module, name)
            if any(getattr(original, "__wrapped__", None) is s for _, _, s in saved):
                continue
            saved.append((module, name, original))
            setattr(module, name, _recorder(original, reads, check_mode=check_mode))
        yield reads
    finally:
        for module, name, original in reversed(saved):
            setattr(module, name, original)


def check_not_read(outputs, reads):
    """Refuses an output that is a file the script read.

    Args:
        outputs: `{flag: path or None}`.
        reads: the `FileRead`s `record_reads` collected.

    Raises:
        InputError: "--save PATH: is a file the script read (...)".
    """
    for flag, path in outputs.items():
        if path is None:
            continue
        for read in reads:
            if read.same_as(path):
                raise InputError(f"{flag} {path}: is a file the script read ({read.path}); "
                                 "choose another output path (nothing was written)")


def describe_exception(error):
    """`TypeName: message` on one line, even when the exception's `__str__` raises."""
    try:
        message = " ".join(str(error).splitlines())
    except Exception:  # noqa: BLE001 - a script's exception may not print
        message = "(its message cannot be printed)"
    name = type(error).__name__
    return f"{name}: {message}" if message else name


def script_exit(error, where):
    """The script's `SystemExit`: None for a normal end (status 0), else an `InputError`.

    Args:
        error: the `SystemExit`.
        where: "SCRIPT line N: " or "".
    """
    code = error.code
    if code is None or code == 0:
        return None
    if isinstance(code, int):
        return InputError(f"{where}the script exited with status {code}")
    try:
        message = " ".join(str(code).splitlines())
    except Exception:  # noqa: BLE001
        message = "(a message that cannot be printed)"
    return InputError(f"{where}the script exited: {message}")


def run_code(code, namespace, line_of, path):
    """`exec(code, namespace)`; the script's `SystemExit(0)` ends it normally.

    Args:
        code, namespace: what `exec` runs.
        line_of: `line_of(exception)` -> the script's line number, or None.
        path: the script, for the message.

    Raises:
        InputError: the script exited with a non-zero status or a message.
    """
    try:
        exec(code, namespace)  # noqa: S102 - running the user's script is the job
    except SystemExit as e:
        line = line_of(e)
        stop = script_exit(e, f"{path.name} line {line}: " if line else f"{path.name}: ")
        if stop is not None:
            raise stop from None


def _reopen(stream, fd):
    try:
        return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False),
                                encoding=stream.encoding or "utf-8",
                                errors=stream.errors or "backslashreplace",
                                line_buffering=True)
    except (OSError, ValueError, AttributeError):
        return stream


@contextlib.contextmanager
def restore_streams():
    """Gives back stdout and stderr as they were when the script replaced or closed them."""
    saved = sys.stdout, sys.stderr
    try:
        yield
    finally:
        for name, stream, fd in (("stdout", saved[0], 1), ("stderr", saved[1], 2)):
            if stream.closed:
                stream = _reopen(stream, fd)
            setattr(sys, name, stream)
