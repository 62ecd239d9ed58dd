"""Memory: how much the system can give, and buffers TensorFlow can share.

Both ports refuse, before any work, a run that would not fit (the TF1 port
does not tile; the TF2 port tiles), and the benchmark records the machine's
memory; all read it here. `aligned_empty` makes arrays that TensorFlow can
use without a copy (`tf2._convert.as_tensor`). No TensorFlow here.
"""

import os

import numpy as np

__all__ = ["ALIGNMENT", "aligned_empty", "available_memory", "resident_bytes", "total_memory"]

#: TF's CPU kernels require buffers aligned to 64 bytes (EIGEN_MAX_ALIGN_BYTES);
#: TensorFlow copies (or, given a misaligned buffer through DLPack, aborts).
ALIGNMENT = 64


def aligned_empty(shape, dtype=np.float32):
    """An uninitialised C-contiguous array whose data is 64-byte aligned.

    Example:
    >>> aligned_empty((2, 3)).ctypes.data % ALIGNMENT
    0
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def _meminfo(key):
    """A /proc/meminfo field in bytes (Linux), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf(name):
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf(name)
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left():
    """Bytes the address-space limit (`ulimit -v`, RLIMIT_AS) still allows, or None."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    if limit in (-1, resource.RLIM_INFINITY):
        return None
    used = None
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, limit - (used or 0))


def _cgroup_memory_left():
    """Bytes this process's cgroup (v2) may still use, or None."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            line = next((x for x in f if x.startswith("0::")), None)
        if line is None:
            return None
        base = "/sys/fs/cgroup" + line.strip()[3:]
        with open(f"{base}/memory.max", encoding="ascii") as f:
            text = f.read().strip()
        if text == "max":
            return None
        with open(f"{base}/memory.current", encoding="ascii") as f:
            current = int(f.read().strip())
        return max(0, int(text) - current)
    except (OSError, ValueError, StopIteration):
        return None


def available_memory():
    """The memory the system can give this process now, in bytes.

    `MemAvailable` of /proc/meminfo (Linux), else the free physical pages
    `os.sysconf` reports; lowered to what an address-space limit
    (`ulimit -v`) or a cgroup memory limit still allows; None when nothing
    can be read.

    Example:
    >>> available_memory() > 0
    True
    """
    value = _meminfo("MemAvailable")
    value = value if value is not None else _sysconf("SC_AVPHYS_PAGES")
    for limit in (_address_space_left(), _cgroup_memory_left()):
        if limit is not None:
            value = limit if value is None else min(value, limit)
    return value


def total_memory():
    """The machine's physical memory in bytes, or None.

    Example:
    >>> total_memory() >= available_memory()
    True
    """
    value = _meminfo("MemTotal")
    return value if value is not None else _sysconf("SC_PHYS_PAGES")


def resident_bytes(pid="self"):
    """A process's resident memory (VmRSS of /proc/PID/status, Linux), or None.

    Example:
    >>> resident_bytes() > 0
    True
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
