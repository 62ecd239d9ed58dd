"""How much memory the system has and can give: one reader for every command line.

Both ports refuse, before any work, a run that would not fit (the TF1 port
does not tile; the TF2 port tiles), and the benchmark records the machine's
memory; all read it here. No TensorFlow.
"""

import os

__all__ = ["available_memory", "total_memory"]


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


def available_memory():
    """The memory the system can give this process now, in bytes.

    `MemAvailable` of /proc/meminfo (Linux), else the free physical pages
    `os.sysconf` reports, else None.

    Example:
    >>> available_memory() > 0
    True
    """
    value = _meminfo("MemAvailable")
    return value if value is not None else _sysconf("SC_AVPHYS_PAGES")


def total_memory():
    """The machine's physical memory in bytes, or None.

    Example:
    >>> total_memory() >= available_memory()
    True
    """
    value = _meminfo("MemTotal")
    return value if value is not None else _sysconf("SC_PHYS_PAGES")
