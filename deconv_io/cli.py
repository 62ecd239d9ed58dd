"""Command-line plumbing shared by the `legacy_tf1`, `tf2` and audit CLIs."""

import argparse
import os
import sys
from pathlib import Path

from deconv_io.errors import InputError
from deconv_io.images import DEFAULT_MAX_PIXELS


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse` parser whose usage errors are one line and exit 2."""

    def error(self, message):
        message = " ".join(str(message).splitlines())
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    """An `argparse` type: an int >= 1, else a one-line usage error.

    Example:
    >>> positive_int("12")
    12
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def version_text(prog):
    """The `--version` line: this project's version and the TensorFlow installed.

    Read from the installed distributions' metadata, so TensorFlow is not
    imported (`--version` stays as fast as `--help`).

    Example:
    >>> version_text("legacy_tf1").startswith("legacy_tf1 ")
    True
    """
    import importlib.metadata

    def version(distribution):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return (f"{prog} {version('bilinear-deconv-migration')} "
            f"(TensorFlow {version('tensorflow')}, Keras {version('keras')})")


class _VersionAction(argparse.Action):
    """`--version`: reads the versions only when asked (keeps `--help` fast)."""

    def __init__(self, option_strings, dest, prog, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self._prog = prog

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text(self._prog))  # stdout, as argparse's own "version" action
        parser.exit(0)


def add_version_argument(parser, prog):
    """Adds `--version`, which prints `version_text(prog)` and exits 0."""
    parser.add_argument("--version", action=_VersionAction, prog=prog,
                        help="print the version of this program and of TensorFlow, and exit")


def add_weights_argument(parser):
    """Adds `--weights W.npz`, the kernels file every command line reads."""
    parser.add_argument("--weights", metavar="W.npz", type=Path, default=None,
                        help="use these kernels instead of the initializers: an .npz with "
                             "float32 arrays conv_kernel and deconv_kernel, each [3,3,3,64]")


def add_verbose_argument(parser):
    """Adds `--verbose`, which brings TensorFlow's own log messages back."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log messages")


def add_common_arguments(parser):
    """Adds the flags both ports share (DESIGN.md's command-line contract)."""
    parser.add_argument("--seed", type=int, default=None,
                        help="graph-level seed for the Glorot/Xavier draw of the conv "
                             "kernel; without it each run draws anew, like the original")
    add_weights_argument(parser)
    parser.add_argument("--dump", metavar="OUT.npz", type=Path, default=None,
                        help="write image, conv_kernel, deconv_kernel, conv1, pool and "
                             "output (4-D, batch first) to this .npz")
    parser.add_argument("--save", metavar="OUT.png", type=Path, default=None,
                        help="write the picture (the original's plt.imshow) to this PNG")
    parser.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                        help="open a window with the picture (default: only when a "
                             "display exists; never in CI)")
    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                        help="refuse larger images before decoding them "
                             f"(default {DEFAULT_MAX_PIXELS})")
    add_verbose_argument(parser)


_VERBOSE = False


def quiet_tensorflow(verbose=False):
    """Sets TensorFlow's log level; call before TensorFlow is imported.

    Without `verbose`, `import_tensorflow` also hides the start-up lines that
    TensorFlow 2.21 prints whatever `TF_CPP_MIN_LOG_LEVEL` says.
    """
    global _VERBOSE
    _VERBOSE = bool(verbose)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else os.environ.get(
        "TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow():
    """Imports TensorFlow for a command line, hiding its start-up noise.

    TensorFlow's C++ start-up lines (oneDNN, CUDA stub, absl, a failed
    `cuInit` without a GPU driver) are written to file descriptor 2 during
    the import and device set-up, and ignore `TF_CPP_MIN_LOG_LEVEL`.
    Unless `quiet_tensorflow(verbose=True)` was called, descriptor 2 points
    at /dev/null for the import only; an import error still raises, after
    stderr is restored. Libraries never call this: only `main` functions.

    Returns:
        The `tensorflow` module.
    """
    if _VERBOSE or "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to protect
        import tensorflow

        return tensorflow
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        # Listing the devices initialises them now, while muted: on a machine
        # without a GPU driver, TensorFlow reports its failed `cuInit` here.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def parse_and_run(parser, argv, run, prog):
    """Parses `argv` and runs `run(args)` under `run_main`.

    The body of every command line's `main(argv=None) -> int`: `--help`
    returns 0 and a usage error 2 (already printed as one line) instead of
    raising `SystemExit`, so `main` is testable in-process.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed.
        return e.code if isinstance(e.code, int) else 2
    return run_main(lambda: run(args), prog)


def check_output_path(path, flag):
    """Fails early, before any work, when `path` cannot be written.

    Args:
        path: the output file a flag names, or None.
        flag: the flag, for the message (e.g. "--dump").

    Returns:
        `path` as a `pathlib.Path`, or None.

    Raises:
        InputError: the folder does not exist, is not a folder or is not
            writable, or `path` is a directory.
    """
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a directory, expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{flag} {path}: {parent} is not a folder")
    if not parent.is_dir():
        raise InputError(f"{flag} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{flag} {path}: folder {parent} is not writable")
    return path


def check_output_dir(folder, flag):
    """Fails early unless `folder` is, or can be made as, a writable folder.

    Args:
        folder: the folder a flag names (created later, after every check).
        flag: the flag, for the message (e.g. "--output-dir").

    Returns:
        `folder` as a `pathlib.Path`.

    Raises:
        InputError: `folder` exists and is not a folder, or the folder it
            would be made in does not exist or is not writable.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag} {folder}: exists and is not a folder")
    parent = folder if folder.is_dir() else (folder.parent if str(folder.parent) else Path("."))
    if not parent.is_dir():
        raise InputError(f"{flag} {folder}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{flag} {folder}: folder {parent} is not writable")
    return folder


def run_main(body, prog):
    """Runs `body()` and maps a user's mistakes to one stderr line and exit 2.

    Args:
        body: a callable returning an exit status.
        prog: the program name to prefix messages with.

    Returns:
        The exit status: body's, 2 for `InputError`, 130 on Ctrl-C.
    """
    try:
        return body()
    except InputError as e:
        # One line, even when a message quotes a path or a library's text
        # with a newline in it.
        message = " ".join(str(e).splitlines())
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no output file was changed", file=sys.stderr)
        return 130
