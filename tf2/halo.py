"""Tile geometry: which image rows (or columns) a block of output rows needs.

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
`[max(0, y0 - 4), min(H, y1 + 1))`: a halo of `HALO_BEFORE` = 4 rows before
and `HALO_AFTER` = 1 after.
`tests/test_tf2_tiling.py` checks this against the float64 reference's
dependency pattern (which output rows a NaN in one image row reaches), shows
that one row less on either side changes the result, and compares tiled with
untiled runs on odd sizes.

The halo is named here (`HALO_BEFORE`, `HALO_AFTER`) and used nowhere as a
bare number. No TensorFlow here.
"""

import dataclasses
import math

import numpy as np

from deconv_io.checks import is_int

__all__ = ["HALO", "HALO_AFTER", "HALO_BEFORE", "MIN_TILE", "Tile", "check_tile",
           "halo_window", "plan_tiles", "tile_count"]

#: Image rows a crop reads before its first output row `2a`: the transposed
#: conv reaches back one pool row, the pool two conv rows and conv1 one image
#: row (`2a - 3`), and one more row makes the crop start on an even row.
HALO_BEFORE = 4
#: Image rows a crop reads past its last output row (`2b` -> `2b + 1`): conv1's
#: one row of reach after.
HALO_AFTER = 1
#: Both together: how much larger than its output block a crop is, per side.
HALO = HALO_BEFORE + HALO_AFTER

#: Smallest tile side accepted (tiles must be even, see the module docstring).
MIN_TILE = 2


def check_tile(tile):
    """Returns `tile` as `(rows, cols)`, each an even int >= `MIN_TILE`.

    Raises:
        ValueError: not an even int >= 2 or a pair of them.

    Example:
    >>> check_tile(8), check_tile((4, 6))
    ((8, 8), (4, 6))
    """
    rows, cols = (tile, tile) if np.isscalar(tile) else tuple(tile)
    for side in (rows, cols):
        if not is_int(side) or side < MIN_TILE or side % 2:
            raise ValueError(
                "Invalid value for argument `tile`. Expected an even int >= 2 (or a pair "
                "of them): tiles must start on even rows and columns so that the 2x2 "
                f"pooling windows are the untiled ones. Received: tile={tile!r}"
            )
    return int(rows), int(cols)


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
    return max(0, start - HALO_BEFORE), min(size, stop + HALO_AFTER + stop % 2)


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
    rows, cols = check_tile(tile)
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


def tile_count(height, width, tile):
    """The number of tiles `plan_tiles` makes.

    Example:
    >>> tile_count(37, 53, 8)
    35
    """
    rows, cols = check_tile(tile)
    return math.ceil(2 * -(-height // 2) / rows) * math.ceil(2 * -(-width // 2) / cols)
