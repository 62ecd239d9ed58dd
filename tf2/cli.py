"""`python -m tf2`: the demo in TF2, for one image, several, or a folder.

One image (the packaged 750x500 `timg.jpg` by default): like
`python -m legacy_tf1`, optionally `--dump` the arrays and `--save` /
`--show` the picture of `output[0]` (the raw float output passed to
`plt.imshow`, which clips it to [0, 1], as the original; `--normalize`
rescales it so a person can read it).

Several images or a folder (or any input with `--output-dir DIR`): per
image, what `--outputs` asks for (by default the picture `DIR/<stem>.png`
and the output array `DIR/<stem>.npy`; `stages` adds the full dump
`DIR/<stem>.npz`), a progress bar, bad files reported by name and skipped
(exit status 1). Each image's memory is
planned as for a single image (`--max-memory`): a large one is tiled, one
that cannot fit even tiled, or that runs out of memory, fails alone.

One large image (e.g. 10000x10000, whose untiled run would need about
70 GB) runs in tiles with a halo (`tf2.tiling`), exactly as untiled up to
float32 rounding, holding only the image, the output and one tile: when
its untiled estimate exceeds `--max-memory` (default: half the memory
available), or always with `--tile N`. A tiled `--dump` holds `image`,
the kernels and `output` only (the whole `conv1` and `pool` are never
held). An image that cannot fit even tiled is refused before any work.

Every input is checked before TensorFlow is imported, so a user's mistake
costs one line on stderr and exit status 2, and writes nothing.
"""

import argparse
import sys
from pathlib import Path

from deconv_io.atomic import save_npz_atomic
from deconv_io.display import render_picture
from deconv_io.dumps import DUMP_NAMES, TILED_DUMP_NAMES, dump_bytes
from deconv_io.errors import InputError
from deconv_io.images import default_image_path, load_image, peek_image_size
from deconv_io.outputs import DEFAULT_OUTPUTS, parse_outputs
from deconv_io.paths import check_input_file, check_output_dir, is_dir
from deconv_io.picture import PNG_COMPRESS_LEVEL
from deconv_io.weights import load_weights
from deconv_runtime.arguments import int_argument
from deconv_runtime.cli import (ArgumentParser, add_common_arguments, add_version_argument,
                                check_run_paths, parse_and_run, positive_int)
from deconv_runtime.interrupts import run_interruptible
from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow

__all__ = ["PROG", "build_parser", "console_main", "main", "run_stages"]

PROG = "tf2"
#: `--tile`: tiles start on even rows and columns.
_TILE = int_argument(2, multiple_of=2, expected="an even int >= 2 (tiles must start on even "
                     "rows and columns so that the 2x2 pooling windows are the untiled ones)")
_PNG_LEVEL = int_argument(0, 9, expected="a zlib level from 0 to 9")


