"""tf2.kernels: bilinear taps, filters, kernels, and the TF1-exact Glorot draw."""

import doctest
from fractions import Fraction as F

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf_keras.api._v1.keras.utils import DeterministicRandomTestTool

from migration_audit import reference
from tf2 import kernels
from tf2.kernels import (
    bilinear_filter,
    bilinear_kernel,
    bilinear_taps,
    bilinear_upsample_weights,
    get_kernel_size,
    glorot_uniform,
)

# 1-D taps worked by hand from the two formulas (module docstring of tf2.kernels).
FCN_TAPS = {
    1: [1],
    2: [1, 0],
    3: [F(1, 4), F(3, 4), F(3, 4)],
    4: [F(1, 4), F(3, 4), F(3, 4), F(1, 4)],
    5: [F(1, 3), F(2, 3), 1, F(2, 3), F(1, 3)],
    6: [F(1, 3), F(2, 3), 1, F(2, 3), F(1, 3), 0],
    7: [F(1, 8), F(3, 8), F(5, 8), F(7, 8), F(7, 8), F(5, 8), F(3, 8)],
    8: [F(1, 8), F(3, 8), F(5, 8), F(7, 8), F(7, 8), F(5, 8), F(3, 8), F(1, 8)],
}
SYMMETRIC_TAPS = {
    1: [1],
    2: [F(1, 2), F(1, 2)],
    3: [F(1, 2), 1, F(1, 2)],
    4: [F(1, 4), F(3, 4), F(3, 4), F(1, 4)],
    5: [F(1, 3), F(2, 3), 1, F(2, 3), F(1, 3)],
    6: [F(1, 6), F(1, 2), F(5, 6), F(5, 6), F(1, 2), F(1, 6)],
    7: [F(1, 4), F(1, 2), F(3, 4), 1, F(3, 4), F(1, 2), F(1, 4)],
    8: [F(1, 8), F(3, 8), F(5, 8), F(7, 8), F(7, 8), F(5, 8), F(3, 8), F(1, 8)],
}


def test_doctests():
    result = doctest.testmod(kernels)
    assert result.attempted >= 7
    assert result.failed == 0


@pytest.mark.parametrize("mode, table", [("fcn", FCN_TAPS), ("symmetric", SYMMETRIC_TAPS)])
@pytest.mark.parametrize("size", range(1, 9))
def test_taps_match_hand_table(mode, table, size):
    expected = np.array([float(t) for t in table[size]])
    # float64 output: a few float64 roundings (~1e-16) separate it from the exact fraction.
    np.testing.assert_allclose(expected, bilinear_taps(size, mode, dtype=np.float64), rtol=0, atol=1e-15)
    assert bilinear_taps(size, mode).dtype == np.float32


def test_symmetric_and_fcn_agree_exactly_when_size_mod_4_is_0_or_1():
    agree = [n for n in range(1, 17)
             if np.array_equal(bilinear_taps(n, "fcn"), bilinear_taps(n, "symmetric"))]
    assert agree == [1, 4, 5, 8, 9, 12, 13, 16]
    for n in range(1, 17):
        fcn = bilinear_taps(n, "fcn")
        np.testing.assert_array_equal(bilinear_taps(n)[::-1], bilinear_taps(n))
        # The original's filter is mirror-symmetric exactly where it agrees.
        assert np.array_equal(fcn[::-1], fcn) == (n % 4 in (0, 1))


def test_every_upsampling_kernel_width_is_one_where_modes_agree():
    # 2f - f % 2 is 0 mod 4 (f even) or 1 mod 4 (f odd): the FCN quirk never
    # shows in get_kernel_size's widths, only in others such as the demo's 3.
    for factor in range(1, 33):
        k = get_kernel_size(factor)
        assert k % 4 in (0, 1)
        np.testing.assert_array_equal(bilinear_taps(k, "fcn"), bilinear_taps(k))


@pytest.mark.parametrize("factor", range(1, 9))
def test_symmetric_taps_are_a_partition_of_unity_for_stride_factor(factor):
    # Each output phase of a stride-f transposed conv sums taps d, d+f, ...:
    # they sum to 1, so a constant image stays constant away from the border.
    taps = bilinear_taps(get_kernel_size(factor), dtype=np.float64)
    phase_sums = [taps[d::factor].sum() for d in range(factor)]
    np.testing.assert_allclose(np.ones(factor), phase_sums, rtol=0, atol=1e-15)


def test_get_kernel_size():
    assert [get_kernel_size(f) for f in range(1, 9)] == [1, 4, 5, 8, 9, 12, 13, 16]
    assert get_kernel_size(np.int64(2)) == 4


