"""The memory model both command lines use to refuse, or tile, a run that cannot fit.

A run of the demo holds, per input pixel, the stages (`stage_bytes`: image
12 B, conv1 256, pool 64, output 12 in float32) and the copies its runtime
makes, plus a fixed runtime (`RUNTIME_BYTES`). The copies differ between
the two pipelines, so each port owns its bytes-per-pixel figure:
`legacy_tf1.memory.TF1_SESSION_BYTES_PER_PIXEL` and
`tf2.memory_plan.TF2_STAGES_BYTES_PER_PIXEL`. `peak_bytes` is the one
estimate: `RUNTIME_BYTES + bytes_per_pixel * N * H * W`. No TensorFlow
here, so a command line can refuse an image before importing it.
"""

import re

from deconv_io.errors import InputError
from deconv_io.memory import available_memory

__all__ = ["RUNTIME_BYTES", "default_budget", "format_bytes", "parse_bytes", "peak_bytes",
           "stage_bytes"]

#: Memory a process holds besides the arrays: the Python interpreter,
#: TensorFlow's runtime, the graph or module.
RUNTIME_BYTES = 2**30


def peak_bytes(batch, height, width, bytes_per_pixel):
    """The estimated peak memory of one run: runtime plus bytes per pixel.

    Args:
        batch, height, width: the input's `(N, H, W, 3)`.
        bytes_per_pixel: the pipeline's figure, which its port owns
            (e.g. `tf2.memory_plan.TF2_STAGES_BYTES_PER_PIXEL`).

    Returns:
        Bytes, an int.

    Example:
    >>> peak_bytes(1, 1000, 1000, 700) == 2**30 + 700 * 10**6
    True
    """
    return RUNTIME_BYTES + bytes_per_pixel * batch * height * width


def stage_bytes(batch, height, width, channels=64):
    """Bytes of the arrays one pipeline run holds, by stage.

    Args:
        batch, height, width: the input's `(N, H, W, 3)`.
        channels: conv channels computed (64 for the full path; the fast
            path computes only the channels the deconv kernel reads, 3 for
            the demo's bilinear kernel).

    Returns:
        A dict `{"image", "conv1", "pool", "output"}` of byte counts.

    Example:
    >>> stage_bytes(1, 750, 500)["conv1"]
    96000000
    """
    p, q = -(-height // 2), -(-width // 2)
    return {"image": batch * height * width * 3 * 4,
            "conv1": batch * height * width * channels * 4,
            "pool": batch * p * q * channels * 4,
            "output": batch * 2 * p * 2 * q * 3 * 4}


def default_budget():
    """Half of `available_memory()` (4 GiB when it cannot be read).

    Example:
    >>> default_budget() > 0
    True
    """
    available = available_memory()
    return available // 2 if available else 4 * 2**30


_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text):
    """Parses a memory size: bytes, or a number with a K, M, G or T suffix.

    Suffixes are binary (`4G` is 4 * 2**30 bytes); `KB`, `KiB`, `GB`,
    `GiB`... are read the same way, and case does not matter.

    Args:
        text: e.g. `"4G"`, `"512M"`, `"1.5GiB"`, `"1000000"`.

    Returns:
        The size in bytes, an int >= 1.

    Raises:
        InputError: not a size.

    Example:
    >>> parse_bytes("4G")
    4294967296
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*", str(text),
                         flags=re.IGNORECASE)
    if match is None:
        raise InputError(f"--max-memory: expected a size such as 4G, 512M or 1000000 "
                         f"(bytes). Received: {text!r}")
    value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value < 1:
        raise InputError(f"--max-memory: expected a size >= 1 byte. Received: {text!r}")
    return value


def format_bytes(n):
    """Formats a byte count for a message, e.g. `'34.4 GB'` (decimal units).

    Example:
    >>> format_bytes(34_400_000_000)
    '34.4 GB'
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


