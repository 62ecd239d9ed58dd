"""Large images in bounded memory: the demo's `output` computed tile by tile.

The untiled full pipeline holds `conv1` (64 float32 channels per pixel) and
`pool` beside the image and the output: 344 bytes per pixel for the arrays,
about 700 at peak (measured), 70 GB for a 10000x10000 image. Tiled, only the image, the output and one tile's
intermediates are alive at once.

The halo (one axis; the other is the same). Let the image have `H` rows,
`P = ceil(H / 2)` pool rows and `2P` output rows.

- `output` (conv2d_transpose, k=3, s=2, SAME): the total padding is
  `(P - 1) * 2 + 3 - 2P = 1`, split with the smaller half first, so
  `pad_before = 0` and `output[y] = sum pool[i] * w[d]` over `y = 2i + d`,
  `d in 0..2`. Output rows `[2a, 2b)` therefore need pool rows `[a - 1, b)`
  (`i = a - 1` reaches `y = 2a` through `d = 2`; `i = b` would start at
  `2b`).
- `pool` (max 2x2, s=2, SAME): pool row `i` is the max of conv rows
  `2i, 2i + 1` (padding, below an odd last row, is never selected), so pool
  rows `[a - 1, b)` need conv rows `[2a - 2, 2b)`.
- `conv1` (conv2d, k=3, s=1, SAME, one zero row of padding on each side):
  conv row `r` reads image rows `r - 1 .. r + 1`, so conv rows
  `[2a - 2, 2b)` need image rows `[2a - 3, 2b + 1)`.
- The crop fed to the pipeline must start on an EVEN image row so that its
  2x2 pooling windows are the global ones; `2a - 3` is odd, so the crop
  starts one row earlier, at `2a - 4` (that row only feeds conv row
  `2a - 4` and pool row `a - 2`, which are computed and thrown away).
- At the image's own borders the crop is clipped to `[0, H)`, where SAME's
  zero padding is the true padding. Inside the image, the crop's own
  padding only reaches conv and pool rows outside those needed: the crop
  `[2a - 4, 2b + 1)` ends on an odd length, so its last pool window (conv row
  `2b`, wrong for lack of row `2b + 1`) is pool row `b`, never read.

So output rows `[y0, y1)` (`y0` even) are computed exactly from image rows
`[max(0, y0 - 4), min(H, y1 + 1))`: a halo of 4 rows before and 1 after.
`tests/test_tf2_tiling.py` checks this against the float64 reference's
dependency pattern (which output rows a NaN in one image row reaches), shows
that one row less on either side changes the result, and compares tiled with
untiled runs on odd sizes.

The planning helpers here import no TensorFlow, so a command line can refuse
an image that cannot fit before loading TensorFlow or decoding the image.
"""

import dataclasses
import math
import re

import numpy as np

from deconv_io.errors import InputError
from deconv_io.images import peek_image_size
from deconv_io.memory import available_memory

__all__ = [
    "BYTES_PER_PIXEL_FULL",
    "MAX_AUTO_TILE",
    "MIN_TILE",
    "MemoryPlan",
    "RUNTIME_BYTES",
    "Tile",
    "default_budget",
    "format_bytes",
    "halo_window",
    "parse_bytes",
    "peek_image_size",
    "plan_memory",
    "plan_tiles",
    "run_tiled",
    "stage_bytes",
    "tile_count",
]

#: Peak bytes per input pixel of one run of the full pipeline
#: (`DeconvDemo.stages`). The stages alone are 344 (image 12 + conv1 256 +
#: pool 64 + output 12, float32); measured peak RSS growth was 677 B/px on a
#: 2000x2000 image (TensorFlow's copy of the fed image, and oneDNN's
#: reordered copy of conv1 beside TensorFlow's), so 700 is used.
BYTES_PER_PIXEL_FULL = 700

