"""`python -m legacy_tf1.original`: the original TF1 script file, run unchanged.

    python -m legacy_tf1.original [SCRIPT.py] [--weights W.npz] [--dump OUT.npz]
                                  [--save OUT.png] [--show | --no-show] [-- ARG ...]

Runs the shipped original script (default) or SCRIPT.py through the import
shim (`legacy_tf1.original.shim`), in a fresh graph, from the script's own
folder. Its standard output is the script's own: the original prints its
image shape, every 2-D filter slice it writes and the pool shape.
"""

import argparse
import sys
from pathlib import Path

from deconv_io.atomic import save_npz_atomic, write_bytes_atomic
from deconv_io.errors import InputError
from deconv_io.paths import check_input_file, check_outputs_distinct
from deconv_io.weights import load_weights
from deconv_runtime.cli import (ArgumentParser, add_version_argument, add_weights_argument,
                                check_output_path, parse_and_run)
from deconv_runtime.interrupts import run_interruptible
from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow
from legacy_tf1.original._guards import check_not_read

__all__ = ["PROG", "build_parser", "main"]

PROG = "legacy_tf1.original"


def build_parser():
    """Returns the command line's parser."""
    parser = ArgumentParser(
        prog=PROG,
        description="Run the original TF1 demo script file unchanged on TensorFlow 2 (or any "
                    "similar TF1 script): inside it, `import tensorflow as tf` gives "
                    "tf.compat.v1 in a fresh graph, tf.contrib.layers' xavier_initializer, "
                    "xavier_initializer_conv2d, variance_scaling_initializer, l2_regularizer, "
                    "flatten and fully_connected are provided "
                    "with their TF1 semantics, as are tf.app.run, tf.app.flags, tf.logging "
                    "and tf.layers (legacy_tf1/original/_idioms.py), and relative file names "
                    "resolve against the script's folder.",
        epilog="Arguments after -- go to the script as its sys.argv[1:], which "
               "tf.app.run() and tf.app.flags parse. Exit status: 0 success; 2 bad input "
               "(a missing or non-Python script, a "
               "tf.contrib name the shim lacks, an error raised by the script, a bad "
               "weights file): one line on stderr, no output file written.",
    )
    parser.add_argument("script", nargs="?", metavar="SCRIPT.py", type=Path, default=None,
                        help="the TF1 script to run (default: the shipped original, "
                             "legacy_tf1/original/script/deconv_demo.py, which reads the "
                             "timg.jpg beside it)")
    add_weights_argument(parser)
    parser.add_argument("--dump", metavar="OUT.npz", type=Path, default=None,
                        help="write what the script's sess.run calls returned (run_<i>, or "
                             "run_<i>_<j> for several fetches), the array it gave plt.imshow "
                             "as display, and its variables a and a1 as conv_kernel and "
                             "deconv_kernel")
    parser.add_argument("--save", metavar="OUT.png", type=Path, default=None,
                        help="write the script's figure (as at its plt.show()) to this PNG")
    parser.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                        help="let the script's plt.show() open a window (default: wherever "
                             "matplotlib can; --no-show never)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log messages, and the script's own "
                             "traceback (its frames only) when it raises")
    add_version_argument(parser, PROG)
    return parser


def _run(args, script_args=()):
    quiet_tensorflow(args.verbose)
    from legacy_tf1.original.shim import SHIPPED_SCRIPT, read_script, run_script

    script_path = Path(args.script) if args.script else SHIPPED_SCRIPT
    check_input_file(script_path, "Script")
    if args.weights is not None:
        check_input_file(args.weights, "Weights file")
    inputs = (script_path, args.weights)
    dump = check_output_path(args.dump, "--dump", inputs)
    save = check_output_path(args.save, "--save", inputs)
    check_outputs_distinct({"--dump": dump, "--save": save})
    script, _ = read_script(script_path)  # refuse a bad file before TF
    weights = load_weights(args.weights) if args.weights is not None else None
    from deconv_io.display import choose_backend

    show = choose_backend(args.show, PROG)
    tf = import_tensorflow()
    if not args.verbose:
        # The script's own TF1 calls log deprecation notices (e.g. the
        # original's `constant_initializer(dtype=...)`); --verbose keeps them.
        tf.get_logger().setLevel("ERROR")
    # In a worker thread, so that a signal stops the run during session.run;
    # in the main thread when the script's plt.show() may open a window (GUI
    # toolkits insist on the main thread).
    run = (lambda *a, **k: run_script(*a, **k)) if show else (
        lambda *a, **k: run_interruptible(run_script, *a, **k))
    try:
        result = run(script, weights=weights, show=show, save_figure=save is not None,
                     argv=script_args)
    except InputError as e:
        if args.verbose and getattr(e, "script_traceback", None):
            print(e.script_traceback, end="", file=sys.stderr)
        raise
    # The script's own reads are known only now: refuse before writing anything.
    check_not_read({"--dump": dump, "--save": save}, result.reads)
    if dump is not None:
        save_npz_atomic(dump, **result.dump_arrays())
    if save is not None:
        if result.figure_png is None:
            raise InputError(f"--save {save}: the script drew no figure")
        write_bytes_atomic(save, result.figure_png)
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
    usage: legacy_tf1.original ...
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    script_args = []
    if "--" in argv:  # the script's own arguments
        split = argv.index("--")
        argv, script_args = argv[:split], argv[split + 1:]
    return parse_and_run(build_parser(), argv, lambda args: _run(args, script_args), PROG)


def console_main():
    """The console script's entry point (setup.cfg): `main` as a program."""
    from deconv_runtime.cli import run_as_program

    run_as_program(main)
