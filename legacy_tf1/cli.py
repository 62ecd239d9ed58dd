"""`python -m legacy_tf1`: the original demo, run through `tf.compat.v1`.

Reads an image (the packaged 750x500 `timg.jpg` by default), builds the
original graph, runs one session and shows or saves the original picture:
the raw float output passed to `plt.imshow`, which clips it to [0, 1] (the
original's mostly saturated picture, kept on purpose).

The faithful port does not tile: before building the graph it estimates the
session's memory and refuses, with one line suggesting `python -m tf2`
(which tiles), an image that would not fit in the memory available, rather
than being killed by the system for lack of memory.
"""

from pathlib import Path

from deconv_io.atomic import save_npz_atomic
from deconv_io.display import render_picture
from deconv_io.dumps import DUMP_NAMES, dump_bytes
from deconv_io.errors import InputError
from deconv_io.images import default_image_path, load_image, peek_image_size
from deconv_io.memory import available_memory
from deconv_io.memory_model import peak_bytes
from deconv_io.weights import load_weights
from deconv_runtime.cli import (ArgumentParser, add_common_arguments, add_version_argument,
                                check_run_paths, parse_and_run)
from deconv_runtime.interrupts import run_interruptible
from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow
from legacy_tf1.memory import TF1_SESSION_BYTES_PER_PIXEL

__all__ = ["PROG", "build_parser", "check_session_memory", "main"]

PROG = "legacy_tf1"


def _available_memory():
    """The memory available now (a seam the tests patch)."""
    return available_memory()


def check_session_memory(height, width, batch=1, available=None):
    """Refuses an image whose TF1 session would not fit in memory.

    Args:
        height, width, batch: the fed image's size.
        available: bytes the system can give; None: read it now (no check
            when it cannot be read).

    Returns:
        The estimated peak bytes.

    Raises:
        InputError: the estimate exceeds `available`.

    Example:
    >>> check_session_memory(750, 500, available=24 * 10**9) < 2 * 10**9
    True
    """
    need = peak_bytes(batch, height, width, TF1_SESSION_BYTES_PER_PIXEL)
    available = _available_memory() if available is None else available
    if available is not None and need > available:
        raise InputError(
            f"image {height}x{width} needs about {need / 1e9:.1f} GB in the TF1 session "
            f"(conv1 alone is {batch * height * width * 256 / 1e9:.1f} GB), more than the "
            f"{available / 1e9:.1f} GB of memory available; the faithful port does not "
            "tile: use `python -m tf2 IMAGE`, which computes large images in tiles"
        )
    return need


def build_parser():
    """Returns the command line's parser (the flags of README's command-line synopsis)."""
    parser = ArgumentParser(
        prog=PROG,
        description="Run the original TF1 bilinear transposed-convolution demo "
                    "(conv2d -> max_pool -> conv2d_transpose) through tf.compat.v1, "
                    "with its graph, variables and session, and show its picture.",
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", default=None,
                        help="any image Pillow opens, used as convert('RGB') gives it "
                             "(default: the packaged data/timg.jpg, 750x500)")
    add_common_arguments(parser)
    add_version_argument(parser, PROG)
    return parser


def _run(args):
    quiet_tensorflow(args.verbose)
    image_path = Path(args.image) if args.image else default_image_path()
    size = peek_image_size(image_path)
    dump, save = check_run_paths(image_path, args.weights, args.dump, args.save,
                                 dump_size=dump_bytes(*size) if size else None)
    if size is not None:
        check_session_memory(*size)  # from the header: refuse before decoding
    # Decoding a large image takes seconds in C: in the worker too.
    image = run_interruptible(load_image, image_path, max_pixels=args.max_pixels)
    weights = load_weights(args.weights) if args.weights is not None else None
    check_session_memory(*image.shape[:2])
    print(image.shape)  # The original's `print(images.shape)`.

    # matplotlib and TensorFlow are imported only now, every path checked.
    # Pixels are fed as stored: an EXIF orientation tag is ignored, as the
    # original's `np.asarray(Image.open(path))` ignored it.
    from deconv_io.display import choose_backend

    show = choose_backend(args.show, PROG)
    import_tensorflow()
    from legacy_tf1.graph import run_session

    # In a worker thread, so that a signal stops the run during session.run.
    results = run_interruptible(run_session, image, seed=args.seed, weights=weights,
                                verbose=args.verbose)
    pool_shape = list(results["pool"].shape)
    print(pool_shape)  # The original's `print(shape_)` and `print('pool:', ...)`.
    print("pool:", tuple(pool_shape))
    if dump is not None:
        save_npz_atomic(dump, **{name: results[name] for name in DUMP_NAMES})
    if save is not None or show:
        render_picture(results["display"], save=save, show=show)
    return 0


def main(argv=None):
    """Runs the command line.

    Args:
        argv: the arguments after the program name; `None` reads `sys.argv`.

    Returns:
        The exit status: 0 on success, 2 for bad input or usage (one line on
        stderr, no output file written or changed).

    Example:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: legacy_tf1 ...
    0
    """
    return parse_and_run(build_parser(), argv, _run, PROG)


def console_main():
    """The console script's entry point (setup.cfg): `main` as a program."""
    from deconv_runtime.cli import run_as_program

    run_as_program(main)
