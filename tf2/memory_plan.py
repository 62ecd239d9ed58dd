"""Whether, and in what tiles, `python -m tf2` runs an image within a memory budget.

Untiled, the full pipeline holds every stage of the whole image
(`deconv_io.memory_model`); tiled (`tf2.tiling.run_tiled`), only the image,
the output and one tile's intermediates are alive at once. `plan_memory`
chooses before any work is done, and imports no TensorFlow, so the command
line can refuse an image that cannot fit before loading TensorFlow or
decoding the image.
"""

import dataclasses

from deconv_io.errors import InputError
from deconv_io.memory_model import (RUNTIME_BYTES, default_budget, format_bytes, peak_bytes,
                                    stage_bytes)
from tf2.halo import HALO, MIN_TILE, check_tile

__all__ = ["MAX_AUTO_TILE", "MemoryPlan", "TF2_STAGES_BYTES_PER_PIXEL", "plan_memory"]

#: Peak bytes per input pixel of one `tf2.DeconvDemo.stages` run: it fetches
#: nothing, but TensorFlow copies the fed image and oneDNN keeps a reordered
#: copy of conv1 beside TensorFlow's. An upper bound of the peak RSS growth
#: `benchmarks/large_image.py` measures (figures in docs/performance.md).
TF2_STAGES_BYTES_PER_PIXEL = 700

#: Largest tile side chosen automatically (bigger tiles save nothing: the
#: halo is already a small fraction of a 2048x2048 tile).
MAX_AUTO_TILE = 2048


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

    The tile is costed as the full path's: a safe bound for the output-only
    path, which computes only the channels the deconv kernel reads.
    """
    whole = stage_bytes(batch, height, width)
    # A tile is at most the output's side (2 * ceil(H / 2) <= H + 1), plus its halo.
    rows, cols = min(tile[0], height + 1) + HALO, min(tile[1], width + 1) + HALO
    one = peak_bytes(batch, rows, cols, TF2_STAGES_BYTES_PER_PIXEL) - RUNTIME_BYTES
    return RUNTIME_BYTES + whole["image"] + whole["output"] + one


def _untiled_bytes(batch, height, width):
    return peak_bytes(batch, height, width, TF2_STAGES_BYTES_PER_PIXEL)


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
        tile = check_tile(tile)
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
