"""Rounding bounds derived from any TF1 graph, op by op, and its float64 shadow.

`analyse_graph(graph_def, targets, feeds, variables)` walks the graph back from each target
tensor to its sources (fed placeholders or tensors, variables, constants), runs the needed
sub-graph once in float64 (`migration_audit.shadow`) and propagates, node by node in
topological order, two elementwise bounds of |computed - exact|: one for any evaluation in
float32 or more precise (any summation order, FMA or not, oneDNN or Eigen, a float64 port),
and one for the float64 shadow itself (the same rules with u = 2**-53). "Exact" is the
real-arithmetic result of the graph on the exact float32 inputs. Rules: `op_rules` and
`op_rules_nonlinear`; docs/graph_bounds.md lists their formulas.

Sources are exact (error 0). Non-float tensors (shapes, indices, axes) are exact constants
taken from the shadow run; a non-float tensor computed from float data (an ArgMax, a cast to
int) is not, and its op counts as unsupported. An op with no rule on a target's path makes
that target's bounds None and names the op in `unsupported`: no bound is invented.

Where the computed value may leave float32's range, the bound is inf (`unbounded`).
"""

import dataclasses

import numpy as np

from migration_audit import op_rules
from migration_audit.op_rules_nonlinear import CONDITIONS
from migration_audit.bounds import FLOAT32_UNIT_ROUNDOFF, FLOAT64_UNIT_ROUNDOFF, FLUSH_LIMIT, \
    pair_bound
from migration_audit.op_rules import ARITHMETIC, RULES, Operand, Pass
from migration_audit.shadow import DT_BFLOAT16, DT_DOUBLE, DT_FLOAT, DT_HALF, FLOAT_TYPES, \
    VARIABLE_OPS, NodeEvaluator, shadow_run, tensor_name

