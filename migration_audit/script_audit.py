"""The engine: a TF1 script and its TF2 port, compared tensor by tensor.

`audit_script` runs the TF1 script unchanged (`migration_audit.script_runner`),
calls the port with that run's inputs and variables (`migration_audit.port`),
evaluates the same graph in float64 with a rounding bound per element
(`migration_audit.graph_bounds.analyse_graph`), and compares, per compared
tensor (`stage` = the port's key):

- `port vs tf1`: |port - tf1| <= bound + bound (both are float32-or-better
  evaluations of the same graph, each within `bound` of the exact result);
- `tf1 vs float64 shadow` and `port vs float64 shadow`: |x - shadow| <=
  bound + shadow_bound.

Where the tensor's path holds an op with no rounding rule, no bound exists
and the rows' claim is `empirical` (`empirical_bound`): the port may be no
farther from float64 than twice the original is, plus a floor at float32
resolution; the ops without a rule are named in `unsupported_ops`.

A row fails on a shape mismatch, a value beyond its bound, a key the port
did not return, or a non-finite value where the reference is finite.
"""

import dataclasses
from pathlib import Path

import numpy as np

from deconv_io.errors import InputError
from migration_audit.compare import compare_arrays, missing_comparison

__all__ = ["EMPIRICAL_FLOOR_ULPS", "PORT", "SHADOW", "TF1", "ScriptAuditResult",
           "audit_script", "empirical_bound"]

PORT = "port"
TF1 = "tf1"
SHADOW = "float64 shadow"
#: The empirical claim's floor, in float32 ULPs of the tensor's largest
#: magnitude (see `empirical_bound`).
EMPIRICAL_FLOOR_ULPS = 4


@dataclasses.dataclass
class ScriptAuditResult:
    """What `audit_script` ran and found.

    Attributes:
        script: the TF1 script's path.
        port: the port's spec (or the function's qualified name).
        rows: the `Comparison`s, three per compared tensor (two for an
            empirical one: the original's distance is its yardstick).
        compared: `{TF1 tensor name: port key}`.
        run_index: the captured `Session.run` (0-based, all sessions).
        runs: how many `Session.run` calls the script made.
        inputs: `{input name: shape}` of the run's feeds.
        variables: `{TF1 variable name: shape}`.
        unsupported_ops: the op types without a rounding rule on the
            compared tensors' paths (sorted).
        unsupported_by_tensor: `{TF1 tensor name: [op types]}`.
        extra_outputs: the port's keys that were not compared.
    """

    script: Path
    port: str
    rows: list
    compared: dict
    run_index: int
    runs: int
    inputs: dict
    variables: dict
    unsupported_ops: list
    unsupported_by_tensor: dict
    extra_outputs: list = dataclasses.field(default_factory=list)

    @property
    def passed(self):
        """Every row holds its claim (and there is at least one row)."""
        return bool(self.rows) and all(row.passed for row in self.rows)


def empirical_bound(tf1, shadow):
    """The empirical claim's yardstick: 2 * max |tf1 - shadow| + floor.

    Without a rounding rule for some op on the path, the original itself is
    the measure of how far a float32 evaluation may be from float64: a port
    passes when it is no farther than twice that. The floor keeps the claim
    from demanding more than float32 can give where the original happens to
    be (nearly) exact: rounding the final result to float32 alone costs up
    to half an ULP of its magnitude, and a port that composes the same
    function from other ops (e.g. softmax as exp, sum and divide) rounds a
    few more times, each within an ULP at the tensor's largest magnitude
    for results of that size. `EMPIRICAL_FLOOR_ULPS` = 4 ULPs of the
    largest |shadow| covers the final rounding and three such extra steps.
    The claim is named in every row it decides (`claim: empirical`); it is
    a measured yardstick, not a derived bound.

    Returns:
        `(scalar bound of |port - shadow|, the original's distance,
        floor)`; the bound of |port - tf1| is one more original distance.
    """
    with np.errstate(all="ignore"):
        tf1 = np.asarray(tf1, np.float64)
        shadow = np.asarray(shadow, np.float64)
        both = np.isfinite(tf1) & np.isfinite(shadow)
        distance = float(np.abs(tf1 - shadow)[both].max()) if both.any() else 0.0
        finite = np.abs(shadow[np.isfinite(shadow)])
        largest = float(finite.max()) if finite.size else 0.0
        largest = min(largest, float(np.finfo(np.float32).max))
        floor = EMPIRICAL_FLOOR_ULPS * float(np.spacing(np.float32(largest)))
    return 2 * distance + floor, distance, floor