@pytest.mark.parametrize("mode", ["fcn", "symmetric"])
@pytest.mark.parametrize("size", [1, 2, 3, 6, 7])
def test_filter_is_outer_product_of_taps(mode, size):
    taps = bilinear_taps(size, mode, dtype=np.float64)
    np.testing.assert_array_equal(np.outer(taps, taps), bilinear_filter(size, mode, dtype=np.float64))
    assert bilinear_filter(size, mode).shape == (size, size)


def test_width3_fcn_filter_hand_values():
    expected = np.array([[1, 3, 3], [3, 9, 9], [3, 9, 9]]) / 16
    np.testing.assert_array_equal(expected, bilinear_filter(3, "fcn"))


@pytest.mark.parametrize("channels, in_channels", [(2, None), (3, 64), (5, 2), (1, 1)])
def test_kernel_has_filter_on_diagonal_and_zeros_elsewhere(channels, in_channels):
    kernel = bilinear_kernel(4, channels, in_channels=in_channels)
    n_in = channels if in_channels is None else in_channels
    assert kernel.shape == (4, 4, channels, n_in)
    assert kernel.dtype == np.float32
    filt = bilinear_filter(4)
    for o in range(channels):
        for i in range(n_in):
            expected = filt if o == i else np.zeros_like(filt)
            np.testing.assert_array_equal(expected, kernel[:, :, o, i])


def test_kernel_dtype_argument_accepts_numpy_tf_and_names():
    assert bilinear_kernel(3, 2, dtype=np.float64).dtype == np.float64
    assert bilinear_kernel(3, 2, dtype=tf.float16).dtype == np.float16
    assert bilinear_kernel(3, 2, dtype="float32").dtype == np.float32