def _outputs(text):
    """An `argparse` type: `--outputs`' comma-separated kinds."""
    try:
        return parse_outputs(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser():
    """Returns the command line's parser (README's synopsis plus batch flags)."""
    parser = ArgumentParser(
        prog=PROG,
        description="Run the bilinear transposed-convolution demo (conv2d -> max_pool "
                    "-> conv2d_transpose) in TensorFlow 2 on one image, several, or a "
                    "folder.",
    )
    parser.add_argument("inputs", nargs="*", metavar="IMAGE|FOLDER",
                        help="image files Pillow opens (used as convert('RGB') gives "
                             "them) or folders of them (default: the packaged "
                             "data/timg.jpg, 750x500); several, or a folder, need "
                             "--output-dir")
    add_common_arguments(parser)
    parser.add_argument("--output-dir", metavar="DIR", type=Path, default=None,
                        help="batch mode: write each image's --outputs to DIR; bad files "
                             "are reported and skipped (exit 1)")
    parser.add_argument("--outputs", type=_outputs, default=DEFAULT_OUTPUTS,
                        metavar="KIND[,KIND...]",
                        help="with --output-dir, what each image produces (default: "
                             "picture,output): picture = DIR/<stem>.png, the picture the "
                             "demo shows (output[0] clipped to [0, 1] as plt.imshow shows "
                             "it, or --normalize'd; 8-bit RGB at 1:1, no axes); output = "
                             "DIR/<stem>.npy, the float32 output array (1, H', W', 3), "
                             "plain .npy since it barely compresses and compressing costs "
                             "far more than writing; stages = DIR/<stem>.npz, the full "
                             "--dump of every stage (about 124 MB for a 750x500 image). "
                             "Before this flag folder mode wrote only the dump: "
                             "--outputs stages does that")
    parser.add_argument("--png-level", type=_PNG_LEVEL, default=None, metavar="0-9",
                        help="with --output-dir: zlib level of the picture (default 0: "
                             "stored, about 1.1 MB for 750x500; compressing takes longer "
                             "than computing the image and the .npy beside it is four "
                             "times larger; 1 or more packs it to about a third)")
    parser.add_argument("--io-threads", type=positive_int, default=None, metavar="N",
                        help="with --output-dir: threads decoding images ahead of the "
                             "computation, and as many writing files behind it (default: "
                             "the CPU count, at most 4)")
    parser.add_argument("--skip-existing", action="store_true",
                        help="with --output-dir: leave images all of whose --outputs "
                             "already exist and are whole alone (an image with a missing, "
                             "truncated or damaged one is redone)")
    parser.add_argument("--tile", type=_TILE, default=None, metavar="N",
                        help="single image: compute the output in NxN tiles (N even) with "
                             "a halo, equal to the untiled output up to float32 rounding, "
                             "holding only the image, the output and one tile; --dump then "
                             "holds image, kernels and output only (default: tiles only "
                             "when the untiled run would exceed --max-memory)")
    parser.add_argument("--max-memory", metavar="BYTES", default=None,
                        help="memory budget per image, e.g. 4G, 512M or a byte count "
                             "(default: half of the memory available now, which an "
                             "address-space or cgroup limit lowers); a larger image is "
                             "tiled automatically (in folder mode its --outputs stages "
                             "dump then holds image, kernels and output only); one that cannot fit "
                             "even tiled is refused before any work (in folder mode: that "
                             "file fails)")
    parser.add_argument("--fast-path", choices=("auto", "window", "parity", "xla"),
                        default=None,
                        help="the implementation of the output-only path (tiles): measured "
                             "per input shape where a shape repeats (auto), or forced "
                             "(window: TensorFlow's conv ops; parity: XLA kernels on "
                             "parity-split planes; xla: the former name of parity) "
                             "(default: $DECONV_FAST_PATH, else auto); --verbose prints "
                             "each choice")
    parser.add_argument("--normalize", action="store_true",
                        help="rescale the picture (--save, --show, or folder mode's "
                             "picture) to its own min..max before drawing (default: the "
                             "original's raw floats, clipped to [0, 1] by imshow)")
    add_version_argument(parser, PROG)
    return parser


def _make_demo(args, weights):
    """Imports TensorFlow (only now) and builds the module."""
    tf = import_tensorflow(defer_keras=True)  # the demo uses no Keras

    from tf2.demo import DeconvDemo

    if args.seed is not None:
        tf.random.set_seed(args.seed)
    kernels = {} if weights is None else {name: weights[name]
                                          for name in ("conv_kernel", "deconv_kernel")}
    demo = DeconvDemo(**kernels, fast_path=args.fast_path)
    if args.verbose:
        demo.fast_path.log = lambda line: print(f"{PROG}: {line}", flush=True)
    return demo


def run_stages(demo, images):
    """Every stage of one batch, as read-only NumPy views, computed op by op.

    One image is computed once: eager execution runs the same three ops as
    the traced `tf.function` (bit for bit, same kernels and shapes) without
    tracing it first, which would cost more than the computation. The
    stages are returned as views of the tensors (`tf2._convert.as_numpy`), not
    copies: `conv1` alone is 256 bytes per pixel.
    """
    from tf2._convert import as_numpy

    return {name: as_numpy(t) for name, t in demo.stages(images, execution="eager").items()}


def _run_single(args, image_path):
    batch_only = [flag for flag, given in (("--outputs", args.outputs != DEFAULT_OUTPUTS),
                                            ("--skip-existing", args.skip_existing),
                                            ("--io-threads", args.io_threads),
                                            ("--png-level", args.png_level is not None))
                  if given]
    if batch_only:
        raise InputError(f"{batch_only[0]} applies only with --output-dir")
    from deconv_io.memory_model import parse_bytes
    from tf2.memory_plan import plan_memory

    budget = parse_bytes(args.max_memory) if args.max_memory is not None else None
    size = peek_image_size(image_path)  # from the header: refuse before decoding
    plan = plan_memory(1, *size, tile=args.tile, budget=budget) if size else None
    names = TILED_DUMP_NAMES if plan is not None and plan.tiled else DUMP_NAMES
    dump, save = check_run_paths(image_path, args.weights, args.dump, args.save,
                                 dump_size=dump_bytes(*size, names=names) if size else None)
    # Decoding a large image takes seconds in C: in the worker too.
    image = run_interruptible(load_image, image_path, max_pixels=args.max_pixels)
    plan = plan_memory(1, *image.shape[:2], tile=args.tile, budget=budget)
    weights = load_weights(args.weights) if args.weights is not None else None
    # matplotlib and TensorFlow are imported only now, every path checked.
    from deconv_io.display import choose_backend

    show = choose_backend(args.show, PROG)

    demo = _make_demo(args, weights)
    images = image[None]
    kernels = demo.kernels()
    if plan.tiled:
        stages = {"output": _run_tiled(demo, images, plan, image_path, dump)}
    else:
        # In a worker thread, so that a signal stops the run mid-computation.
        stages = run_interruptible(run_stages, demo, images)
        print(f"{image_path}: image {tuple(images.shape)} -> output {stages['output'].shape}")
    if dump is not None:
        arrays = {"image": images, **kernels, **stages}
        save_npz_atomic(dump, **{name: arrays[name] for name in DUMP_NAMES if name in arrays})
    if save is not None or show:
        render_picture(stages["output"][0], save=save, show=show, normalize=args.normalize)
    return 0


def _run_tiled(demo, images, plan, image_path, dump):
    """The output of one image, tile by tile (the fast path in each tile)."""
    from deconv_io.memory_model import format_bytes
    from tf2.halo import tile_count
    from tf2.tiling import run_tiled

    rows, cols = plan.tile
    count = tile_count(*images.shape[1:3], plan.tile)
    output = run_interruptible(run_tiled, demo, images, plan.tile, compute="output")
    print(f"{image_path}: image {tuple(images.shape)} -> output {output.shape} in {count} "
          f"tiles of {rows}x{cols} (untiled would need about {format_bytes(plan.untiled)}; "
          f"budget {format_bytes(plan.budget)})")
    if dump is not None:
        print(f"{PROG}: note: tiled run: conv1 and pool were never held whole, so {dump} "
              "holds image, conv_kernel, deconv_kernel and output only", file=sys.stderr)
    return output


def _run_batch(args, inputs):
    if args.output_dir is None:
        raise InputError("several images or a folder need --output-dir DIR "
                         "(DIR/<stem>.png and DIR/<stem>.npy per image, see --outputs)")
    single_only = [flag for flag, given in (("--dump", args.dump), ("--save", args.save),
                                             ("--show", args.show), ("--tile", args.tile))
                   if given]
    if single_only:
        raise InputError(f"{', '.join(single_only)}: only for a single image; with several "
                         "images or --output-dir each image's files go to DIR (see --outputs)")
    for flag, given in (("--normalize", args.normalize), ("--png-level", args.png_level is not None)):
        if given and "picture" not in args.outputs:
            raise InputError(f"{flag} changes only the picture; add picture to --outputs")
    from tf2.batch_paths import check_batch_outputs, check_unique_stems, expand_inputs
    from tf2.batch import run_batch
    from deconv_io.memory_model import parse_bytes

    budget = parse_bytes(args.max_memory) if args.max_memory is not None else None
    if args.weights is not None:
        check_input_file(args.weights, "Weights file")
    output_dir = check_output_dir(args.output_dir, "--output-dir", inputs=(args.weights,))
    paths = expand_inputs(inputs)
    check_unique_stems(paths)
    check_batch_outputs(paths, output_dir, weights=args.weights, outputs=args.outputs)
    weights = load_weights(args.weights) if args.weights is not None else None

    demo = _make_demo(args, weights)
    output_dir.mkdir(exist_ok=True)
    # In a worker thread, so that a signal stops the batch mid-image.
    result = run_interruptible(run_batch, demo, paths, output_dir,
                               max_pixels=args.max_pixels, skip_existing=args.skip_existing,
                               prog=PROG, budget=budget, outputs=args.outputs,
                               normalize=args.normalize, threads=args.io_threads,
                               png_level=(PNG_COMPRESS_LEVEL if args.png_level is None
                                          else args.png_level))
    print(f"{PROG}: {result.written} written, {result.skipped} skipped (existing), "
          f"{len(result.failed)} failed, in {output_dir}")
    return result.exit_status


def _run(args):
    quiet_tensorflow(args.verbose)
    if args.fast_path is None:
        from tf2.fast_path import forced_from_environment

        try:
            forced_from_environment()
        except ValueError as e:
            raise InputError(str(e)) from None
    inputs = [Path(p) for p in args.inputs] or [default_image_path()]
    if args.output_dir is not None or len(inputs) > 1 or is_dir(inputs[0]):
        return _run_batch(args, inputs)
    return _run_single(args, inputs[0])


def main(argv=None):
    """Runs the command line.

    Args:
        argv: the arguments after the program name; `None` reads `sys.argv`.

    Returns:
        The exit status: 0 on success, 1 when some images of a batch failed,
        2 for bad input or usage (one line on stderr, no output file written
        or changed).

    Example:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: tf2 ...
    0
    """
    return parse_and_run(build_parser(), argv, _run, PROG)


def console_main():
    """`python -m tf2` and the console script (setup.cfg): `main` as a program.

    First asks malloc to keep freed memory for reuse
    (`deconv_runtime.allocator.keep_freed_memory`; `DECONV_KEEP_FREED_MEMORY=0`
    turns it off), before TensorFlow starts its threads: a folder's images
    and a batch's large tensors then reuse pages instead of faulting in new
    ones. Only the program does this, never `main` called in-process.
    """
    from deconv_runtime.allocator import keep_freed_memory
    from deconv_runtime.cli import run_as_program

    keep_freed_memory()
    run_as_program(main)
