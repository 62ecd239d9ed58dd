"""The float64 shadow of a TF1 graph: the same ops, every float dtype rewritten to float64.

`shadow_run` takes the sub-GraphDef that the targets need and rewrites it:

- every DT_FLOAT / DT_HALF / DT_BFLOAT16 attribute (and list attribute) becomes DT_DOUBLE,
  float `Const` tensors become float64 (exactly: float32 values are float64 values);
- placeholders, fed tensors and variables (`VarHandleOp`, `VariableV2`, `VarIsInitializedOp`
  aside) become float64 placeholders, fed with the float32 values cast to float64 (exact);
  `ReadVariableOp` becomes `Identity`;
- `FusedBatchNormV3` (no float64 CPU kernel) is decomposed into float64 primitives:
  y = (x - mean) * (scale * rsqrt(var + epsilon)) + offset (training mode: the batch's mean and
  biased variance), outputs 0, 1 and (inference) 2;
- control inputs and devices are dropped (only data flows to the targets).

It imports the result into a fresh `tf.Graph()` and fetches every tensor the bound walk
needs in one `Session.run`. `NodeEvaluator` runs one node of the graph again, in float64, on
other arrays (the bound rules' T(|x|, |w|)), with the node's own attributes.
"""

import numpy as np

__all__ = ["FLOAT_TYPES", "NodeEvaluator", "rewrite_node", "shadow_run", "tensor_name"]

#: The enum values of DataType for the float types the shadow widens (DT_FLOAT, DT_DOUBLE,
#: DT_BFLOAT16, DT_HALF).
DT_FLOAT, DT_DOUBLE, DT_BFLOAT16, DT_HALF = 1, 2, 14, 19
FLOAT_TYPES = (DT_FLOAT, DT_BFLOAT16, DT_HALF)
#: Source ops: their values come from feeds or variables, never from a computation.
VARIABLE_OPS = ("VarHandleOp", "VariableV2", "Variable")


def tensor_name(name):
    """`"op"` -> `"op:0"`; a tensor name is returned as is (control `^` stripped).

    >>> tensor_name("out/logits"), tensor_name("a:1"), tensor_name("^b")
    ('out/logits:0', 'a:1', 'b:0')
    """
    name = name.lstrip("^")
    return name if ":" in name else name + ":0"


def _widen_attrs(node):
    for value in node.attr.values():
        kind = value.WhichOneof("value")
        if kind == "type" and value.type in FLOAT_TYPES:
            value.type = DT_DOUBLE
        elif kind == "list" and value.list.type:
            widened = [DT_DOUBLE if t in FLOAT_TYPES else t for t in value.list.type]
            del value.list.type[:]
            value.list.type.extend(widened)


def _placeholder(node, name, dtype, shape=None):
    node.Clear()
    node.name, node.op = name, "Placeholder"
    node.attr["dtype"].type = DT_DOUBLE if dtype in FLOAT_TYPES else dtype
    if shape is not None:
        node.attr["shape"].shape.CopyFrom(shape)


def rewrite_node(node, sources=()):
    """The float64 form of one NodeDef (a copy): see the module docstring.

    Args:
        node: a NodeDef of the original graph.
        sources: names of nodes to turn into placeholders (fed tensors).

    Returns:
        a list of NodeDefs (one, or the decomposition of a FusedBatchNormV3).
    """
    import tensorflow as tf

    new = type(node)()
    new.CopyFrom(node)
    new.device = ""
    if "_class" in new.attr:  # colocation with nodes the shadow may not hold
        del new.attr["_class"]
    del new.input[:]
    new.input.extend(i for i in node.input if not i.startswith("^"))
    if node.name in sources or node.op in VARIABLE_OPS or node.op == "Placeholder":
        dtype = node.attr["dtype"].type if "dtype" in node.attr else node.attr["T"].type
        shape = node.attr["shape"].shape if "shape" in node.attr else None
        _placeholder(new, node.name, dtype, shape)
        return [new]
    if node.op == "Const" and node.attr["dtype"].type in FLOAT_TYPES:
        value = tf.make_ndarray(node.attr["value"].tensor).astype(np.float64)
        new.attr["dtype"].type = DT_DOUBLE
        new.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, tf.float64))
        return [new]
    if node.op == "ReadVariableOp":
        new.op = "Identity"
        new.attr["T"].type = new.attr["dtype"].type
        del new.attr["dtype"]
    if node.op == "FusedBatchNormV3":
        return _decompose_batch_norm(new)
    _widen_attrs(new)
    return [new]


