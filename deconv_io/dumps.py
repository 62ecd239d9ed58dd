"""Dump files (`--dump`, folder mode's `DIR/<stem>.npz`): their size and completeness."""

import zipfile

import numpy as np

from deconv_io.weights import KERNEL_SHAPE

__all__ = ["DUMP_NAMES", "STAGES", "TILED_DUMP_NAMES", "dump_bytes", "dump_is_complete"]

#: The pipeline's stage names, in order: the same words in both ports, dumps,
#: the audit's runners and reports, and the benchmarks.
STAGES = ("conv1", "pool", "output")
#: Arrays of a `--dump` file, in order.
DUMP_NAMES = ("image", "conv_kernel", "deconv_kernel") + STAGES
#: Arrays of a tiled run's dump: `conv1` and `pool` are never held whole.
TILED_DUMP_NAMES = ("image", "conv_kernel", "deconv_kernel", "output")

# An .npz member's zip headers and .npy header, at most.
_OVERHEAD_PER_ARRAY = 512


def _shapes(height, width):
    p, q = -(-height // 2), -(-width // 2)
    return {"image": (1, height, width, 3), "conv_kernel": KERNEL_SHAPE,
            "deconv_kernel": KERNEL_SHAPE, "conv1": (1, height, width, 64),
            "pool": (1, p, q, 64), "output": (1, 2 * p, 2 * q, 3)}


def dump_bytes(height, width, names=DUMP_NAMES):
    """The size of a dump file of one (height, width) image, in bytes (an upper bound).

    Example:
    >>> dump_bytes(750, 500) > 750 * 500 * 64 * 4
    True
    """
    shapes = _shapes(height, width)
    return sum(4 * int(np.prod(shapes[name])) + _OVERHEAD_PER_ARRAY for name in names)


def dump_is_complete(path, height=None, width=None):
    """Whether `path` opens as a dump and holds the expected arrays.

    Reads the zip directory and each array's header (not the data): every
    array a full or a tiled dump holds is there, float32, of the shape the
    image size gives (when known), and each member's bytes are all in the
    file. A truncated, damaged or foreign file gives False.

    Args:
        path: the dump file.
        height, width: the image's size, or None (shapes not compared).

    Returns:
        True or False; never raises for a bad file.
    """
    shapes = _shapes(height, width) if height and width else None
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info
                       for info in archive.infolist()}
            if not set(TILED_DUMP_NAMES) <= set(members) <= set(DUMP_NAMES):
                return False
            for name, info in members.items():
                if info.header_offset + info.compress_size > size:
                    return False
                with archive.open(info) as fp:
                    version = np.lib.format.read_magic(fp)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fp)
                    header = fp.tell()
                if dtype != np.float32 or header + 4 * int(np.prod(shape)) != info.file_size:
                    return False
                if shapes is not None and tuple(shape) != shapes[name]:
                    return False
    except Exception:  # noqa: BLE001 - any damage means "redo it"
        return False
    return True
