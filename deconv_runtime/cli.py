"""Command-line plumbing shared by the `legacy_tf1`, `tf2` and audit CLIs."""

import argparse
import contextlib
import errno
import io
import os
import select
import signal
import stat
import sys
from pathlib import Path

from deconv_io.atomic import begin_run, stop_writes, written_outputs
from deconv_runtime.arguments import int_argument
from deconv_io.errors import InputError, is_tensorflow_out_of_memory
from deconv_io.images import DEFAULT_MAX_PIXELS, check_image_path
from deconv_runtime.interrupts import HANDLED_SIGNALS, Interrupted, exit_now, handle_signals, \
    worker_abandoned
from deconv_runtime.process_env import StdoutError, check_environment, guarded_stdout, \
    safe_encoding
from deconv_io.paths import check_input_file, check_output_file, check_outputs_distinct

__all__ = ["ArgumentParser", "add_common_arguments", "add_verbose_argument",
           "add_weights_argument", "check_output_path", "check_run_paths", "check_stdout",
           "one_line", "parse_and_run", "positive_int", "run_as_program", "run_main"]


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse` parser whose usage errors are one line and exit 2."""

    def error(self, message):
        message = " ".join(str(message).splitlines())
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


#: An `argparse` type: an int >= 1, else a one-line usage error.
positive_int = int_argument(1)


def version_text(prog):
    """The `--version` line: this project's version and the TensorFlow installed.

    The project's from `deconv_io._version` (its one source, also in a
    source checkout that is not installed), TensorFlow's and Keras's from
    their distributions' metadata, so TensorFlow is not imported
    (`--version` stays as fast as `--help`).

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

    from deconv_io._version import __version__

    return (f"{prog} {__version__} "
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
    """Adds the flags both ports share (README's command-line synopsis)."""
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


def check_output_path(path, flag, inputs=(), size=None):
    """Fails early, before any work, when `path` cannot be written.

    See `deconv_io.paths.check_output_file`, which this calls.

    Args:
        path: the output file a flag names, or None.
        flag: the flag, for the message (e.g. "--dump").
        inputs: the run's input files (an output may not be one of them).
        size: the estimated size in bytes, or None.

    Returns:
        The path to write, a `pathlib.Path`, or None.

    Raises:
        InputError: the folder does not exist, is not a folder or is not
            writable, `path` is a directory, a device, a FIFO or a socket,
            one of `inputs`, or its name is too long.
    """
    return check_output_file(path, flag, inputs=inputs, size=size)


def check_run_paths(image, weights, dump, save, dump_size=None):
    """Checks a single-image run's inputs and outputs, before any work.

    The one check both ports' command lines make: the image and the
    weights file are readable files; `--dump` and `--save` can be written
    (see `deconv_io.paths.check_output_file`), are neither input, and are
    not the same file.

    Args:
        image: the image path.
        weights: the `--weights` path, or None.
        dump, save: the `--dump` and `--save` paths, or None.
        dump_size: the dump's estimated bytes, or None.

    Returns:
        `(dump, save)`: the paths to write (or None).

    Raises:
        InputError: the first problem found.
    """
    inputs = (image, weights)
    dump = check_output_path(dump, "--dump", inputs, size=dump_size)
    save = check_output_path(save, "--save", inputs)
    check_outputs_distinct({"--dump": dump, "--save": save})
    check_image_path(image)
    if weights is not None:
        check_input_file(weights, "Weights file")
    return dump, save


#: Longest message a command line prints (a path may be 4096 bytes long).
MAX_MESSAGE_CHARS = 1000


def one_line(message, limit=MAX_MESSAGE_CHARS):
    """Folds `message` onto one line of at most `limit` characters.

    Example:
    >>> one_line("a\\nb")
    'a b'
    """
    message = " ".join(str(message).splitlines())
    if len(message) > limit:
        half = (limit - 5) // 2
        message = f"{message[:half]} ... {message[-half:]}"
    return message


def _error_line(prog, message):
    with contextlib.suppress(OSError, ValueError):
        print(one_line(f"{prog}: error: {message}"), file=sys.stderr)


def _silence_stdout():
    """Points descriptor 1 at /dev/null, so the exit's flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _line_buffer_stdout():
    """Makes each printed line reach stdout at once.

    A closed pipe on stdout then fails at the first line, before any output
    file is written, not at the exit's flush.
    """
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if not sys.stdout.isatty():
            sys.stdout.reconfigure(line_buffering=True)


def check_stdout():
    """Raises `BrokenPipeError` when stdout is a pipe nobody reads any more.

    (`python -m tf2 ... | head -c0`.) Checked before any work; a reader
    that goes away later is caught when a line is printed.
    """
    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return
    if any(mask & select.POLLERR for _, mask in events):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def _interrupted(prog, error):
    """Stops all writing, says what was written, returns 128 + the signal."""
    if not isinstance(error, Interrupted):
        error = Interrupted(signal.SIGINT)
    written = stop_writes()
    if written:
        what = (f"{len(written)} output file(s) written before it are complete and kept "
                f"(the last: {written[-1]}); nothing else was changed")
    else:
        what = "no output file was changed"
    with contextlib.suppress(OSError, ValueError):
        print(one_line(f"{prog}: interrupted by {error.name}; {what}"), file=sys.stderr)
    status = 128 + error.signum
    # TensorFlow's own threads (a tf.data generator, prefetching) may still
    # be running even when no worker of ours is: a normal interpreter exit
    # would tear Python down under them (seen: abort, "exception not
    # rethrown"). Temporary files are already removed and streams flushed.
    # Only a program ends the process; `main` called in-process returns.
    if worker_abandoned() or (_AS_PROGRAM and "tensorflow" in sys.modules):
        exit_now(status)
    return status


_AS_PROGRAM = False


def run_as_program(main):
    """The entry point of `python -m PKG` and the console scripts: `sys.exit(main())`.

    Marks the process as a program, so that an interrupted run ends it at
    once (`_interrupted`) instead of a normal interpreter exit under
    TensorFlow's still-running threads.
    """
    global _AS_PROGRAM
    _AS_PROGRAM = True
    late = _handle_late_signals()
    status = main()
    if "tensorflow" in sys.modules:
        # Every output is renamed and flushed to disk, stdout and stderr are
        # flushed now: TensorFlow's teardown (a second or more) adds nothing
        # but a window in which a signal would kill the process silently.
        exit_now(status if isinstance(status, int) else 1)
    late.clear()
    sys.exit(status)


_PROG = None


def _handle_late_signals():
    """Signals after the run (`run_main` has returned): one line, exit 128 + N.

    `run_main` installs its own handlers for the run and restores these
    after it. Returns a list; clearing it makes a late signal do nothing
    more than a normal exit would.
    """
    active = [True]

    def late(signum, frame):
        if not active:
            return
        active.clear()
        written = written_outputs()
        what = (f"the run had finished; its {len(written)} output file(s) are complete "
                f"(the last: {written[-1]})" if written else
                "the run had finished; its outputs, if any, are complete")
        name = Interrupted(signum).name
        with contextlib.suppress(OSError, ValueError):
            print(one_line(f"{_PROG or 'deconv'}: interrupted by {name}; {what}"),
                  file=sys.stderr)
        exit_now(128 + signum)

    for signum in HANDLED_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_IGN and signum == getattr(signal, "SIGHUP",
                                                                               None):
            continue  # nohup
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, late)
    return active


def run_main(body, prog):
    """Runs `body()` and maps every failure to one stderr line.

    SIGINT, SIGTERM and SIGHUP raise `Interrupted` meanwhile (see
    `deconv_runtime.interrupts`); each run starts with no temporary file alive.

    Args:
        body: a callable returning an exit status.
        prog: the program name to prefix messages with.

    Returns:
        The exit status: body's; 2 for `InputError`, a file system error,
        lack of memory or a closed stdout; 128 + the signal's number when
        interrupted (130 on Ctrl-C).
    """
    global _PROG
    _PROG = prog
    begin_run()
    safe_encoding()
    try:
        with handle_signals(), guarded_stdout():
            _line_buffer_stdout()
            check_stdout()
            check_environment()
            status = body()
            sys.stdout.flush()
            return status
    except KeyboardInterrupt as e:
        return _interrupted(prog, e)
    except BrokenPipeError:
        _silence_stdout()
        _error_line(prog, "standard output is a closed pipe (its reader has gone)")
        return 2
    except StdoutError as e:
        _silence_stdout()
        _error_line(prog, e)
        return 2
    except InputError as e:
        # One line, even when a message quotes a path or a library's text
        # with a newline in it.
        _error_line(prog, e)
        return 2
    except MemoryError:
        _error_line(prog, "not enough memory for this run (see --max-memory and "
                          "--max-pixels)")
        return 2
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        _error_line(prog, f"cannot access{where}: {e.strerror or e}")
        return 2
    except Exception as e:
        if not is_tensorflow_out_of_memory(e):
            raise
        _error_line(prog, "TensorFlow ran out of memory for this run (see --max-memory "
                          "and --max-pixels)")
        return 2
