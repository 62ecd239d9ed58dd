"""The TF1 script runner: any TF1 script, run unchanged, one `Session.run` captured.

`capture_script` runs a script through `legacy_tf1.original`'s shim and
records every `Session.run` of every session, in order (the run index
counts them all, from 0). For the chosen run it fetches, *in that same
call*, the requested graph tensors and every global variable of the
session's graph, and strips them from what the script receives; that
run's feeds are the inputs. So the inputs, the variables and the tensors
are one consistent snapshot: the values the script's own computation saw.

- Inputs are keyed by the fed tensor's op name (`x` for `x:0`; a tensor of
  another output index keeps its tensor name).
- Variables are keyed by their TF1 names (`hidden/w`), fetched as the run
  reads them. A run that also updates variables (a training step) reads
  them in an order TensorFlow does not fix: choose an evaluation run.
- Default run: the last run that fetched a tensor (not only ops). The
  extras are then added to every run that fetches a tensor and the last
  snapshot is kept; a run whose fetch of the variables fails because they
  are not initialised yet is made again without the extras.
- A requested tensor is fetched only in a run that feeds every placeholder
  it depends on; at the chosen run, a tensor that cannot be computed is
  an `InputError` naming the missing placeholders.
"""

import dataclasses

import numpy as np

from deconv_io.errors import InputError

__all__ = ["ScriptCapture", "capture_script", "resolve_tensor"]


@dataclasses.dataclass
class ScriptCapture:
    """One `Session.run` of a script, as captured.

    Attributes:
        run_index: the chosen run's index (all sessions' runs, in order).
        runs: how many `Session.run` calls the script made.
        inputs: `{placeholder op name: array}`, that run's feeds.
        variables: `{TF1 variable name: array}`, every global variable.
        tensors: `{tensor name: array}`, the requested tensors (`out:0`).
        graph_def: the `GraphDef` of that run's session graph.
        graph: that `tf.Graph` itself (the names above resolve in it).
        fed: `{input name: tensor name}` of the feeds.
    """

    run_index: int
    runs: int
    inputs: dict
    variables: dict
    tensors: dict
    graph_def: object
    graph: object
    fed: dict


def resolve_tensor(graph, name):
    """The tensor a name gives in `graph`: a tensor name (`out/logits:0`) or an op name.

    An op name gives its first output.

    Raises:
        InputError: no such tensor or op, or an op without outputs.
    """
    import tensorflow as tf

    try:
        element = graph.as_graph_element(name, allow_tensor=True, allow_operation=True)
    except (KeyError, ValueError, TypeError) as e:
        raise InputError(f"no tensor or op named {name!r} in the script's graph "
                         f"({' '.join(str(e).split())})") from None
    if isinstance(element, tf.Operation):
        if not element.outputs:
            raise InputError(f"the script's op {name!r} ({element.type}) has no output to "
                             "compare")
        element = element.outputs[0]
    return element


def _placeholders(tensors):
    """The Placeholder ops the tensors depend on (data and control inputs)."""
    seen, stack, found = set(), [t.op for t in tensors], set()
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if op.type == "Placeholder":
            found.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return found


def _fetches_a_tensor(graph, fetches):
    import tensorflow as tf

    for leaf in tf.nest.flatten(fetches):
        try:
            element = graph.as_graph_element(leaf, allow_tensor=True, allow_operation=True)
        except (KeyError, ValueError, TypeError):
            continue
        if not isinstance(element, tf.Operation):
            return True
    return False


def _input_name(tensor):
    return tensor.op.name if tensor.value_index == 0 else tensor.name


def _feeds(graph, feed_dict):
    """`({input name: array}, {input name: tensor name})` of a run's feeds."""
    inputs, fed = {}, {}
    for key, value in (feed_dict or {}).items():
        try:
            tensor = graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
        except (KeyError, ValueError, TypeError):
            continue  # Session.run itself refuses such a key
        name = _input_name(tensor)
        dtype = tensor.dtype.base_dtype
        inputs[name] = np.asarray(value, dtype=dtype.as_numpy_dtype) if dtype.is_numpy_compatible \
            else np.asarray(value)
        fed[name] = tensor.name
    return inputs, fed