#: Memory the process holds besides the arrays: the Python interpreter,
#: TensorFlow's runtime, the module (measured: about 0.76 GB of RSS before
#: the first run).
RUNTIME_BYTES = 2**30

#: Largest tile side chosen automatically (bigger tiles save nothing: the
#: halo is already under 0.3% of a 2048x2048 tile).
MAX_AUTO_TILE = 2048

#: Smallest tile side accepted (tiles must be even, see the module docstring).
MIN_TILE = 2

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


def default_budget():
    """Half of `available_memory()` (4 GiB when it cannot be read).

    Example:
    >>> default_budget() > 0
    True
    """
    available = available_memory()
    return available // 2 if available else 4 * 2**30


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


@dataclasses.dataclass(frozen=True)
class MemoryPlan:
    """How an image will be run, and the memory that needs.

    Attributes:
        tile: `(rows, cols)` of a tile in output pixels, or None (untiled).
        estimate: estimated peak bytes of the chosen way.
        untiled: estimated peak bytes of the untiled full run.
        budget: the memory allowed, in bytes.
    """

    tile: tuple
    estimate: int
    untiled: int
    budget: int

    @property
    def tiled(self):
        return self.tile is not None


def _tiled_bytes(batch, height, width, tile):
    """Input + output held whole, plus one tile (with its halo) run through.

    The tile is costed as the full path's (a safe bound for the fast path,
    which measured 21 B/px with the demo's bilinear kernel).
    """
    whole = stage_bytes(batch, height, width)
    rows, cols = min(tile[0], height + 1) + 5, min(tile[1], width + 1) + 5
    one = BYTES_PER_PIXEL_FULL * batch * rows * cols
    return RUNTIME_BYTES + whole["image"] + whole["output"] + one


def _untiled_bytes(batch, height, width):
    return RUNTIME_BYTES + BYTES_PER_PIXEL_FULL * batch * height * width


def _check_tile(tile):
    rows, cols = (tile, tile) if np.isscalar(tile) else tuple(tile)
    for side in (rows, cols):
        if (isinstance(side, bool) or not isinstance(side, (int, np.integer))
                or side < MIN_TILE or side % 2):
            raise ValueError(
                "Invalid value for argument `tile`. Expected an even int >= 2 (or a pair "
                "of them): tiles must start on even rows and columns so that the 2x2 "
                f"pooling windows are the untiled ones. Received: tile={tile!r}"
            )
    return int(rows), int(cols)


