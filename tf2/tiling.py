"""Large images in bounded memory: the demo's `output` computed tile by tile.

The untiled full pipeline holds `conv1` (64 float32 channels per pixel) and
`pool` beside the image and the output. Tiled, only the image, the output
and one tile's intermediates are alive at once. Each output block is
computed from an image crop with its halo (`tf2.halo`, where the halo is
derived); `tf2.memory_plan` decides whether and in what tiles to run.
"""

import numpy as np

from deconv_io.checks import check_images_shape
from tf2.halo import plan_tiles

__all__ = ["run_tiled"]


def run_tiled(demo, images, tile, compute="output", out=None, progress=None):
    """Computes the demo's `output` tile by tile, into one preallocated array.

    Each tile's crop (see `tf2.halo.halo_window`) runs through `demo.output` (the
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
    n, height, width, _ = check_images_shape(images.shape)
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

    from deconv_io.memory import aligned_empty
    from tf2._convert import as_numpy, as_tensor

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