def _rows(key, tensor, port_out, tf1, analysis):
    """The comparison rows of one compared tensor."""
    shadow = np.asarray(analysis.shadow, np.float64)
    rows = []
    if analysis.bound is not None and analysis.shadow_bound is not None:
        bound = np.asarray(analysis.bound, np.float64)
        shadow_bound = bound + np.asarray(analysis.shadow_bound, np.float64)
        claim, pair, against_shadow = "bound", bound + bound, shadow_bound
        rows.append(compare_arrays(key, TF1, tf1, SHADOW, shadow, shadow_bound, claim, tensor))
    else:
        claim = "empirical"
        against_shadow, distance, _ = empirical_bound(tf1, shadow)
        pair = against_shadow + distance
    if port_out is None:
        rows.insert(0, missing_comparison(key, PORT, TF1, tf1, claim, tensor))
        rows.append(missing_comparison(key, PORT, SHADOW, shadow, claim, tensor))
        return rows
    rows.insert(0, compare_arrays(key, PORT, port_out, TF1, tf1, pair, claim, tensor))
    rows.append(compare_arrays(key, PORT, port_out, SHADOW, shadow, against_shadow, claim,
                               tensor))
    return rows


def _same(a, b):
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and a[k].dtype == b[k].dtype
        and np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind in "fc") for k in a)


def _progress(progress, text):
    if progress is not None:
        progress(text)


def audit_script(script, port, compare=None, run=None, variables=None, progress=None):
    """Audits a TF1 script's migration: the script, unchanged, against the port.

    Args:
        script: the TF1 script's path.
        port: `"FILE.py:function"`, `"package.module:function"`, or the
            function itself; called as `function(inputs, variables)`.
        compare: `{TF1 tensor or op name: port key}`; None: every port key
            that names a tensor or op of the graph, compared with it.
        run: the `Session.run` to capture (0-based, all sessions in order);
            None: the last run that fetched a tensor.
        variables: optional `{TF1 variable name: array}` set before the run.
        progress: optional callable given a line per phase.

    Returns:
        A `ScriptAuditResult`.

    Raises:
        InputError: the script or the port is missing or raises, a name is
            unknown, the run is out of range, a variable name is unknown or
            its value does not fit.
    """
    from migration_audit import port as ports
    from migration_audit.graph_bounds import analyse_graph
    from migration_audit.script_runner import capture_script, resolve_tensor

    spec = port if isinstance(port, str) else getattr(port, "__qualname__", repr(port))
    function = ports.load_port(port) if isinstance(port, str) else port
    _progress(progress, f"running the script {Path(script).name} ...")
    if compare:
        capture = capture_script(script, list(compare), run, variables)
        _progress(progress, f"calling the port {spec} with run {capture.run_index}'s inputs "
                            "and variables ...")
        outputs = ports.call_port(function, capture.inputs, capture.variables, spec)
        names = {resolve_tensor(capture.graph, name).name: key for name, key in compare.items()}
    else:
        first = capture_script(script, (), run, variables)
        _progress(progress, f"calling the port {spec} with run {first.run_index}'s inputs "
                            "and variables ...")
        outputs = ports.call_port(function, first.inputs, first.variables, spec)
        keys = [k for k in outputs if _names_a_tensor(first.graph, k)]
        if not keys:
            raise InputError(f"none of the port's keys {sorted(outputs)[:8]} names a tensor or op "
                             "of the script's graph: pass --compare TENSOR=KEY")
        _progress(progress, f"running the script again to fetch {', '.join(keys)} in run "
                            f"{first.run_index} ...")
        capture = capture_script(script, keys, first.run_index, variables)
        if not (_same(first.inputs, capture.inputs)
                and _same(first.variables, capture.variables)):
            raise InputError(f"run {first.run_index} of the script saw other inputs or variables "
                             "the second time (a random draw?): pass --compare TENSOR=KEY, so "
                             "that one run captures everything")
        names = {resolve_tensor(capture.graph, k).name: k for k in keys}
    _progress(progress, f"float64 shadow and rounding bounds of {len(names)} tensor(s) ...")
    try:
        analyses = analyse_graph(capture.graph_def, list(names), capture.inputs,
                                 capture.variables)
    except ValueError as e:  # e.g. a local variable on the path: not a global one
        raise InputError(f"cannot evaluate the graph in float64: {e}") from None
    rows, unsupported = [], {}
    for tensor, key in names.items():
        analysis = analyses[tensor]
        if analysis.unsupported:
            unsupported[tensor] = sorted(analysis.unsupported)
        rows.extend(_rows(key, tensor, outputs.get(key), capture.tensors[tensor], analysis))
    compared_keys = set(names.values())
    return ScriptAuditResult(
        script=Path(script), port=spec, rows=rows, compared=names,
        run_index=capture.run_index, runs=capture.runs,
        inputs={k: list(np.shape(v)) for k, v in capture.inputs.items()},
        variables={k: list(np.shape(v)) for k, v in capture.variables.items()},
        unsupported_ops=sorted({op for ops in unsupported.values() for op in ops}),
        unsupported_by_tensor=unsupported,
        extra_outputs=sorted(k for k in outputs if k not in compared_keys))


def _names_a_tensor(graph, key):
    from migration_audit.script_runner import resolve_tensor

    try:
        resolve_tensor(graph, key)
    except InputError:
        return False
    return True