def _decompose_batch_norm(node):
    """y = (x - mean) * (scale * rsqrt(var + eps)) + offset, float64, channel axis per format."""
    import tensorflow as tf

    x, scale, offset, mean, var = node.input[:5]
    eps = float(node.attr["epsilon"].f)
    channels_first = node.attr["data_format"].s.decode() in ("NCHW", "NCDHW")
    base = node.name + "/_shadow"

    def make(name, op, inputs, **types):
        n = type(node)()
        n.name, n.op = name, op
        n.input.extend(inputs)
        for key, dtype in types.items():
            n.attr[key].type = dtype
        return n

    const = make(base + "/epsilon", "Const", [], dtype=DT_DOUBLE)
    const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.float64(eps), tf.float64))
    nodes = []
    if node.attr["is_training"].b:  # batch statistics: the mean and biased variance of x
        axes = make(base + "/axes", "Const", [], dtype=3)
        axes.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(np.int32([0, 2, 3] if channels_first else [0, 1, 2])))
        shape = make(base + "/stat_shape", "Const", [], dtype=3)
        shape.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(
            np.int32([-1, 1, 1] if channels_first else [-1])))
        mean, var = base + "/batch_mean", base + "/batch_var"
        nodes += [axes, shape, make(mean, "Mean", [x, axes.name], T=DT_DOUBLE, Tidx=3),
                  make(base + "/mean_b", "Reshape", [mean, shape.name], T=DT_DOUBLE, Tshape=3),
                  make(base + "/sq", "SquaredDifference", [x, base + "/mean_b"], T=DT_DOUBLE),
                  make(var, "Mean", [base + "/sq", axes.name], T=DT_DOUBLE, Tidx=3)]
    nodes += [const,
             make(base + "/var_eps", "AddV2", [var, const.name], T=DT_DOUBLE),
             make(base + "/rsqrt", "Rsqrt", [base + "/var_eps"], T=DT_DOUBLE),
             make(base + "/s", "Mul", [scale, base + "/rsqrt"], T=DT_DOUBLE)]
    s, m, o = base + "/s", mean, offset
    if channels_first:  # reshape the per-channel vectors to [C, 1, 1]
        shape = make(base + "/shape", "Const", [], dtype=3)
        shape.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.int32([-1, 1, 1])))
        nodes.append(shape)
        for name in ("s", "mean", "offset"):
            source = {"s": s, "mean": mean, "offset": offset}[name]
            nodes.append(make(f"{base}/{name}_c", "Reshape", [source, shape.name],
                              T=DT_DOUBLE, Tshape=3))
        s, m, o = base + "/s_c", base + "/mean_c", base + "/offset_c"
    nodes += [make(base + "/centred", "Sub", [x, m], T=DT_DOUBLE),
              make(base + "/scaled", "Mul", [base + "/centred", s], T=DT_DOUBLE),
              make(base + "/y", "AddV2", [base + "/scaled", o], T=DT_DOUBLE)]
    # Outputs 1 and 2 are the statistics used (inference: the inputs); training mode's output 2
    # (the Bessel-corrected variance) and the reserve spaces are not provided.
    outputs = [base + "/y", mean] + ([] if node.attr["is_training"].b else [var])
    ident = make(node.name, "IdentityN", outputs)
    ident.attr["T"].list.type.extend([DT_DOUBLE] * len(outputs))
    return nodes + [ident]


def shadow_run(nodes, order, fetches, feeds, sources):
    """Runs the needed nodes in float64 and returns {tensor name: ndarray} of `fetches`.

    Args:
        nodes: {name: NodeDef} of the original graph.
        order: the names of the needed nodes.
        fetches: tensor names to fetch.
        feeds: {tensor name: ndarray} for every placeholder, fed tensor and variable.
        sources: names of nodes that are fed (turned into placeholders).
    """
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    for name in order:
        graph_def.node.extend(rewrite_node(nodes[name], sources))
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        feed_dict = {}
        needed = set(order)
        for name, value in feeds.items():
            if name.split(":")[0] not in needed:  # fed or stored, but off the targets' paths
                continue
            tensor = graph.get_tensor_by_name(name)
            dtype = tensor.dtype.as_numpy_dtype
            feed_dict[tensor] = np.asarray(value).astype(dtype)
        with tf.compat.v1.Session(graph=graph) as sess:
            values = sess.run(list(fetches), feed_dict)
    return dict(zip(fetches, values))


class NodeEvaluator:
    """Runs single nodes of the graph in float64 on arrays of our choosing.

    One small graph and session per node, built on first use and reused; `close()`
    releases them all.
    """

    def __init__(self):
        self._cache = {}

    def __call__(self, node, inputs):
        """Output 0 of `node` (its float64 form) applied to `inputs` (one array each)."""
        import tensorflow as tf

        inputs = [np.asarray(a) for a in inputs]
        inputs = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in inputs]
        key = (node.name, tuple(a.dtype.str for a in inputs))
        if key not in self._cache:
            graph = tf.Graph()
            with graph.as_default():
                holders = [tf.compat.v1.placeholder(a.dtype, name=f"in{i}")
                           for i, a in enumerate(inputs)]
                new = rewrite_node(node)[0]
                new.name = "node"
                del new.input[:]
                new.input.extend(f"in{i}" for i in range(len(holders)))
                graph_def = tf.compat.v1.GraphDef()
                graph_def.node.extend([new])
                (out,) = tf.compat.v1.import_graph_def(
                    graph_def, input_map={f"in{i}:0": h for i, h in enumerate(holders)},
                    return_elements=["node:0"], name="eval")
            self._cache[key] = (tf.compat.v1.Session(graph=graph), holders, out)
        sess, holders, out = self._cache[key]
        return sess.run(out, dict(zip(holders, inputs)))

    def close(self):
        for sess, _, _ in self._cache.values():
            sess.close()
        self._cache.clear()
