"""The process around a run: environment variables and standard streams.

Checked and set up by `deconv_runtime.cli.run_main` before any work:

- environment variables that make TensorFlow abort (a thread count that is
  not a positive int) or matplotlib raise at import (an unknown
  `MPLBACKEND`) are refused with one line, before either is started;
- stdout and stderr print any character in any encoding
  (`PYTHONIOENCODING=ascii` and a non-ASCII folder name): what the stream
  cannot encode is written as a backslash escape;
- a failed write to stdout (a full device, an I/O error) says it was
  stdout (`StdoutError`), not only the system's reason.
"""

import contextlib
import errno
import os
import sys

from deconv_io.checks import parse_int
from deconv_io.errors import InputError

__all__ = ["THREAD_VARIABLES", "StdoutError", "check_environment", "guarded_stdout",
           "safe_encoding"]

#: Variables TensorFlow (or its OpenMP runtime) reads as thread counts.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


class StdoutError(InputError):
    """Standard output could not be written (one line on stderr, exit 2)."""


def _positive_ints(text, allow_list):
    parts = text.split(",") if allow_list else [text]
    return all(parse_int(part, 1) is not None for part in parts)


def check_environment(environ=None):
    """Refuses environment variables that would abort TensorFlow or matplotlib.

    Args:
        environ: the environment (default `os.environ`).

    Raises:
        InputError: naming the variable, what it holds and what is expected.

    Example:
    >>> check_environment({"OMP_NUM_THREADS": "4,2", "MPLBACKEND": "Agg"})
    >>> check_environment({"TF_NUM_INTRAOP_THREADS": "-3"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deconv_io.errors.InputError: Invalid environment variable TF_NUM_INTRAOP_THREADS='-3': ...
    """
    environ = os.environ if environ is None else environ
    for name in THREAD_VARIABLES:
        value = environ.get(name)
        if value is None or value.strip() == "":
            continue
        if not _positive_ints(value, allow_list=name == "OMP_NUM_THREADS"):
            expected = "an int >= 1" + (" or a list of them, such as 4,2"
                                        if name == "OMP_NUM_THREADS" else "")
            raise InputError(f"Invalid environment variable {name}={value!r}: expected "
                             f"{expected} (or unset it)")
    backend = environ.get("MPLBACKEND")
    if backend:
        _check_backend(backend)


def _check_backend(backend):
    from deconv_io.display import quiet_matplotlib_import

    try:
        # matplotlib's first import validates MPLBACKEND; once imported, rcsetup does.
        with quiet_matplotlib_import():
            from matplotlib import rcsetup
        rcsetup.validate_backend(backend)
    except ValueError:
        raise InputError(f"Invalid environment variable MPLBACKEND={backend!r}: not a "
                         "matplotlib backend (try Agg, or unset it)") from None


def safe_encoding():
    """Makes stdout and stderr escape what their encoding cannot write."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.reconfigure(errors="backslashreplace")


class _GuardedStdout:
    """Stands in for `sys.stdout`: a failed write raises `StdoutError`."""

    def __init__(self, stream):
        self._stream = stream

    def _guard(self, method, *args):
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError:
            raise
        except OSError as e:
            reason = e.strerror or str(e) or type(e).__name__
            if e.errno == errno.ENOSPC:
                reason += " (is stdout redirected to a full disk or /dev/full?)"
            raise StdoutError(f"cannot write to standard output: {reason}") from None

    def write(self, text):
        return self._guard("write", text)

    def writelines(self, lines):
        return self._guard("writelines", lines)

    def flush(self):
        return self._guard("flush")

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded_stdout():
    """For the block, `sys.stdout` raises `StdoutError` when a write fails."""
    saved = sys.stdout
    if saved is None or isinstance(saved, _GuardedStdout):
        yield
        return
    sys.stdout = _GuardedStdout(saved)
    try:
        yield
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = saved
