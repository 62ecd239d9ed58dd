"""Lets the process reuse freed memory for large tensors instead of faulting in new pages.

TensorFlow's CPU allocator takes every tensor's buffer from `malloc`. glibc
serves a request above its mmap threshold (at most 32 MiB by default) with a
fresh `mmap` and returns it to the kernel on `free`, so every large tensor
(a 16 x 750 x 500 x 3 float32 batch is 72 MB) costs one page fault per 4 KiB
page on first touch, each run again: kernel time that can exceed the
computation itself. glibc also gives every thread that allocates its own
arena, and a thread arena's heap (64 MiB at most) cannot hold such a buffer,
so a worker thread's large tensors are mmapped whatever the threshold.

`keep_freed_memory` sets three `mallopt` parameters: one arena
(`M_ARENA_MAX`), requests up to `limit` bytes from the heap
(`M_MMAP_THRESHOLD`), and freed memory kept for reuse rather than trimmed
(`M_TRIM_THRESHOLD`). The cost: the process's resident size stays at its
peak until it exits, and all threads share one arena's lock (TensorFlow
allocates few, large buffers). The command lines that run many images (`python
-m tf2`, the benchmark) call it at start; a library user opts in by calling
it once, before TensorFlow starts its threads. Nothing changes on systems
without glibc (macOS, Windows, musl): the call returns False there.

Example:
>>> kept() in (True, False)  # keep_freed_memory() has been called, or not
True
"""

import ctypes
import ctypes.util
import os
import sys

__all__ = ["DEFAULT_LIMIT", "keep_freed_memory", "kept"]

#: Requests up to this many bytes are served from the heap (larger ones
#: still get their own mapping, returned to the kernel when freed).
DEFAULT_LIMIT = 2**30

# glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_state = {"kept": False}


def _glibc():
    """glibc's `mallopt`, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others
            return None
        return libc.mallopt
    except OSError:
        return None


def keep_freed_memory(limit=DEFAULT_LIMIT):
    """Asks glibc's malloc to keep and reuse freed memory up to `limit` bytes a request.

    Args:
        limit: the largest request served from the heap, in bytes (an int,
            1 MiB to 2**31 - 1).

    Returns:
        True when the three parameters were set (glibc), False otherwise
        (no glibc, or `DECONV_KEEP_FREED_MEMORY=0` in the environment).

    Raises:
        ValueError: `limit` out of range.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 2**20 <= limit < 2**31:
        raise ValueError("Invalid value for argument `limit`. Expected an int in "
                         f"[2**20, 2**31). Received: limit={limit!r}")
    if os.environ.get("DECONV_KEEP_FREED_MEMORY", "1") == "0":
        return False
    mallopt = _glibc()
    if mallopt is None:
        return False
    ok = all(mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1
             for param, value in ((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, limit),
                                  (_M_TRIM_THRESHOLD, limit)))
    _state["kept"] = _state["kept"] or ok
    return ok


def kept():
    """Whether `keep_freed_memory` has taken effect in this process."""
    return _state["kept"]