__all__ = ["TensorAnalysis", "analyse_graph", "pair_bound_of"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Float DataTypes of the original graph (float32, float64, bfloat16, half).
_FLOATS = FLOAT_TYPES + (DT_DOUBLE,)
#: DataType -> the NumPy type a fed value is cast to (what the graph would hold).
_NUMPY_FLOATS = {DT_FLOAT: np.float32, DT_DOUBLE: np.float64, DT_HALF: np.float16,
                 DT_BFLOAT16: np.float32}
#: Ops whose non-float output depends only on shapes, never on float values.
_SHAPE_OPS = {"Shape", "ShapeN", "Size", "Rank"}
#: Ops that never compute: values come from feeds, variables or the graph itself.
_SOURCE_OPS = {"Placeholder", "Const"} | set(VARIABLE_OPS)


@dataclasses.dataclass
class TensorAnalysis:
    """The analysis of one target tensor.

    Attributes:
        tensor: the tensor name, e.g. `"out/logits:0"`.
        shadow: float64, the graph evaluated in float64 from the same feeds and variables.
        bound: float64, elementwise: |any float32-or-more-precise evaluation - exact| <= bound
            (inf where unbounded); None when `unsupported` is non-empty.
        shadow_bound: float64: |shadow - exact| <= shadow_bound (None when unsupported).
        path_ops: sorted op types on the path from the sources to the target.
        unsupported: sorted op types on the path with no rule (empty: the bound is derived).
    """

    tensor: str
    shadow: np.ndarray
    bound: np.ndarray
    shadow_bound: np.ndarray
    path_ops: tuple
    unsupported: tuple


def pair_bound_of(analysis, against_shadow=False):
    """The bound of |port - TF1 float32 run| (`bound + bound`), or of |run - shadow|.

    Returns None where the analysis has no bound (unsupported ops on the path).
    """
    if analysis.bound is None:
        return None
    return pair_bound(analysis.bound, analysis.shadow_bound if against_shadow else None)


def _graph_types(graph_def):
    """{tensor name: DataType enum} for every output of every node (imports the graph once)."""
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        return {t.name: t.dtype.as_datatype_enum for op in graph.get_operations()
                for t in op.outputs}


def _walk(nodes, targets, sources):
    """Topological order of the nodes the targets need (data inputs only, stopping at sources)."""
    order, state = [], {}
    for target in targets:
        stack = [(target.split(":")[0], False)]
        while stack:
            name, done = stack.pop()
            if done:
                if state.get(name) != "done":
                    state[name] = "done"
                    order.append(name)
                continue
            if name in state:
                continue
            if name not in nodes:
                raise ValueError(f"Invalid tensor name. Received: {name!r} is not in the graph.")
            state[name] = "open"
            stack.append((name, True))
            if name not in sources:
                stack.extend((i.split(":")[0], False) for i in _data_inputs(nodes[name]))
    return order


def _data_inputs(node):
    return [tensor_name(i) for i in node.input if not i.startswith("^")]


def _prepare(feeds, variables, nodes, types):
    """Source tensor values, float ones as float32 values (exact in float64)."""
    values = {}
    for key, value in list(feeds.items()) + list((variables or {}).items()):
        name = tensor_name(key)
        if name.split(":")[0] not in nodes:
            raise ValueError(f"Invalid feed or variable. Received: {key!r} is not in the graph.")
        node = nodes[name.split(":")[0]]
        if node.op in VARIABLE_OPS:  # the handle's value is the variable's
            types[name] = node.attr["dtype"].type
        value = np.asarray(value)
        if types.get(name) in _FLOATS:  # the values the float32 graph holds
            value = value.astype(_NUMPY_FLOATS[types[name]])
        values[name] = value
    return values


def analyse_graph(graph_def, targets, feeds, variables):
    """Bounds and float64 shadow of each target tensor of a TF1 graph.

    Args:
        graph_def: a `tf.compat.v1.GraphDef` (e.g. `graph.as_graph_def()`).
        targets: tensor names (`"out/logits:0"`; an op name means its output 0).
        feeds: {placeholder op name or tensor name: ndarray}, the values fed at that run.
        variables: {variable op name (TF1 name, e.g. `"hidden/w"`): ndarray}.

    Returns:
        {target tensor name: `TensorAnalysis`}.

    Raises:
        ValueError: a target, feed or variable names nothing in the graph, or a placeholder
            on a target's path is not fed.
    """
    nodes = {n.name: n for n in graph_def.node}
    types = _graph_types(graph_def)
    targets = [tensor_name(t) for t in targets]
    for t in targets:
        if t not in types:
            raise ValueError(f"Invalid target. Received: {t!r} is not a tensor of the graph.")
    values = _prepare(feeds, variables, nodes, types)
    sources = {name.split(":")[0] for name in values}
    order = _walk(nodes, targets, sources)
    for name in order:
        if nodes[name].op in ("Placeholder",) + VARIABLE_OPS and name not in sources:
            raise ValueError(f"Invalid feeds. Expected a value for {name!r} (on a target's path). "
                             f"Received: none.")
    needed = set(targets) | {f"{n}:0" for n in order if f"{n}:0" in types}
    for name in order:
        if name not in sources:
            needed.update(_data_inputs(nodes[name]))
    fetches = sorted(t for t in needed if t.split(":")[0] not in sources)
    shadow = shadow_run(nodes, order, fetches, values, sources)
    shadow.update({k: np.asarray(v, np.float64) if types.get(k) in _FLOATS else v
                   for k, v in values.items()})
    evaluator = NodeEvaluator()
    try:
        state = _propagate(nodes, order, types, shadow, sources, evaluator)
    finally:
        evaluator.close()
    return {t: _result(t, nodes, shadow, types, state, sources) for t in targets}


def _node_status(node, types, sources):
    """None when the node is covered, else the op type (name) that has no rule."""
    if node.name in sources or node.op in _SOURCE_OPS:
        return None
    outs = [types.get(f"{node.name}:{i}") for i in range(8) if f"{node.name}:{i}" in types]
    float_out = any(t in _FLOATS for t in outs)
    float_in = any(types.get(i) in _FLOATS for i in _data_inputs(node))
    if not float_out:
        return None if (not float_in or node.op in _SHAPE_OPS) else node.op
    if node.op not in RULES:
        return node.op
    if node.op in CONDITIONS and not CONDITIONS[node.op][0](node):
        return CONDITIONS[node.op][1]
    if types.get(f"{node.name}:0") in (DT_BFLOAT16, DT_HALF) and node.op != "Cast":
        return f"{node.op}(half precision)"
    return None


def _propagate(nodes, order, types, shadow, sources, evaluator):
    """{tensor: (e32, e64)} for float tensors; {node name: reason} for nodes with no rule."""
    errs, failed, sums = {}, {}, {}
    passes = (Pass(FLOAT32_UNIT_ROUNDOFF, FLUSH_LIMIT, evaluator),
              Pass(FLOAT64_UNIT_ROUNDOFF, op_rules.TINY64, evaluator))
    for name in order:
        node = nodes[name]
        reason = _node_status(node, types, sources)
        inputs = _data_inputs(node) if name not in sources else []
        if reason is None and any(i in failed for i in inputs):
            reason = ""  # an unsupported op upstream; named there
        if reason is None and any(int(i.split(":")[1]) > 0 and i.split(":")[0] not in sources
                                  and nodes[i.split(":")[0]].op in RULES for i in inputs):
            reason = "+".join(sorted({nodes[i.split(":")[0]].op for i in inputs
                                      if int(i.split(":")[1]) > 0})) + "(output > 0)"
        if reason is not None:
            failed[f"{name}:0"] = reason
            continue
        out = f"{name}:0"
        if types.get(out) not in _FLOATS:
            continue
        if name in sources or node.op in _SOURCE_OPS:
            zero = np.zeros(np.shape(shadow[out]))
            errs[out] = (zero, zero)
            continue
        errs[out] = _apply(node, inputs, out, types, shadow, errs, passes, sums)
    return errs, failed


def _operands(inputs, types, shadow, errs, index, p, arithmetic, sums):
    ops = []
    for i in inputs:
        value = shadow[i]
        if types.get(i) not in _FLOATS:
            o = Operand(value, None, None, None)
            o.is_float = False
            ops.append(o)
            continue
        e32, e64 = errs[i]
        mag = np.abs(value) + e64
        lo = np.maximum(np.abs(value) - e64, 0.0)
        err = (e32, e64)[index]
        if arithmetic and p.t:
            upper = mag + err
            maybe = (lo - err < p.t) & (upper > 0)
            err = err + np.where(maybe, np.minimum(p.t, upper), 0.0)
        o = Operand(value, mag, lo, err)
        o.is_float, o.folded = True, sums.get((i, index))
        ops.append(o)
    return ops


def _apply(node, inputs, out, types, shadow, errs, passes, sums):
    """(e32, e64) of output 0 of one node, both passes, unbounded elements inf.

    `sums` keeps, per (tensor, pass), the (n, S) of a sum of products (`op_rules._folded`).
    """
    rule = RULES[node.op]
    value = np.asarray(shadow[out], np.float64)
    result = []
    for index, p in enumerate(passes):
        ops = _operands(inputs, types, shadow, errs, index, p, node.op in ARITHMETIC, sums)
        p.last_sum = None
        with np.errstate(all="ignore"):
            err, peak = rule(node, ops, value, p)
        if p.last_sum is not None:
            sums[(out, index)] = p.last_sum
        with np.errstate(all="ignore"):
            err = np.broadcast_to(np.asarray(err, np.float64), value.shape)
            err = np.where(np.isnan(err) | ~np.isfinite(value), np.inf, err)
            if index == 0:  # float32 overflow anywhere in the op: unbounded
                top = np.abs(value) + err
                if peak is not None:
                    top = np.maximum(top, np.broadcast_to(peak, value.shape))
                err = np.where(top < _FLOAT32_MAX, err, np.inf)
        result.append(np.array(err, np.float64))
    return result[0], result[1]


def _result(target, nodes, shadow, types, state, sources):
    errs, failed = state
    names = _walk(nodes, [target], sources)
    path = {nodes[name].op for name in names}
    unsupported = {failed[f"{name}:0"] for name in names if failed.get(f"{name}:0")}
    value = np.asarray(shadow[target], np.float64)
    bound = shadow_bound = None
    if not unsupported:
        if types.get(target) not in _FLOATS:
            bound = shadow_bound = np.zeros(value.shape)
        elif target in errs:
            bound, shadow_bound = errs[target]
        else:  # an output > 0 of a node with a rule for output 0 only
            unsupported.add(nodes[target.split(":")[0]].op + "(output > 0)")
    return TensorAnalysis(target, value, bound, shadow_bound, tuple(sorted(path)),
                          tuple(sorted(unsupported)))
