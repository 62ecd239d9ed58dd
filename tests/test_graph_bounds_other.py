"""Soundness of the pooling, reduction, batch-norm and data-mover rules; the walk's API.

Each rule is held within its derived bound by the TF1 float32 run, an XLA float32 run and a
float64 run (`_graph_bounds_harness.check`); sums also against math.fsum (correctly rounded)
and NumPy float32 in another order. The API: op names as targets, resource and ref
variables, unsupported ops named with no bound, bad names rejected.
"""

import math

import numpy as np
import pytest

from migration_audit.graph_bounds import analyse_graph, pair_bound_of
from tests._graph_bounds_harness import check, within

RNG = np.random.default_rng(5)


def f32(*shape, scale=1.0):
    return (RNG.normal(size=shape) * scale).astype(np.float32)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling(pool, padding):
    import tensorflow as tf

    fn = tf.nn.max_pool2d if pool == "max" else tf.nn.avg_pool2d

    def build(x, y):
        return fn(x - y, 3, 2, padding)
    x = f32(2, 7, 6, 3, scale=100)
    check(build, {"x": x, "y": f32(2, 7, 6, 3)}, frac=1e-5)
    check(build, {"x": x, "y": (x + f32(2, 7, 6, 3, scale=1e-4)).astype(np.float32)})


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("axis,keep", [((1,), False), ((0, 2), True), ((-1,), False)])
def test_reductions(op, axis, keep):
    import tensorflow as tf

    fn = tf.reduce_sum if op == "sum" else tf.reduce_mean

    def build(x, y):
        return fn(x * y, axis=list(axis), keepdims=keep)
    check(build, {"x": f32(3, 40, 5, scale=10), "y": np.ones((3, 40, 5), np.float32)}, frac=1e-4)
    big = f32(3, 40, 5, scale=1e6)
    big[:, 1::2] = -big[:, 0::2]  # exact sums of zero from huge terms, plus ones
    check(build, {"x": big, "y": np.ones((3, 40, 5), np.float32)})


def test_sum_against_fsum_and_other_orders():
    import tensorflow as tf

    x = np.concatenate([f32(100, scale=1e8), -f32(100, scale=1e8), f32(56)]).astype(np.float32)
    RNG.shuffle(x)
    analysis, computed = check(lambda x: tf.reduce_sum(x * 1.0), {"x": x[None]}, xla=False)
    exact = math.fsum(map(float, x))  # correctly rounded: within u64 |exact| of the exact sum
    slack = abs(exact) * 2.0**-53
    within(computed, np.float64([exact]), analysis.bound + slack, "tf1 against fsum")
    for order in (x, x[::-1], x[np.argsort(-np.abs(x))]):
        total = np.float32(0)
        for term in order:
            total = np.float32(total + term)
        within(np.float64([total]), np.float64([exact]), analysis.bound + slack, "other order")


def test_fused_batch_norm_inference():
    import tensorflow as tf

    def build(x, scale, offset, mean, var):
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, mean, var, epsilon=1e-3,
                                                   is_training=False)
        return y
    def formula(x, scale, offset, mean, var):  # another form: (x - mean) * rsqrt(...) * scale
        eps = tf.cast(np.float32(1e-3), x.dtype)
        return tf.nn.batch_normalization(x, mean, var, offset, scale, eps)
    c = 4
    args = {"x": f32(2, 5, 3, c, scale=4), "scale": f32(c), "offset": f32(c),
            "mean": f32(c, scale=4), "var": np.abs(f32(c)) + 0.1}
    check(build, args, frac=1e-5, xla=False, wide_builder=formula, ports=[formula])
    args["mean"] = args["x"][0, 0, 0] + f32(c, scale=1e-3)  # x - mean cancels
    check(build, args, xla=False, wide_builder=formula, ports=[formula])


def test_data_movers():
    import tensorflow as tf

    def build(x, y, d):
        a = tf.reshape(x * y, [3, 4, 2])
        a = tf.transpose(a, [2, 0, 1])
        a = tf.expand_dims(tf.squeeze(tf.expand_dims(a, 0), 0), -1)
        a = tf.concat([a, a * 2.0, tf.pad(a, [[0, 0], [0, 0], [0, 0], [1, 0]])], axis=-1)
        a = tf.slice(a, [0, 1, 0, 0], [2, 2, 4, 3])[:, ::-1, 1:, 1:]
        return tf.cast(tf.cast(a, tf.float64) + d, x.dtype)  # a downcast in the float32 graph
    check(build, {"x": f32(24, scale=3), "y": f32(24), "d": np.float64([1e-9, 1.0 / 3])},
          xla=False)


def test_downcast_to_half_rounds_at_half_precision():
    import tensorflow as tf

    # "Exact" is real arithmetic: the cast changes nothing there, so the float64 witness is
    # the graph without it; the float32 run (through half) must lie within the bound.
    analysis, computed = check(lambda x: tf.cast(tf.cast(x, tf.float16), x.dtype),
                               {"x": f32(50, scale=100)}, xla=False, wide_builder=lambda x: x)
    assert (computed != analysis.shadow).any()
    assert analysis.bound.max() <= 2.0**-11 * np.abs(analysis.shadow).max() * 1.01
    assert analysis.bound.max() >= 2.0**-12 * np.abs(analysis.shadow).max()


