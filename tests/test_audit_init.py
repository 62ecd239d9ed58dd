"""Initialisation parity: the TF1 graph's initial variables against the TF2 module's.

`DeterministicRandomTestTool` (tf_keras; TensorFlow's "Validating
correctness" migration guide) patches `random_seed.get_seed`, the one
function every *stateful* random op asks for its seeds: in `constant` mode
every op gets (seed, 0) (and the global seed is reset each time, clearing
eager's kernel cache), in `num_random_ops` mode the n-th op gets (seed, n).
So a graph built inside `tool.scope()` and an eager module built inside a
fresh tool's `scope()` draw the same numbers, provided both issue the same
stateful ops in the same order. Here each side issues exactly one:
`tf.random.uniform` for the conv kernel (TF1's
`glorot_uniform_initializer` and `tf2.kernels.glorot_uniform` alike); the
deconv kernel is a constant and the image is the image.

Keras 3 initializers draw with *stateless* ops seeded by Keras's own
`SeedGenerator`, never calling `get_seed`: the tool cannot reach them.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2
# The v1 export of tf_keras (tf.compat.v1.keras.utils under TF_USE_LEGACY_KERAS=1).
from tf_keras.api._v1.keras.utils import DeterministicRandomTestTool

from legacy_tf1.filters import fcn_bilinear_weights
from legacy_tf1.graph import build_graph
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel

# tf_upgrade_v2's own AST visitors use names Python 3.11 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:visit_:DeprecationWarning")

MODES = ("constant", "num_random_ops")
SHAPE = (3, 3, 3, 64)
# Glorot/Xavier uniform bound: fan_in = 3*3*3 = 27, fan_out = 3*3*64 = 576.
LIMIT = math.sqrt(6.0 / (27 + 576))
IMAGE = np.random.default_rng(0).uniform(0, 255, (1, 7, 5, 3)).astype(np.float32)
# The original's width-3 FCN taps, f = 2, c = 3/4: 1 - |x/2 - 3/4| for x = 0, 1, 2.
FCN_TAPS_3 = np.array([0.25, 0.75, 0.75])


def _tf1_initial(tool):
    """The original graph's variables right after global_variables_initializer()."""
    with tool.scope():
        with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
            stages = build_graph(IMAGE)
            sess.run(tf.compat.v1.global_variables_initializer())
            return sess.run({"image": stages.image, "conv_kernel": stages.conv_kernel,
                             "deconv_kernel": stages.deconv_kernel})


def _tf2_initial(tool):
    """The TF2 module's variables, built inside the tool's scope."""
    with tool.scope():
        demo = DeconvDemo()
    return {"conv_kernel": demo.conv_kernel.numpy(), "deconv_kernel": demo.deconv_kernel.numpy()}


