"""SIGINT, SIGTERM and SIGHUP: stop promptly, even inside a long TensorFlow call.

A `session.run` or an eager op does not return to Python until it is done,
and Python runs signal handlers only between bytecodes of the main thread.
So the command lines run their computations in a worker thread
(`run_interruptible`) while the main thread waits, and the handlers
(`handle_signals`) raise `Interrupted` in the main thread at once. The
command line then stops all writing (`deconv_io.atomic.stop_writes`),
prints one line and ends the process with 128 + the signal's number, without
waiting for the worker (`exit_now`).
"""

import contextlib
import os
import signal
import sys
import threading

__all__ = ["HANDLED_SIGNALS", "Interrupted", "exit_now", "handle_signals",
           "run_interruptible", "worker_abandoned"]

#: The signals that stop a run cleanly.
HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                        if hasattr(signal, name))

# How often the waiting main thread wakes up (it also wakes at once on a
# signal; this only bounds the wait on platforms where it would not).
_POLL_SECONDS = 0.1

_ABANDONED = threading.Event()


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived (a `KeyboardInterrupt`, so Ctrl-C code catches it).

    Attributes:
        signum: the signal's number.
    """

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def name(self):
        """The signal's name, e.g. 'SIGTERM'."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


@contextlib.contextmanager
def handle_signals():
    """Makes SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the main thread.

    Only the first signal raises: later ones (a second Ctrl-C while the run
    cleans up) are ignored, so the cleanup and its message complete.
    SIGHUP stays ignored where the process was started with it ignored
    (`nohup`); SIGINT and SIGTERM are always handled (a shell starts
    background jobs with SIGINT ignored, yet `kill -INT` should stop them).
    Outside the main thread this does nothing. The previous handlers are
    restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def handler(signum, frame):
        if raised:
            return
        raised.append(signum)
        raise Interrupted(signum)

    saved = {}
    for signum in HANDLED_SIGNALS:
        current = signal.getsignal(signum)
        if current == signal.SIG_IGN and signum == getattr(signal, "SIGHUP", None):
            continue
        saved[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def run_interruptible(function, *args, **kwargs):
    """Calls `function(*args, **kwargs)` in a worker thread; the main thread waits.

    The main thread stays free to run signal handlers, so `Interrupted`
    arrives within a fraction of a second even while the worker is inside
    a long TensorFlow call. The worker's result is returned, its exception
    raised. If the wait is interrupted, the worker is abandoned (it runs on
    until the process ends: see `exit_now`).

    Called from another thread, it simply calls `function`.
    """
    if threading.current_thread() is not threading.main_thread():
        return function(*args, **kwargs)
    outcome = {}

    def work():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = e

    worker = threading.Thread(target=work, name="deconv-worker", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(_POLL_SECONDS)
    except BaseException:
        if worker.is_alive():
            _ABANDONED.set()
        raise
    if "error" in outcome:
        error = outcome.pop("error")
        try:
            raise error
        finally:
            del error
    return outcome["value"]


def worker_abandoned():
    """Whether an interrupted wait left a worker thread running."""
    return _ABANDONED.is_set()


def exit_now(status):
    """Ends the process at once with `status`, after flushing stdout and stderr.

    Used when a worker thread may still be inside TensorFlow: a normal
    interpreter exit would wait for it or tear TensorFlow down under it.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
