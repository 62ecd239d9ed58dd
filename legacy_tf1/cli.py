"""`python -m legacy_tf1`: the original demo, run through `tf.compat.v1`.

Reads an image (the packaged 750x500 `timg.jpg` by default), builds the
original graph, runs one session and shows or saves the original picture:
the raw float output passed to `plt.imshow`, which clips it to [0, 1] (the
original's mostly saturated picture, kept on purpose).
"""

from deconv_io import DUMP_NAMES, default_image_path, load_image, load_weights, \
    render_picture, save_npz_atomic
from deconv_io.cli import ArgumentParser, add_common_arguments, check_output_path, \
    quiet_tensorflow, run_main
from deconv_io.errors import InputError

__all__ = ["PROG", "build_parser", "main"]

PROG = "legacy_tf1"


def build_parser():
    """Returns the command line's parser (the flags of DESIGN.md's contract)."""
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
    return parser


def _run(args):
    quiet_tensorflow(args.verbose)
    from deconv_io.display import choose_backend

    show = choose_backend(args.show)
    dump = check_output_path(args.dump, "--dump")
    save = check_output_path(args.save, "--save")
    if dump is not None and save is not None and dump.resolve() == save.resolve():
        raise InputError(f"--dump and --save name the same file: {dump}")
    image = load_image(args.image or default_image_path(), max_pixels=args.max_pixels)
    weights = load_weights(args.weights) if args.weights is not None else None
    print(image.shape)  # The original's `print(images.shape)`.

    # TensorFlow is imported only now, after every input has been checked.
    from legacy_tf1.graph import run_session

    results = run_session(image, seed=args.seed, weights=weights, verbose=args.verbose)
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed.
        return e.code if isinstance(e.code, int) else 2
    return run_main(lambda: _run(args), PROG)