def _original_style_deconv_weights(f_shape):
    """The original's `__get_deconv_filter` weights, rewritten here with loops."""
    width = f_shape[0]
    half = -(-width // 2)
    centre = (2 * half - 1 - half % 2) / (2.0 * half)
    weights = np.zeros(f_shape)
    for i in range(f_shape[2]):
        for x in range(width):
            for y in range(f_shape[1]):
                weights[x, y, i, i] = (1 - abs(x / half - centre)) * (1 - abs(y / half - centre))
    return weights


def test_demo_deconv_kernel_is_bit_identical_to_original_constant_initializer():
    original = _original_style_deconv_weights([3, 3, 3, 64])
    # The original feeds float64 weights to constant_initializer(dtype=float32).
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        var = tf.compat.v1.get_variable(
            "a1", shape=[3, 3, 3, 64],
            initializer=tf.compat.v1.constant_initializer(original, dtype=tf.float32))
        sess.run(tf.compat.v1.global_variables_initializer())
        tf1_kernel = sess.run(var)
    np.testing.assert_array_equal(tf1_kernel, bilinear_kernel(3, 3, mode="fcn", in_channels=64))


@pytest.mark.parametrize("factor, n", [(1, 1), (2, 21), (3, 4), (4, 2)])
def test_bilinear_upsample_weights_has_num_classes_channels(factor, n):
    # Quirk fixed: the original returned (k, k, 3, 4) whatever number_of_classes was.
    k = get_kernel_size(factor)
    weights = bilinear_upsample_weights(factor, n)
    assert weights.shape == (k, k, n, n)
    np.testing.assert_array_equal(bilinear_kernel(k, n), weights)


def _constant_image_through_width3_kernel(mode, h=5, w=4):
    x = np.ones((1, h, w, 1), np.float32)
    kernel = bilinear_kernel(3, 1, mode=mode)
    y = tf.nn.conv2d_transpose(x, kernel, [1, 2 * h, 2 * w, 1], strides=2, padding="SAME")
    expected = reference.conv2d_transpose_same(x, kernel, (2 * h, 2 * w))
    # Tap products are dyadic (k/16): float32 sums of them are exact.
    np.testing.assert_array_equal(expected, y)
    return y.numpy()[0, :, :, 0]


def test_width3_fcn_kernel_makes_a_checkerboard_on_a_constant_image():
    # Width 3, stride 2, SAME: pad_before = 0, so output j takes tap j - 2i.
    # 1-D: j = 0 -> 0.25 (tap 0 only); even j > 0 -> 0.25 + 0.75 = 1;
    # odd j -> 0.75 (tap 1 only). 2-D is the product.
    out = _constant_image_through_width3_kernel("fcn")
    rows = np.array([0.25] + [0.75, 1.0] * 4 + [0.75])
    np.testing.assert_array_equal(np.outer(rows, rows[:8]), out)
    # Away from row/column 0: even/even 1, mixed 0.75, odd/odd 0.5625.
    assert out[2, 2] == 1.0 and out[2, 3] == 0.75 and out[3, 2] == 0.75 and out[3, 3] == 0.5625
    np.testing.assert_array_equal(np.full((4, 3), 0.5625), out[1::2, 1::2][:4, :3])


def test_width3_symmetric_kernel_has_no_checkerboard():
    # Taps [0.5, 1, 0.5]: even j > 0 -> 0.5 + 0.5, odd j -> 1, j = 0 -> 0.5.
    out = _constant_image_through_width3_kernel("symmetric")
    rows = np.array([0.5] + [1.0] * 9)
    np.testing.assert_array_equal(np.outer(rows, rows[:8]), out)


@pytest.mark.parametrize("call, match", [
    (lambda: bilinear_taps(0), r"Invalid value for argument `size`. Expected an int >= 1. Received: size=0"),
    (lambda: bilinear_taps(True), r"argument `size`.*Received: size=True"),
    (lambda: bilinear_taps(2.0), r"argument `size`.*Received: size=2.0"),
    (lambda: bilinear_filter(3, mode="caffe"),
     r"Invalid value for argument `mode`. Expected one of \['fcn', 'symmetric'\]. Received: mode='caffe'"),
    (lambda: bilinear_kernel(3, 0), r"argument `channels`. Expected an int >= 1. Received: channels=0"),
    (lambda: bilinear_kernel(3, 2, in_channels=0), r"argument `in_channels`.*Received: in_channels=0"),
    (lambda: bilinear_kernel(3, 2, dtype="int32"),
     r"Invalid value for argument `dtype`. Expected a floating dtype. Received: dtype='int32'"),
    (lambda: get_kernel_size(0), r"argument `factor`. Expected an int >= 1. Received: factor=0"),
    (lambda: bilinear_upsample_weights(2, 0), r"argument `num_classes`.*Received: num_classes=0"),
    (lambda: glorot_uniform([3, -1]), r"argument `shape`. Expected a sequence of ints >= 0"),
    (lambda: glorot_uniform(5), r"argument `shape`.*Received: shape=5"),
    (lambda: glorot_uniform([2], seed=1.5), r"argument `seed`. Expected an int or None. Received: seed=1.5"),
    (lambda: glorot_uniform([2], dtype="int32"), r"argument `dtype`. Expected a floating dtype"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- glorot_uniform: the TF1 draw, bit for bit ------------------------------

SHAPES = ([3, 3, 3, 64], [3, 3, 64, 3], [5, 7])


def _tf1_draws(tool):
    with tool.scope():
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            variables = [
                tf.compat.v1.get_variable(
                    f"v{i}", shape=shape,
                    initializer=tf.compat.v1.glorot_uniform_initializer())
                for i, shape in enumerate(SHAPES)
            ]
            sess.run(tf.compat.v1.global_variables_initializer())
            return sess.run(variables)


def _tf2_draws(tool):
    with tool.scope():
        return [glorot_uniform(shape).numpy() for shape in SHAPES]


@pytest.mark.parametrize("mode", ["constant", "num_random_ops"])
def test_glorot_uniform_equals_tf1_get_variable_draw_under_the_tool(mode):
    expected = _tf1_draws(DeterministicRandomTestTool(mode=mode))
    actual = _tf2_draws(DeterministicRandomTestTool(mode=mode))
    for e, a in zip(expected, actual):
        np.testing.assert_array_equal(e, a)


@pytest.mark.parametrize("mode", ["constant", "num_random_ops"])
def test_keras3_glorot_uniform_ignores_the_tool_and_does_not_match(mode):
    # The pitfall: Keras 3 draws with stateless seeds of its own, so under the
    # tool it neither follows the tool nor matches the TF1 draw.
    expected = _tf1_draws(DeterministicRandomTestTool(mode=mode))[0]
    with DeterministicRandomTestTool(mode=mode).scope():
        keras_draw = keras.initializers.GlorotUniform()(SHAPES[0]).numpy()
    assert not np.array_equal(expected, keras_draw)
    assert np.abs(keras_draw).max() <= np.sqrt(6 / (27 + 576))  # still Glorot, just another draw


def test_glorot_uniform_limit_and_fans():
    # [3,3,3,64]: fan_in = 9*3 = 27, fan_out = 9*64 = 576.
    tf.random.set_seed(0)
    draw = glorot_uniform([3, 3, 3, 64]).numpy()
    limit = np.sqrt(6 / (27 + 576))
    assert draw.dtype == np.float32 and draw.shape == (3, 3, 3, 64)
    assert np.abs(draw).max() <= limit
    assert np.abs(draw).max() > 0.9 * limit  # 1728 uniform draws reach the edge
    # Dense [5, 7]: limit sqrt(6 / 12); 1-D [4]: fans 4 and 4.
    assert np.abs(glorot_uniform([5, 7]).numpy()).max() <= np.sqrt(0.5)
    assert glorot_uniform([4], dtype=tf.float64).dtype == tf.float64


def test_glorot_uniform_is_reproducible_with_seeds():
    tf.random.set_seed(3)
    first = glorot_uniform([3, 3, 3, 64], seed=5).numpy()
    tf.random.set_seed(3)
    np.testing.assert_array_equal(first, glorot_uniform([3, 3, 3, 64], seed=5).numpy())