def _tf1_glorot_in_graph(seed):
    """TF1's glorot_uniform_initializer with an op seed, in a fresh graph."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        init = tf.compat.v1.glorot_uniform_initializer(seed=seed)
        return sess.run(init(SHAPE, dtype=tf.float32))


def _assert_glorot_draw(w):
    # U(-LIMIT, LIMIT): bounded, and 1728 draws reach within 1% of both ends
    # (for a true uniform the chance of missing is 0.99**1728 ~ 3e-8 each).
    assert w.shape == SHAPE and w.dtype == np.float32
    assert np.abs(w).max() <= LIMIT
    assert w.max() > 0.99 * LIMIT and w.min() < -0.99 * LIMIT
    # Mean ~ 0: its standard error is LIMIT / sqrt(3 * 1728) ~ 0.014 LIMIT.
    assert abs(float(w.mean())) < 0.06 * LIMIT


def test_glorot_limit_hand_worked():
    # sqrt(6 / 603) = sqrt(0.00995025) = 0.0997509...
    assert LIMIT == pytest.approx(0.09975093, rel=1e-7)


@pytest.mark.parametrize("mode", MODES)
def test_initial_variables_equal_under_deterministic_tool(mode):
    tf1_tool, tf2_tool = DeterministicRandomTestTool(mode=mode), DeterministicRandomTestTool(
        mode=mode)
    tf1 = _tf1_initial(tf1_tool)
    tf2 = _tf2_initial(tf2_tool)
    np.testing.assert_array_equal(tf1["conv_kernel"], tf2["conv_kernel"])
    np.testing.assert_array_equal(tf1["deconv_kernel"], tf2["deconv_kernel"])
    # The image variable's initial value is the image itself.
    np.testing.assert_array_equal(IMAGE, tf1["image"])
    # Exactly one stateful random op on each side (num_random_ops counts them).
    expected_ops = 1 if mode == "num_random_ops" else 0
    assert tf1_tool.operation_seed == tf2_tool.operation_seed == expected_ops
    for draw in (tf1["conv_kernel"], tf2["conv_kernel"]):
        _assert_glorot_draw(draw)


def test_tool_modes_draw_differently_but_each_reproducibly():
    # constant mode seeds the op (42, 0); num_random_ops the first op (42, 0)
    # too, so they agree on a single op; a second tool reproduces each.
    draws = {mode: _tf2_initial(DeterministicRandomTestTool(mode=mode))["conv_kernel"]
             for mode in MODES}
    again = _tf2_initial(DeterministicRandomTestTool(mode="constant"))["conv_kernel"]
    np.testing.assert_array_equal(draws["constant"], again)
    np.testing.assert_array_equal(draws["constant"], draws["num_random_ops"])
    other_seed = _tf2_initial(DeterministicRandomTestTool(seed=7))["conv_kernel"]
    assert not np.array_equal(draws["constant"], other_seed)


def test_seeded_draws_of_both_ports_are_glorot_uniform():
    # Without the tool: a seeded TF1 graph draw and a seeded TF2 draw.
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        tf.compat.v1.set_random_seed(3)
        stages = build_graph(IMAGE)
        sess.run(tf.compat.v1.global_variables_initializer())
        _assert_glorot_draw(sess.run(stages.conv_kernel))
    _assert_glorot_draw(DeconvDemo(seed=3).conv_kernel.numpy())


def test_same_global_seed_draws_differently_in_graph_and_eager():
    # Pitfall: `tf.compat.v1.set_random_seed(s)` in a graph and
    # `tf.random.set_seed(s)` eagerly do not give the same kernel. Without an
    # op seed a graph derives it from the number of ops built so far, eager
    # from its own counter; only the tool (above) or explicit kernels align
    # the ports. (Both command lines take --seed N; the audit feeds the TF1
    # draw to TF2 instead.)
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        tf.compat.v1.set_random_seed(0)
        stages = build_graph(IMAGE)
        sess.run(tf.compat.v1.global_variables_initializer())
        tf1 = sess.run(stages.conv_kernel)
    tf.random.set_seed(0)
    tf2 = DeconvDemo().conv_kernel.numpy()
    assert not np.array_equal(tf1, tf2)
    _assert_glorot_draw(tf2)


@pytest.mark.parametrize("mode", MODES)
def test_deconv_kernel_is_the_fcn_bilinear_kernel_exactly(mode):
    expected = np.zeros(SHAPE, np.float32)
    for i in range(3):  # the filter on the diagonal [:, :, i, i], i < 3
        expected[:, :, i, i] = np.outer(FCN_TAPS_3, FCN_TAPS_3)
    tf1 = _tf1_initial(DeterministicRandomTestTool(mode=mode))["deconv_kernel"]
    tf2 = _tf2_initial(DeterministicRandomTestTool(mode=mode))["deconv_kernel"]
    # Dyadic fractions (1/16, 3/16, 9/16): exact in float32.
    np.testing.assert_array_equal(expected, tf1)
    np.testing.assert_array_equal(expected, tf2)
    np.testing.assert_array_equal(fcn_bilinear_weights(list(SHAPE)).astype(np.float32), tf1)
    np.testing.assert_array_equal(bilinear_kernel(3, 3, mode="fcn", in_channels=64), tf2)


@pytest.mark.parametrize("mode", MODES)
def test_keras3_glorot_uniform_does_not_follow_the_tool(mode):
    # Pitfall: swapping TF1's initializer for Keras 3's GlorotUniform loses
    # parity: same distribution, other numbers, and not even reproducible
    # under the tool (seed=None draws a fresh Keras seed each time).
    tf1 = _tf1_initial(DeterministicRandomTestTool(mode=mode))["conv_kernel"]
    draws = []
    for _ in range(2):
        with DeterministicRandomTestTool(mode=mode).scope():
            draws.append(keras.initializers.GlorotUniform()(SHAPE).numpy())
    assert not np.array_equal(tf1, draws[0])
    assert not np.array_equal(draws[0], draws[1])
    for draw in draws:
        _assert_glorot_draw(draw)


def test_keras3_glorot_uniform_same_seed_differs_from_tf1():
    # With the same explicit seed Keras 3 is reproducible (stateless ops)
    # but draws other numbers than TF1's stateful op with that op seed.
    keras_draws = [keras.initializers.GlorotUniform(seed=1)(SHAPE).numpy() for _ in range(2)]
    np.testing.assert_array_equal(keras_draws[0], keras_draws[1])
    tf1 = _tf1_glorot_in_graph(seed=1)
    assert not np.array_equal(tf1, keras_draws[0])
    _assert_glorot_draw(tf1)
    _assert_glorot_draw(keras_draws[0])


XAVIER_SOURCE = "import tensorflow as tf\ninit = tf.contrib.layers.xavier_initializer()\n"
UPGRADED_SOURCE = ('import tensorflow as tf\ninit = tf.compat.v1.keras.initializers.'
                   'VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")\n')


def _upgrade(source):
    """What `tf_upgrade_v2 --infile` writes for `source` (the same upgrader, in-process)."""
    upgrader = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec())
    count, new_source, log, errors = upgrader.update_string_pasta(source, "original.py")
    assert (count, errors) == (1, [])
    assert "xavier initializer to a tf.compat.v1.keras.initializers.VarianceScaling" in log[0]
    return new_source


def _upgraded_initializer(**kwargs):
    namespace = {}
    exec(_upgrade(XAVIER_SOURCE), namespace)  # noqa: S102 - the upgrader's own output
    init = namespace["init"]
    if kwargs:
        init = type(init)(**{**init.get_config(), **kwargs})
    return init


def test_tf_upgrade_v2_rewrites_xavier_initializer_to_variance_scaling():
    assert _upgrade(XAVIER_SOURCE) == UPGRADED_SOURCE


def test_upgraded_initializer_is_keras3_variance_scaling():
    # Under Keras 3, tf.compat.v1.keras resolves to Keras 3 itself: the
    # rewritten name exists, and it is Keras 3's (stateless) VarianceScaling.
    init = _upgraded_initializer()
    assert type(init) is keras.initializers.VarianceScaling
    config = init.get_config()
    assert (config["scale"], config["mode"], config["distribution"]) == (1.0, "fan_avg",
                                                                           "uniform")


@pytest.mark.parametrize("mode", MODES)
def test_upgraded_initializer_is_not_bit_identical_under_the_tool(mode):
    # The issue's claim, verified: the same distribution as TF1's
    # glorot_uniform_initializer (the bound holds), other numbers.
    tf1 = _tf1_initial(DeterministicRandomTestTool(mode=mode))["conv_kernel"]
    with DeterministicRandomTestTool(mode=mode).scope():
        upgraded = _upgraded_initializer()(SHAPE).numpy()
    assert not np.array_equal(tf1, upgraded)
    _assert_glorot_draw(upgraded)


def test_upgraded_initializer_is_not_bit_identical_with_the_same_seed():
    upgraded = _upgraded_initializer(seed=1)(SHAPE).numpy()
    np.testing.assert_array_equal(upgraded, _upgraded_initializer(seed=1)(SHAPE).numpy())
    assert not np.array_equal(_tf1_glorot_in_graph(seed=1), upgraded)
    _assert_glorot_draw(upgraded)
