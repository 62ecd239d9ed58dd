"""A 10000x10000 image through the TF2 demo, tiled, in bounded memory.

Untiled, the full pipeline would need about 70 GB (conv1 alone is 25.6 GB);
tiled (`tf2.tiling`), only the image (1.2 GB), the output (1.2 GB) and one
tile are held. This script builds the image in memory (or reads a file),
plans the tiles against the memory budget, runs them, checks a window of
the result against the float64 reference, and reports the time and the
peak RSS of the process.

Not part of the test suite (it takes tens of seconds and GBs of memory).

Usage:
    python -m benchmarks.large_image [--size 10000x10000] [--tile N] [--max-memory 8G]
                                     [--image FILE] [--path fast|full] [--json OUT.json]
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _size(text):
    h, w = (int(v) for v in text.lower().split("x"))
    return h, w


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _check_window(demo, image, output, y0, x0, side=64):
    """Compares output[y0:y0+side, x0:x0+side] with the float64 reference.

    The reference runs on the image crop that window needs (its halo, see
    `tf2.halo.halo_window`), so it checks the tiles independently.

    Returns:
        `(relative error, max |difference| / derived bound)` of the window.
    """
    from migration_audit import reference
    from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, demo_bounds, error_over_bound
    from migration_audit.compare import relative_error
    from tf2.halo import halo_window

    h, w = image.shape[1:3]
    r0, r1 = halo_window(y0, y0 + side, h)
    c0, c1 = halo_window(x0, x0 + side, w)
    crop = image[:, r0:r1, c0:c1]
    kernels = (demo.conv_kernel.numpy(), demo.deconv_kernel.numpy())
    expected = reference.demo_stages(crop, *kernels)
    bound = (demo_bounds(crop, *kernels, exact_conv1=expected["conv1"])["output"]
             + demo_bounds(crop, *kernels, FLOAT64_UNIT_ROUNDOFF,
                           exact_conv1=expected["conv1"])["output"])
    window = (slice(None), slice(y0 - r0, y0 - r0 + side), slice(x0 - c0, x0 - c0 + side))
    actual = output[:, y0:y0 + side, x0:x0 + side]
    return (relative_error(actual, expected["output"][window]),
            error_over_bound(actual, expected["output"][window], bound[window])[0])


def main(argv=None):
    from deconv_runtime.cli import add_version_argument

    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_image",
                                     description=__doc__.split("\n\n")[0])
    add_version_argument(parser, "large_image")
    parser.add_argument("--size", type=_size, default=(10000, 10000), metavar="HxW")
    parser.add_argument("--image", type=Path, default=None,
                        help="read this image (Pillow) instead of building one")
    parser.add_argument("--tile", type=int, default=None, help="tile side (default: planned)")
    parser.add_argument("--max-memory", default=None, help="budget, e.g. 8G (default: half "
                                                           "the available memory)")
    parser.add_argument("--path", choices=("fast", "full"), default="fast")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from deconv_io.images import load_image
    from deconv_io.memory_model import format_bytes, parse_bytes
    from tf2.halo import tile_count
    from tf2.memory_plan import plan_memory
    from tf2.tiling import run_tiled

    start = time.perf_counter()
    if args.image is not None:
        image = load_image(args.image, max_pixels=None)[None]
    else:
        h, w = args.size
        # A smooth pattern plus noise, 0..255 like a photo; built row block by
        # row block so no float64 temporary of the whole image exists.
        image = np.empty((1, h, w, 3), np.float32)
        rng = np.random.default_rng(0)
        cols = np.arange(w, dtype=np.float32)
        for r in range(0, h, 1000):
            rows = np.arange(r, min(h, r + 1000), dtype=np.float32)[:, None]
            base = 127.5 + 100 * np.sin(rows / 97.0) * np.cos(cols / 61.0)
            for c in range(3):
                noise = rng.standard_normal(base.shape, dtype=np.float32)
                image[0, r:r + len(rows), :, c] = base + 20 * noise
    build_s = time.perf_counter() - start
    n, h, w, _ = image.shape
    budget = parse_bytes(args.max_memory) if args.max_memory else None
    plan = plan_memory(n, h, w, tile=args.tile, budget=budget)
    print(f"image {image.shape} built in {build_s:.1f} s; untiled estimate "
          f"{format_bytes(plan.untiled)}, budget {format_bytes(plan.budget)}")
    if not plan.tiled:
        print("fits untiled; pass --tile N or a smaller --max-memory to tile it anyway")
        return 0

    import tensorflow as tf

    from tf2.demo import DeconvDemo

    demo = DeconvDemo(seed=0)
    rss_before = _rss_mb()
    start = time.perf_counter()
    output = run_tiled(demo, image, plan.tile, compute={"fast": "output", "full": "stages"}[args.path],
                       progress=True)
    run_s = time.perf_counter() - start
    peak = _rss_mb()
    count = tile_count(h, w, plan.tile)
    print(f"{count} tiles of {plan.tile[0]}x{plan.tile[1]} ({args.path} path) in {run_s:.1f} s; "
          f"output {output.shape}; peak RSS {peak / 1024:.2f} GiB (before the tiles: "
          f"{rss_before / 1024:.2f} GiB; image + output arrays "
          f"{(image.nbytes + output.nbytes) / 2**30:.2f} GiB; planned estimate "
          f"{format_bytes(plan.estimate)})")
    out_h, out_w = output.shape[1:3]
    seam = (max(0, min(plan.tile[0], out_h - 64) - 32) // 2 * 2,
            max(0, min(plan.tile[1], out_w - 64) - 32) // 2 * 2)
    checks = [_check_window(demo, image, output, y, x)
              for y, x in ((0, 0), seam, (out_h - 64, out_w - 64))]
    errors, ratios = [c[0] for c in checks], [c[1] for c in checks]
    print(f"windows vs float64 reference (corner, across the first tile seams, far corner): "
          f"max rel error {max(errors):.2e}, max error/bound {max(ratios):.3f}")
    if args.json:
        args.json.write_text(json.dumps({
            "size": [h, w], "tile": list(plan.tile), "tiles": count, "path": args.path,
            "seconds": round(run_s, 2), "peak_rss_gib": round(peak / 1024, 3),
            "rss_before_tiles_gib": round(rss_before / 1024, 3),
            "untiled_estimate_bytes": plan.untiled, "planned_bytes": plan.estimate,
            "budget_bytes": plan.budget, "max_rel_error_vs_reference": max(errors),
            "max_error_over_bound_vs_reference": max(ratios),
            "tensorflow": tf.__version__}, indent=1) + "\n")
    return 0 if max(ratios) <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
