"""Runs a TF1 script file unchanged on TensorFlow 2, confined to one graph.

`run_script` executes the file's code as written, with three things seen
differently from inside it, and from nowhere else in the process:

- `import tensorflow as tf` (and `from tensorflow... import ...`) gives a
  stand-in module: every name is `tf.compat.v1`'s, except `tf.Session`,
  which records what each `run` returns, and `tf.contrib`, which offers
  `tf.contrib.layers.xavier_initializer`, `xavier_initializer_conv2d` and
  `variance_scaling_initializer` (TF 1.x semantics) and stops with
  `UnsupportedContribError` naming any other contrib name. The stand-in is
  handed out by the script's own `__import__`; `sys.modules["tensorflow"]`
  stays the real module, so nothing else in the process sees it.
- The script runs inside `with tf.Graph().as_default():`, so it builds a
  graph and runs sessions exactly as under TensorFlow 1 (graph mode), while
  eager execution stays on for the rest of the process: nothing is switched
  off globally, and the graph is dropped when the run ends.
- Relative file names resolve against the script's folder (the run takes
  place there, and the working folder is restored afterwards).

`import tensorflow.compat.v1 as tf` gets the same stand-in, and
`tf.disable_eager_execution()` / `tf.disable_v2_behavior()` do nothing
inside the script (the run is in graph mode already; the real calls would
switch the whole process).

matplotlib is left as the script finds it, except for the length of the run:
`plt.show()` shows a window only when asked to, and what `imshow` is given
is recorded (the script's picture, dumped as `display`).
"""

import builtins
import contextlib
import dataclasses
import os
import sys
import traceback
import types
from pathlib import Path

import numpy as np

from deconv_io.errors import InputError
from legacy_tf1.original import _guards
from legacy_tf1.original._idioms import script_idioms, script_traceback
from legacy_tf1.original.contrib import CONTRIB_LAYERS, _Namespace
from legacy_tf1.original._variables import initial_value_by_name

__all__ = ["SCRIPT_DIR", "SHIPPED_SCRIPT", "ScriptResult", "run_script"]

#: The folder of the shipped original script (beside it: its `timg.jpg`).
SCRIPT_DIR = Path(__file__).resolve().parent / "script"
#: The original demo script, as published, indentation restored.
SHIPPED_SCRIPT = SCRIPT_DIR / "deconv_demo.py"

#: Variable name in the script -> the weights file array `--weights` sets it to.
WEIGHT_VARIABLES = {"a": "conv_kernel", "a1": "deconv_kernel"}

class _TensorFlowV1(types.ModuleType):
    """`import tensorflow as tf` inside the script: `tf.compat.v1`, plus overrides."""

    def __init__(self, v1, overrides):
        super().__init__("tensorflow")
        self._v1 = v1
        self.__dict__.update(overrides)

    def __getattr__(self, attr):
        return getattr(self._v1, attr)


@dataclasses.dataclass
class ScriptResult:
    """What one shimmed run of a script produced.

    Attributes:
        runs: what each `Session.run` call returned, in order (None included).
        display: a copy of the last array given to `imshow`, or None.
        kernels: `{"conv_kernel", "deconv_kernel"}`: the values of the graph's
            variables `a` and `a1` when their session closed (those found).
        figure_png: the script's figure as PNG bytes (when `save_figure`).
        shown: whether a window was shown.
        reads: the files the script read (`_guards.FileRead`s): no output
            may replace one.
    """

    runs: list
    display: object
    kernels: dict
    figure_png: object
    shown: bool
    reads: list = dataclasses.field(default_factory=list)

    def dump_arrays(self):
        """The `--dump` arrays: each run's arrays, `display`, the two kernels.

        A run returning one array gives `run_<i>`; a list, tuple or dict of
        them gives `run_<i>_<j>` (flattened in `tf.nest` order). Runs that
        returned nothing (an initializer op) give no entry.
        """
        import tensorflow as tf

        arrays = {}
        for i, result in enumerate(self.runs):
            leaves = [x for x in tf.nest.flatten(result) if x is not None]
            if not leaves:
                continue
            if not isinstance(result, (list, tuple, dict)):
                arrays[f"run_{i}"] = np.asarray(result)
            else:
                for j, leaf in enumerate(leaves):
                    arrays[f"run_{i}_{j}"] = np.asarray(leaf)
        if self.display is not None:
            arrays["display"] = self.display
        arrays.update(self.kernels)
        return arrays


