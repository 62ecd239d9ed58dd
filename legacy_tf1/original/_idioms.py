"""The TF1 tutorial idioms a shimmed script may use, fresh for each run.

`legacy_tf1.original.shim` gives the script's `tf` module these names for
the length of one run (`script_idioms`):

- `tf.app.run(main=None, argv=None)`: as TensorFlow 1's, it parses the
  script's flags from `argv` (default: the script's `sys.argv`) keeping the
  arguments it does not know, and calls `main` (default: the script's own
  `main`) with what is left. The real `tf.compat.v1.app.run` would call the
  `main` of the process's `__main__` (the runner's) and parse the process's
  global absl flags.
- `tf.app.flags` / `tf.flags`: absl's flags module with a new, empty
  `FlagValues` per run as `FLAGS` and as every `DEFINE_*`'s default, so two
  runs in one process never define a flag twice (absl's
  `DuplicateFlagError`). As in TensorFlow 1, reading a flag before
  `tf.app.run` parses the script's argv first.
- `tf.logging`: `tf.compat.v1.logging`; the level a script sets with
  `set_verbosity` is put back when the run ends.
- `tf.layers`: TensorFlow 1's layers (`dense`, `conv2d`, `max_pooling2d`,
  `batch_normalization`, ...), served from `tf_keras`'s legacy layers (Keras
  3 refuses `tf.compat.v1.layers`). They create their variables with
  TensorFlow 1's names (`dense/kernel`, `conv2d/bias`) in the script's graph,
  in `tf.global_variables()`. `tf_keras` is imported only when a script
  reads `tf.layers`.

`script_traceback` gives `--verbose` the script's own frames of an error.
"""

import contextlib
import functools
import importlib
import inspect
import sys
import traceback
import types

__all__ = ["LEGACY_LAYERS_MODULE", "script_idioms", "script_traceback"]

#: `tf_keras`'s TensorFlow 1 layers (its `tf.compat.v1` API export).
LEGACY_LAYERS_MODULE = "tf_keras.api._v1.keras.__internal__.legacy.layers"


def _script_flags(absl_flags):
    """A new `FlagValues` that parses the script's argv when a flag is first read."""

    class ScriptFlagValues(absl_flags.FlagValues):
        def __getattr__(self, name):
            if not self.is_parsed() and name in self:
                # TensorFlow 1's FLAGS parsed sys.argv (known flags only) on first read.
                self(sys.argv, known_only=True)
            return super().__getattr__(name)

    return ScriptFlagValues()


def _flags_module(absl_flags, values):
    """absl's flags module, bound to `values` (FLAGS and every DEFINE_*'s default)."""
    members = {name: getattr(absl_flags, name) for name in dir(absl_flags)
               if not name.startswith("_")}
    for name, member in members.items():
        if callable(member) and not isinstance(member, type) and _takes_flag_values(member):
            members[name] = functools.partial(member, flag_values=values)
    members["FLAGS"] = values
    module = types.ModuleType("tensorflow.compat.v1.flags")
    module.__dict__.update(members)
    return module


def _takes_flag_values(function):
    try:
        return "flag_values" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read
        return False


class _LazyModule(types.ModuleType):
    """A module whose names come from `target` (imported on first use)."""

    def __init__(self, name, target):
        super().__init__(name)
        self._target = target

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._target), attr)

    def __dir__(self):
        return dir(importlib.import_module(self._target))


@contextlib.contextmanager
def script_idioms(tf_module, namespace):
    """Adds `app`, `flags`, `logging` and `layers` to the script's `tf`, for one run.

    Args:
        tf_module: the script's `tf` stand-in (its `__dict__` is updated).
        namespace: the script's globals, where `tf.app.run()` finds `main`.

    Yields:
        `tf_module`. On exit, the logging level is the one before the run.
    """
    import tensorflow as tf
    from absl import flags as absl_flags

    values = _script_flags(absl_flags)
    flags = _flags_module(absl_flags, values)

    def run(main=None, argv=None):
        """`tf.app.run`: parse the script's flags, call its `main` with the rest."""
        rest = values(list(sys.argv if argv is None else argv), known_only=True)
        main = main or namespace.get("main")
        if main is None:
            raise NameError("tf.app.run(): the script defines no main(argv)")
        status = main(rest)
        # TensorFlow 1 ended the process with sys.exit(main(argv)); a run of
        # the shim ends its script the same way only for a failing status.
        if status not in (None, 0):
            raise SystemExit(status)

    app = types.ModuleType("tensorflow.compat.v1.app")
    app.__dict__.update(run=run, flags=flags)
    tf_module.__dict__.update(app=app, flags=flags, logging=tf.compat.v1.logging,
                              layers=_LazyModule("tensorflow.compat.v1.layers",
                                                 LEGACY_LAYERS_MODULE))
    level = tf.compat.v1.logging.get_verbosity()
    try:
        yield tf_module
    finally:
        tf.compat.v1.logging.set_verbosity(level)


def script_traceback(exc, filename):
    """The traceback of `exc` through the script's own frames only.

    Args:
        exc: an exception raised while the script ran.
        filename: the script's path, as its code object names it.

    Returns:
        The text Python would print, less every frame outside `filename`
        (the shim's, TensorFlow's): "Traceback (most recent call last):",
        the script's frames, and the exception's own line(s).
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.StackSummary.from_list(frames).format()
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