class _Recorder:
    """The shim's `run_hook`: counts the runs and takes the chosen one's snapshot."""

    def __init__(self, names, run):
        self.names = list(names)
        self.run = run
        self.count = 0
        self.snapshot = None
        self.missing_feeds = None
        self.error = None

    def __call__(self, session, base_run, fetches, feed_dict, options, run_metadata):
        import tensorflow as tf

        index = self.count
        self.count += 1
        plain = dict(feed_dict=feed_dict, options=options, run_metadata=run_metadata)
        wanted = index == self.run or (self.run is None and _fetches_a_tensor(session.graph,
                                                                              fetches))
        if not wanted:
            return base_run(fetches, **plain)
        graph = session.graph
        try:
            tensors = {name: resolve_tensor(graph, name) for name in self.names}
        except InputError as e:  # reported after the run, not as the script's own error
            self.error = e
            return base_run(fetches, **plain)
        self.error = None
        fed_ops = set()
        for key in feed_dict or {}:
            try:
                fed_ops.add(graph.as_graph_element(key, allow_operation=False).op)
            except (KeyError, ValueError, TypeError):
                pass
        missing = {name: sorted(op.name for op in _placeholders([t]) - fed_ops)
                   for name, t in tensors.items()}
        missing = {name: ops for name, ops in missing.items() if ops}
        variables = {v.op.name: v for v in graph.get_collection(
            tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)}
        extras = {"tensors": {name: t for name, t in tensors.items() if name not in missing},
                  "variables": variables}
        try:
            result, values = base_run((fetches, extras), **plain)
        except tf.errors.FailedPreconditionError:
            if self.run is not None:
                raise
            return base_run(fetches, **plain)  # variables not initialised yet: not a candidate
        inputs, fed = _feeds(graph, feed_dict)
        self.missing_feeds = missing
        self.snapshot = ScriptCapture(
            run_index=index, runs=0, inputs=inputs,
            variables={k: np.asarray(v) for k, v in values["variables"].items()},
            tensors={tensors[k].name: np.asarray(v) for k, v in values["tensors"].items()},
            graph_def=graph.as_graph_def(), graph=graph, fed=fed)
        return result


def capture_script(script, tensors=(), run=None, variables=None, weights=None):
    """Runs a TF1 script unchanged and captures one of its `Session.run` calls.

    Args:
        script: the script's path.
        tensors: graph tensor or op names to fetch in the chosen run.
        run: the run's index (0-based, all sessions in order); None: the
            last run that fetched a tensor.
        variables: optional `{TF1 variable name: array}` set before the run
            (each variable created with this value).
        weights: the demo's `{"conv_kernel", "deconv_kernel"}` (`a`, `a1`).

    Returns:
        A `ScriptCapture` (its `tensors` keyed by tensor name, `out:0`).

    Raises:
        InputError: the script is missing or raises; a name is unknown; the
            run index is out of range, or no run fetched a tensor; a
            requested tensor needs a placeholder the run does not feed.
    """
    import contextlib
    import io

    from legacy_tf1.original.shim import run_script

    if run is not None and run < 0:
        raise InputError(f"--run must be >= 0. Received: {run}")
    recorder = _Recorder(tensors, run)
    with contextlib.redirect_stdout(io.StringIO()):
        run_script(script, weights=weights, variables=variables, run_hook=recorder)
    if recorder.error is not None:
        raise recorder.error
    if run is not None and run >= recorder.count:
        raise InputError(f"--run {run}: the script made {recorder.count} Session.run call(s) "
                         f"(indices 0..{recorder.count - 1})")
    if recorder.snapshot is None:
        raise InputError(f"the script made {recorder.count} Session.run call(s), none of "
                         "which fetched a tensor: choose one with --run")
    if recorder.missing_feeds:
        name, ops = next(iter(recorder.missing_feeds.items()))
        raise InputError(f"{name} needs placeholder(s) {ops}, which run "
                         f"{recorder.snapshot.run_index} does not feed: choose another --run")
    recorder.snapshot.runs = recorder.count
    return recorder.snapshot