def _read_kernels(session, graph, kernels):
    """Reads `a` and `a1` from `graph` through `session` (initialised ones only)."""
    import tensorflow as tf

    collection = graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
    variables = {v.op.name: v for v in collection}
    for var_name, array_name in WEIGHT_VARIABLES.items():
        variable = variables.get(var_name)
        if variable is None:
            continue
        try:
            kernels[array_name] = np.asarray(tf.compat.v1.Session.run(session, variable.value()))
        except tf.errors.FailedPreconditionError:  # never initialised
            continue


def _no_op(*args, **kwargs):
    """Stands in for process-wide switches inside a shimmed script."""
    del args, kwargs


def _make_session_class(v1, graph, runs, kernels, sessions, run_hook=None):
    class Session(v1.Session):
        """`tf.Session` inside the script: records every `run` and, on close, `a` and `a1`.

        With a `run_hook`, each `run` is made through it:
        `run_hook(session, base_run, fetches, feed_dict, options, run_metadata)`
        returns what the script receives (`base_run` is the real `run`).
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sessions.append(self)

        def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
            base_run = super().run
            if run_hook is None:
                result = base_run(fetches, feed_dict=feed_dict, options=options,
                                  run_metadata=run_metadata)
            else:
                result = run_hook(self, base_run, fetches, feed_dict, options, run_metadata)
            runs.append(result)
            return result

        def close(self):
            if not self._closed and self.graph is graph:
                _read_kernels(self, graph, kernels)
            super().close()

    return Session


def _named_overrides(weights, variables):
    """`{variable name: array}` from the demo's `weights` and named `variables`."""
    overrides = {name: weights[array] for name, array in WEIGHT_VARIABLES.items()
                 if weights and array in weights}
    overrides.update(variables or {})
    return overrides


def _make_import(tf_module):
    """The script's `__import__`: the stand-in for `tensorflow`, the real one elsewhere."""
    real_import = builtins.__import__

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == "tensorflow" or name.startswith("tensorflow.")):
            target = tf_module
            for part in name.split(".")[1:]:
                try:
                    target = getattr(target, part)
                except AttributeError:
                    raise InputError(
                        f"import {name}: not available through tf.compat.v1"
                    ) from None
            return target if fromlist else tf_module
        return real_import(name, globals, locals, fromlist, level)

    return _import


@contextlib.contextmanager
def _working_folder(folder):
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _pyplot_hooks(show, state):
    """For the run: `plt.show` shows only when `show`; `imshow` is recorded."""
    import matplotlib.axes
    import matplotlib.pyplot as plt

    from deconv_io.display import quiet_imshow_clipping

    quiet_imshow_clipping()  # the original's clipped picture is drawn on purpose
    real_show = plt.show
    real_imshow = matplotlib.axes.Axes.imshow
    before = set(plt.get_fignums())

    def show_(*args, **kwargs):
        if state["save_figure"] and state["figure_png"] is None and plt.get_fignums():
            state["figure_png"] = _figure_png(plt.gcf())
        if show:
            state["shown"] = True
            return real_show(*args, **kwargs)
        return None

    def imshow_(self, X, *args, **kwargs):
        state["display"] = np.array(X, copy=True)
        return real_imshow(self, X, *args, **kwargs)

    plt.show = show_
    matplotlib.axes.Axes.imshow = imshow_
    try:
        yield
        if state["save_figure"] and state["figure_png"] is None and plt.get_fignums():
            state["figure_png"] = _figure_png(plt.gcf())
    finally:
        plt.show = real_show
        matplotlib.axes.Axes.imshow = real_imshow
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def _figure_png(figure):
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _script_line(exc, filename):
    """The last line of `filename` in `exc`'s traceback, or None."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def read_script(path):
    """Reads and compiles a script file, or raises `InputError`.

    Returns:
        `(path, code)`: the resolved path and its code object.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"Expected a script file, got a directory: {path}")
    if not path.is_file():
        raise InputError(f"Script not found: {path}")
    try:
        source = path.read_bytes()
    except OSError as e:
        raise InputError(f"Cannot read script {path}: {e.strerror}") from None
    path = path.resolve()
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise InputError(f"{path.name}: not a Python script (line {e.lineno}: {e.msg})") from None
    except ValueError as e:  # null bytes
        raise InputError(f"{path.name}: not a Python script ({e})") from None
    return path, code


