"""Folder mode's outputs per image: what each is called, weighs, and when it is whole.

`--outputs` chooses any of three per image:

- `picture`: `DIR/<stem>.png`, the picture the demo shows (8-bit RGB, see
  `deconv_io.picture`);
- `output`: `DIR/<stem>.npy`, the `output` array, float32
  `(1, 2*ceil(H/2), 2*ceil(W/2), 3)` as in a dump. Plain `.npy`: the
  float32 output hardly compresses, and compressing it costs far more than
  writing it plain (figures in docs/folder-mode.md), so plain is cheaper
  end to end;
- `stages`: `DIR/<stem>.npz`, the full dump (`image`, the kernels, `conv1`,
  `pool`, `output`; a tiled image's holds `image`, the kernels and `output`),
  as `--dump` writes it, uncompressed.

No TensorFlow here: the command line checks outputs before importing it.
"""

import numpy as np

from deconv_io.dumps import DUMP_NAMES, TILED_DUMP_NAMES, dump_bytes, dump_is_complete
from deconv_io.picture import picture_bytes, picture_is_complete

__all__ = ["DEFAULT_OUTPUTS", "OUTPUT_KINDS", "OUTPUT_SUFFIXES", "output_bytes",
           "output_is_complete", "output_path", "outputs_bytes", "parse_outputs"]

#: The kinds, in the order they are written.
OUTPUT_KINDS = ("picture", "output", "stages")
#: The file each kind writes: `DIR/<stem><suffix>`.
OUTPUT_SUFFIXES = {"picture": ".png", "output": ".npy", "stages": ".npz"}
#: What folder mode writes unless told otherwise.
DEFAULT_OUTPUTS = ("picture", "output")
# The .npy header (at most this; numpy pads it to 64 or 128 bytes).
_NPY_HEADER = 128


def parse_outputs(text):
    """Turns `--outputs` text ("picture,output") into a tuple of kinds.

    Returns:
        The kinds named, once each, in `OUTPUT_KINDS` order.

    Raises:
        ValueError: an empty list or an unknown kind (the message names them).

    Example:
    >>> parse_outputs("stages, picture")
    ('picture', 'stages')
    """
    names = [name.strip().lower() for name in str(text).split(",")]
    unknown = [name for name in names if name not in OUTPUT_KINDS]
    if unknown or not any(names):
        raise ValueError(f"expected a comma-separated list of {', '.join(OUTPUT_KINDS)}, "
                         f"got {text!r}")
    return tuple(kind for kind in OUTPUT_KINDS if kind in names)


def output_path(output_dir, stem, kind):
    """The file of one kind for one image: `output_dir/<stem><suffix>`."""
    from pathlib import Path

    return Path(output_dir) / f"{stem}{OUTPUT_SUFFIXES[kind]}"


def _output_shape(height, width):
    return (1, 2 * -(-height // 2), 2 * -(-width // 2), 3)


def output_bytes(kind, height, width, tiled=False):
    """An upper bound of one output file's size for an (height, width) image.

    Example:
    >>> output_bytes("output", 750, 500)
    4500128
    """
    _, rows, cols, _ = _output_shape(height, width)
    if kind == "picture":
        return picture_bytes(rows, cols)
    if kind == "output":
        return _NPY_HEADER + 4 * rows * cols * 3
    return dump_bytes(height, width, names=TILED_DUMP_NAMES if tiled else DUMP_NAMES)


def outputs_bytes(kinds, height, width, tiled=False):
    """The bytes all of `kinds` write for one image (an upper bound)."""
    return sum(output_bytes(kind, height, width, tiled) for kind in kinds)


def _npy_is_complete(path, height, width):
    try:
        size = path.stat().st_size
        with open(path, "rb") as fp:
            version = np.lib.format.read_magic(fp)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(fp)
            header = fp.tell()
    except Exception:  # noqa: BLE001 - any damage means "redo it"
        return False
    if dtype != np.float32 or fortran or len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        return False
    if height and width and tuple(shape) != _output_shape(height, width):
        return False
    return size == header + 4 * int(np.prod(shape))


def output_is_complete(kind, path, height=None, width=None):
    """Whether the `kind` file at `path` is whole and fits an (height, width) image.

    Reads the headers (and, for a picture, decodes it): a truncated,
    damaged or foreign file gives False; never raises for a bad file.
    Sizes that are None are not compared.
    """
    if kind == "picture":
        _, rows, cols, _ = _output_shape(height, width) if height and width else (0, 0, 0, 0)
        return picture_is_complete(path, rows, cols)
    if kind == "output":
        return _npy_is_complete(path, height, width)
    return dump_is_complete(path, height, width)