def plan_memory(batch, height, width, tile=None, budget=None):
    """Decides whether (and how) to tile, before any work is done.

    Without `tile`, the image runs untiled when the untiled full pipeline's
    estimate fits the budget, else in the largest square tile (even, at most
    `MAX_AUTO_TILE`) that fits. With `tile`, that tile is used when it fits.

    Args:
        batch, height, width: the input's `(N, H, W, 3)`.
        tile: an even int >= 2 or a pair `(rows, cols)` of them, or None.
        budget: bytes allowed; None: `default_budget()`.

    Returns:
        A `MemoryPlan`.

    Raises:
        InputError: even the smallest tile cannot fit: the input and the
            output alone (plus TensorFlow's runtime) exceed the budget, or
            the given tile does not fit.
        ValueError: a bad `tile`.

    Example:
    >>> plan_memory(1, 10000, 10000, budget=8 * 2**30).tiled
    True
    """
    budget = default_budget() if budget is None else int(budget)
    untiled = _untiled_bytes(batch, height, width)
    shape = f"{batch}x{height}x{width}x3"
    if tile is not None:
        tile = _check_tile(tile)
        need = _tiled_bytes(batch, height, width, tile)
        if need > budget:
            raise InputError(
                f"image {shape} in {tile[0]}x{tile[1]} tiles needs about {format_bytes(need)}, "
                f"more than the memory budget of {format_bytes(budget)}; use a smaller "
                "--tile or raise --max-memory"
            )
        return MemoryPlan(tile=tile, estimate=need, untiled=untiled, budget=budget)
    if untiled <= budget:
        return MemoryPlan(tile=None, estimate=untiled, untiled=untiled, budget=budget)
    smallest = _tiled_bytes(batch, height, width, (MIN_TILE, MIN_TILE))
    if smallest > budget:
        whole = stage_bytes(batch, height, width)
        raise InputError(
            f"image {shape} cannot fit in the memory budget of {format_bytes(budget)} even "
            f"tiled: its input ({format_bytes(whole['image'])}) and output "
            f"({format_bytes(whole['output'])}) alone, with TensorFlow's runtime, need about "
            f"{format_bytes(smallest)}; raise --max-memory or use a smaller image"
        )
    side = MAX_AUTO_TILE
    while side > MIN_TILE and _tiled_bytes(batch, height, width, (side, side)) > budget:
        side = max(MIN_TILE, (side // 2) & ~1)
    tile = (side, side)
    return MemoryPlan(tile=tile, estimate=_tiled_bytes(batch, height, width, tile),
                      untiled=untiled, budget=budget)


def halo_window(start, stop, size):
    """The image rows (or columns) that output rows `[start, stop)` need.

    See the module docstring for the derivation: output rows `[2a, 2b)` need
    image rows `[2a - 3, 2b + 1)`, and the crop starts one row earlier so
    that it starts on an even row.

    Args:
        start: first output row, even.
        stop: one past the last output row, `start < stop <= 2 * ceil(size / 2)`
            (an odd `stop`, i.e. a last row `2a`, needs image rows up to
            `2a + 2`, as the even `stop + 1` does).
        size: the image's rows (or columns).

    Returns:
        `(first, last)`: crop the image to rows `[first, last)`; `first` is
        even, and output row `y` is row `y - first` of the crop's output.

    Raises:
        ValueError: `start` odd, or the range outside the output.

    Example:
    >>> halo_window(8, 16, 37)
    (4, 17)
    >>> halo_window(0, 38, 37)
    (0, 37)
    """
    out_size = 2 * -(-size // 2)
    if start % 2 or not 0 <= start < stop <= out_size:
        raise ValueError(
            "Invalid value for arguments `start`, `stop`. Expected an even start and "
            f"0 <= start < stop <= {out_size} (the output rows of a side of {size}). "
            f"Received: start={start}, stop={stop}"
        )
    # An odd stop ends on an even row, which reads one image row further.
    return max(0, start - 4), min(size, stop + 1 + stop % 2)


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile: the output block it fills and the image crop it reads.

    Attributes:
        out_rows, out_cols: `(start, stop)` in the output.
        in_rows, in_cols: `(start, stop)` of the image crop (halo included).
    """

    out_rows: tuple
    out_cols: tuple
    in_rows: tuple
    in_cols: tuple


def plan_tiles(height, width, tile):
    """Cuts the output of an image into tiles, row by row.

    Args:
        height, width: the image's size.
        tile: an even int >= 2, or `(rows, cols)` of them: the output block
            of each tile (edge tiles are smaller).

    Returns:
        A list of `Tile` covering the output `(2*ceil(H/2), 2*ceil(W/2))`
        once, in row-major order.

    Example:
    >>> [t.out_rows + t.out_cols for t in plan_tiles(5, 3, 4)]
    [(0, 4, 0, 4), (4, 6, 0, 4)]
    """
    rows, cols = _check_tile(tile)
    out_h, out_w = 2 * -(-height // 2), 2 * -(-width // 2)
    tiles = []
    for y0 in range(0, out_h, rows):
        y1 = min(out_h, y0 + rows)
        for x0 in range(0, out_w, cols):
            x1 = min(out_w, x0 + cols)
            tiles.append(Tile(out_rows=(y0, y1), out_cols=(x0, x1),
                              in_rows=halo_window(y0, y1, height),
                              in_cols=halo_window(x0, x1, width)))
    return tiles


def run_tiled(demo, images, tile, compute="output", out=None, progress=None):
    """Computes the demo's `output` tile by tile, into one preallocated array.

    Each tile's crop (see `halo_window`) runs through `demo.output` (the
    output-only path: only the conv channels the deconv kernel reads, by the
    implementation measured fastest for the tile's shape) or `demo.stages`
    (`compute="stages"`: every conv channel, as the untiled run); the crop's
    output, less its halo, is copied into `out`. The whole `conv1` and
    `pool` never exist.

    Exactness: every output pixel is computed from the same image pixels
    by the same ops as untiled, but a crop is another shape, whose sums the
    library may order differently: tiled and untiled agree within the
    derived rounding bound of `migration_audit.bounds` (exactly in integer
    arithmetic).

    Args:
        demo: a `tf2.DeconvDemo`.
        images: `(N, H, W, 3)` array-like (cast to float32).
        tile: an even int >= 2, or `(rows, cols)` of them.
        compute: `"output"` or `"stages"`: the `DeconvDemo` method run.
        out: optional preallocated float32 `(N, 2*ceil(H/2), 2*ceil(W/2), 3)`
            array (e.g. a `np.memmap`); else one is allocated.
        progress: show a tqdm bar on stderr: True, False, or None (only when
            stderr is a terminal).

    Returns:
        `out`, the float32 output `(N, 2*ceil(H/2), 2*ceil(W/2), 3)`.

    Raises:
        ValueError: a bad `tile`, `compute`, `images` or `out`.

    Example:
    >>> from tf2.demo import DeconvDemo
    >>> run_tiled(DeconvDemo(seed=1), np.ones((1, 37, 53, 3), np.float32), 8).shape
    (1, 38, 54, 3)
    """
    if compute not in ("output", "stages"):
        raise ValueError(
            "Invalid value for argument `compute`. Expected 'output' or 'stages'. "
            f"Received: compute={compute!r}"
        )
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] != 3 or 0 in images.shape:
        raise ValueError(
            "Invalid value for argument `images`. Expected a non-empty (N, H, W, 3) "
            f"array. Received: images.shape={images.shape}"
        )
    n, height, width, _ = images.shape
    shape = (n, 2 * -(-height // 2), 2 * -(-width // 2), 3)
    if out is None:
        out = np.empty(shape, np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(
            f"Invalid value for argument `out`. Expected a float32 array of shape {shape}. "
            f"Received: shape={out.shape}, dtype={out.dtype}"
        )
    tiles = plan_tiles(height, width, tile)
    import sys

    from tqdm import tqdm

    from tf2.demo import aligned_empty, as_numpy, as_tensor

    disable = None if progress is None else not progress
    for t in tqdm(tiles, unit="tile", file=sys.stderr, disable=disable, leave=False):
        (r0, r1), (c0, c1) = t.in_rows, t.in_cols
        # An aligned crop is handed to TensorFlow without a copy, and the
        # tile's output is read through a view: one copy in, one out.
        crop = aligned_empty((n, r1 - r0, c1 - c0, 3), np.float32)
        crop[...] = images[:, r0:r1, c0:c1]
        tensor = as_tensor(crop)
        result = (demo.output(tensor) if compute == "output"
                  else demo.stages(tensor)["output"])
        (y0, y1), (x0, x1) = t.out_rows, t.out_cols
        out[:, y0:y1, x0:x1] = as_numpy(result)[:, y0 - r0:y1 - r0, x0 - c0:x1 - c0]
        del result, tensor, crop
    return out


def tile_count(height, width, tile):
    """The number of tiles `plan_tiles` makes.

    Example:
    >>> tile_count(37, 53, 8)
    35
    """
    rows, cols = _check_tile(tile)
    return math.ceil(2 * -(-height // 2) / rows) * math.ceil(2 * -(-width // 2) / cols)