def _mlp(use_resource=True):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        with tf.compat.v1.variable_scope("hidden", use_resource=use_resource):
            w = tf.compat.v1.get_variable("w", [4, 3])
        logits = tf.matmul(x, w, name="logits")
        tf.nn.softmax(logits, name="probs")
        tf.math.sin(logits, name="wavy")
        tf.argmax(logits, 1, name="label")
        tf.compat.v1.nn.fused_batch_norm(tf.reshape(logits, [1, 1, -1, 3]), tf.ones([3]),
                                         tf.zeros([3]), is_training=True, name="bn")
    return graph


@pytest.mark.parametrize("use_resource", [True, False])
def test_api_by_op_name_with_resource_and_ref_variables(use_resource):
    graph = _mlp(use_resource)
    x, w = f32(2, 4), f32(4, 3)
    with graph.as_default():  # a variable and a placeholder off the targets' paths
        import tensorflow as tf
        tf.compat.v1.get_variable("unused", [2])
        tf.compat.v1.placeholder(tf.float32, [], name="rate")
    variables = {"hidden/w": w, "unused": f32(2)}
    result = analyse_graph(graph.as_graph_def(), ["probs", "logits:0"],
                           {"x": x, "rate": np.float32(0.5)}, variables)
    assert set(result) == {"probs:0", "logits:0"}
    logits = result["logits:0"]
    np.testing.assert_allclose(logits.shadow, x.astype(np.float64) @ w, rtol=1e-14)
    assert "MatMul" in logits.path_ops and "Placeholder" in logits.path_ops
    assert ("ReadVariableOp" if use_resource else "VariableV2") in logits.path_ops
    assert logits.unsupported == () and logits.bound.shape == (2, 3)
    np.testing.assert_array_equal(pair_bound_of(logits), 2 * logits.bound)


def test_unsupported_ops_are_named_and_get_no_bound():
    graph = _mlp()
    feeds, variables = {"x": f32(2, 4)}, {"hidden/w": f32(4, 3)}
    result = analyse_graph(graph.as_graph_def(), ["wavy", "label", "bn"], feeds, variables)
    assert result["wavy:0"].unsupported == ("Sin",)
    assert result["label:0"].unsupported == ("ArgMax",)
    assert result["bn:0"].unsupported == ("FusedBatchNormV3(is_training)",)
    # The shadow still evaluates training-mode batch norm (batch statistics, decomposed).
    logits = feeds["x"].astype(np.float64) @ variables["hidden/w"]
    normal = (logits - logits.mean(0)) / np.sqrt(logits.var(0) + np.float32(1e-3))
    np.testing.assert_allclose(result["bn:0"].shadow[0, 0], normal, rtol=1e-12, atol=1e-12)
    for analysis in result.values():
        assert analysis.bound is None and analysis.shadow_bound is None
        assert pair_bound_of(analysis) is None and analysis.shadow is not None


def test_bad_names_are_rejected():
    graph_def = _mlp().as_graph_def()
    with pytest.raises(ValueError, match="'nope:0' is not a tensor of the graph"):
        analyse_graph(graph_def, ["nope"], {"x": f32(2, 4)}, {"hidden/w": f32(4, 3)})
    with pytest.raises(ValueError, match="Expected a value for 'hidden/w'"):
        analyse_graph(graph_def, ["logits"], {"x": f32(2, 4)}, {})
    with pytest.raises(ValueError, match="'y' is not in the graph"):
        analyse_graph(graph_def, ["logits"], {"y": f32(2, 4)}, {"hidden/w": f32(4, 3)})


def test_tensorflow_flushes_float64_subnormals_too():
    # Why the shadow's bound keeps flush terms (with float64's smallest normal): TensorFlow's
    # CPU kernels set flush-to-zero and denormals-are-zero, which act on float64 as well.
    import tensorflow as tf

    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float64, [2])
        with tf.compat.v1.Session() as sess:
            flushed = sess.run(x * tf.constant(1.0, tf.float64), {x: [1e-310, 1e-300]})
    assert flushed[0] == 0.0 and flushed[1] == 1e-300


def test_batch_norm_outputs_beyond_the_first_are_shadowed_but_unsupported():
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 3, 2], name="x")
        _, mean, var = tf.compat.v1.nn.fused_batch_norm(
            x, tf.ones([2]), tf.zeros([2]), tf.constant([0.5, -1.0]), tf.constant([2.0, 3.0]),
            is_training=False, name="bn")
        tf.identity(mean * 1.0, name="mean_out")
        tf.identity(var * 1.0, name="var_out")
    result = analyse_graph(graph.as_graph_def(), ["mean_out", "var_out"], {"x": f32(2, 3, 3, 2)},
                           {})
    np.testing.assert_array_equal(result["mean_out:0"].shadow, [0.5, -1.0])
    np.testing.assert_array_equal(result["var_out:0"].shadow, [2.0, 3.0])
    assert result["mean_out:0"].unsupported == ("FusedBatchNormV3(output > 0)",)
    assert result["mean_out:0"].bound is None


def test_integers_cast_to_float_are_exact_up_to_two_to_the_24():
    import tensorflow as tf

    def build(x, i):
        return x * tf.cast(i, x.dtype)
    i = np.int32([3, -7, 2**24, 2**24 + 1, 2**30 + 3])
    analysis, _ = check(build, {"x": np.ones(5, np.float32), "i": i}, xla=False)
    u, scale = 2.0**-24, np.abs(analysis.shadow)
    assert (analysis.bound[:3] <= 1.01 * u * scale[:3]).all()  # the product's rounding only
    assert (analysis.bound[3:] >= 1.9 * u * scale[3:]).all()  # and the cast's