def run_script(path=SHIPPED_SCRIPT, weights=None, show=False, save_figure=False, argv=(),
               variables=None, run_hook=None):
    """Runs a TF1 script file unchanged, through the shim, in a fresh graph.

    Args:
        path: the script (default: the shipped original).
        weights: optional `{"conv_kernel", "deconv_kernel"}`: the graph's
            variables `a` and `a1` are created with these values instead of
            their initializers' (the script's initializer runs set them).
        show: let the script's `plt.show()` open a window.
        save_figure: keep the script's figure as PNG bytes (drawn at its
            first `plt.show()`, or at the end).
        argv: the script's arguments (its `sys.argv[1:]`, its flags).
        variables: optional `{TF1 variable name: array}` (e.g. `"hidden/w"`):
            each named variable is created with this value instead of its
            initializer's (shape checked, cast to its dtype only where that
            is exact). `weights` are the demo's names for `a` and `a1`.
        run_hook: optional callable through which every `Session.run` of
            the script is made (see `_make_session_class`).

    Returns:
        A `ScriptResult`.

    Raises:
        InputError: the file is missing or not Python; the script raised (the
            message names its line); `--weights` given but the script made no
            variable `a` / `a1` (or one named in `variables`), or one of
            another shape or dtype.
        UnsupportedContribError: the script used an unsupported contrib name.
    """
    import tensorflow as tf

    path, code = read_script(path)
    v1 = tf.compat.v1
    runs, kernels, sessions = [], {}, []
    state = {"display": None, "figure_png": None, "shown": False, "save_figure": save_figure}
    overrides = _named_overrides(weights, variables)
    used = set()
    graph = tf.Graph()

    def creator(next_creator, **kwargs):
        if overrides:
            kwargs["initial_value"] = initial_value_by_name(
                graph, kwargs, overrides, used, "--weights" if weights else "variables")
        return next_creator(**kwargs)

    contrib = _Namespace("tf.contrib", {"layers": _Namespace("tf.contrib.layers", CONTRIB_LAYERS)})
    tf_module = _TensorFlowV1(v1, {
        "contrib": contrib,
        "Session": _make_session_class(v1, graph, runs, kernels, sessions, run_hook),
        # The run is already in graph mode; these would switch the whole process.
        "disable_eager_execution": _no_op,
        "disable_v2_behavior": _no_op,
    })
    # `import tensorflow.compat.v1 as tf` (TF1 code made to import on TF 2) gets
    # the same stand-in.
    tf_module.compat = _TensorFlowV1(tf.compat, {"v1": tf_module})
    script_builtins = dict(vars(builtins))
    script_builtins["__import__"] = _make_import(tf_module)
    namespace = {"__name__": "__main__", "__file__": str(path), "__builtins__": script_builtins}
    saved_argv = sys.argv
    sys.argv = [str(path), *argv]
    try:
        with graph.as_default(), v1.variable_creator_scope(creator), \
                _working_folder(path.parent), _pyplot_hooks(show, state), \
                script_idioms(tf_module, namespace), _guards.restore_streams(), \
                _guards.record_reads(script_builtins) as reads:
            try:
                _guards.run_code(code, namespace, lambda e: _script_line(e, str(path)), path)
                for session in sessions:  # left open by the script: read, then close
                    session.close()
            except InputError as e:
                line = _script_line(e, str(path))
                where = f"{path.name} line {line}: " if line else ""
                raise type(e)(f"{where}{e}") from None
            except Exception as e:  # the script's own failure, reported in one line
                line = _script_line(e, str(path))
                error = InputError(f"{path.name} line {line}: {_guards.describe_exception(e)}")
                error.script_traceback = script_traceback(e, str(path))  # for --verbose
                raise error from None
    finally:
        sys.argv = saved_argv
    missing = sorted(set(overrides) - used)
    if missing and weights:
        names = [n for n in WEIGHT_VARIABLES if n in missing]
        raise InputError(f"--weights: the script created no variable named {names}")
    if missing:
        created = sorted(v.op.name for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES))
        raise InputError(f"variables: the script created no variable named {missing}; its "
                         f"variables: {created}")
    return ScriptResult(runs=runs, display=state["display"], kernels=kernels,
                        figure_png=state["figure_png"], shown=state["shown"], reads=reads)
