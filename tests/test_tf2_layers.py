"""tf2.layers.BilinearUpsample2D: numbers, training, shapes, serialization."""

import doctest
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from migration_audit import reference
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, conv2d_transpose_bound
from tests.conftest import assert_within, resize_bound
from tf2 import layers
from tf2.kernels import bilinear_kernel, get_kernel_size
from tf2.layers import BilinearUpsample2D

SIZES = [(1, 1), (2, 3), (7, 5)]


def _images(batch, h, w, c=3, scale=1.0, seed=0):
    return (np.random.default_rng(seed).random((batch, h, w, c)) * scale).astype(np.float32)


_resize_reference = reference.bilinear_resize


def test_doctests():
    result = doctest.testmod(layers)
    assert result.attempted >= 1
    assert result.failed == 0


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("h, w", SIZES)
def test_zeros_border_equals_conv2d_transpose_with_diagonal_kernel(factor, h, w):
    x = _images(2, h, w)
    y = BilinearUpsample2D(factor)(x)
    k = get_kernel_size(factor)
    dense = tf.nn.conv2d_transpose(x, bilinear_kernel(k, 3), [2, factor * h, factor * w, 3],
                                   strides=factor, padding="SAME")
    # Same non-zero products, other order (depthwise vs dense op): each within
    # the derived bound of the exact sum, so the two within twice it.
    out_hw = (factor * h, factor * w)
    kernel = bilinear_kernel(k, 3)
    single = conv2d_transpose_bound(x, kernel, out_hw, factor)
    assert_within(y, dense, 2 * single, "layer vs dense conv2d_transpose")
    expected = reference.conv2d_transpose_same(x, kernel, out_hw, stride=factor)
    double = conv2d_transpose_bound(x, kernel, out_hw, factor, FLOAT64_UNIT_ROUNDOFF)
    assert_within(y, expected, single + double, "layer vs float64 reference")


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("h, w", SIZES + [(33, 17)])
def test_clamp_border_equals_bilinear_resize_everywhere(factor, h, w):
    x = _images(2, h, w, seed=factor)
    y = BilinearUpsample2D(factor, border="clamp")(x).numpy()
    # float64 reference of resize's rule: proves the pad-1 / crop-f offsets.
    expected = _resize_reference(x, factor)
    bound = resize_bound(x, factor)
    assert_within(y, expected, bound, "clamp layer vs float64 resize")
    resized = tf.image.resize(x, (factor * h, factor * w), "bilinear").numpy()
    # tf.image.resize's float32 source coordinate is off by ~1e-7 * index
    # for factor 3 (1/3 is inexact): both within the derived bound of exact.
    assert_within(y, resized, 2 * bound, "clamp layer vs tf.image.resize")


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_clamp_border_on_0_to_255_images(factor):
    x = _images(1, 9, 6, scale=255.0, seed=factor)
    y = BilinearUpsample2D(factor, border="clamp")(x).numpy()
    expected = _resize_reference(x, factor)
    bound = resize_bound(x, factor)
    assert_within(y, expected, bound, "clamp layer vs float64 resize")
    resized = tf.image.resize(x, (9 * factor, 6 * factor), "bilinear").numpy()
    assert_within(y, resized, 2 * bound, "clamp layer vs tf.image.resize")


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_constant_image(factor):
    x = np.full((1, 3, 4, 2), 0.5, np.float32)
    clamp = BilinearUpsample2D(factor, border="clamp")(x).numpy()
    zeros = BilinearUpsample2D(factor)(x).numpy()
    # Taps such as 1/3 are inexact in float32: within the derived bound.
    assert_within(clamp, np.full((1, 3 * factor, 4 * factor, 2), 0.5), resize_bound(x, factor),
                  "constant through the clamp layer")
    b = factor // 2
    interior = zeros[:, b:3 * factor - b, b:4 * factor - b]
    assert_within(interior, np.full(interior.shape, 0.5), resize_bound(x, factor),
                  "constant through the zeros layer, interior")
    if b:
        assert zeros[0, 0, 0, 0] < 0.5  # zero padding darkens the corner


def test_1x1_image_clamp_is_constant_and_zeros_is_the_filter():
    x = np.array([[[[2.0]]]], np.float32)
    assert_within(np.asarray(BilinearUpsample2D(4, border="clamp")(x)),
                  np.full((1, 4, 4, 1), 2.0), resize_bound(x, 4), "1x1 clamp")
    # One pixel through a width-8 kernel, SAME pad_before 2: the filter's centre 4x4,
    # one product per output, so exact (2 times a float32 tap is exact).
    expected = 2.0 * bilinear_kernel(8, 1)[2:6, 2:6, 0, 0]
    np.testing.assert_array_equal(expected, BilinearUpsample2D(4)(x)[0, :, :, 0])


@pytest.mark.parametrize("border", ["zeros", "clamp"])
def test_fcn_and_symmetric_modes_compute_the_same(border):
    # Every width 2f - f % 2 is 0 or 1 mod 4, where the two formulas agree.
    x = _images(1, 5, 4)
    for factor in (2, 3, 5):
        np.testing.assert_array_equal(
            BilinearUpsample2D(factor, mode="symmetric", border=border)(x),
            BilinearUpsample2D(factor, mode="fcn", border=border)(x))


def test_float64_layer_matches_float64_reference_tightly():
    x = _images(1, 5, 7).astype(np.float64)
    y = BilinearUpsample2D(3, dtype="float64")(x)
    assert y.dtype == tf.float64
    expected = reference.conv2d_transpose_same(x, bilinear_kernel(5, 3, dtype=np.float64), (15, 21),
                                               stride=3)
    # float64 rounding on both sides only.
    bound = 2 * conv2d_transpose_bound(x, bilinear_kernel(5, 3, dtype=np.float64), (15, 21), 3,
                                       FLOAT64_UNIT_ROUNDOFF)
    assert_within(y.numpy(), expected, bound, "float64 layer vs float64 reference")


def test_kernel_is_depthwise_and_frozen_by_default():
    layer = BilinearUpsample2D(3)
    layer.build((None, 4, 4, 16))
    assert tuple(layer.kernel.shape) == (5, 5, 16, 1)  # O(C), not (5, 5, 16, 16)
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 1
    np.testing.assert_array_equal(
        np.repeat(bilinear_kernel(5, 1)[:, :, :1], 16, axis=2), layer.kernel.numpy())


def _dense_equivalent(x, depthwise_kernel, factor, border):
    """The layer's maths with a dense diagonal kernel and conv2d_transpose."""
    c = x.shape[-1]
    # [k, k, c, 1] -> diagonal [k, k, c, c]
    dense = depthwise_kernel * tf.eye(c, dtype=depthwise_kernel.dtype)[None, None]
    if border == "clamp":
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    n, h, w, _ = x.shape
    y = tf.nn.conv2d_transpose(x, dense, [n, factor * h, factor * w, c], factor, "SAME")
    return y[:, factor:-factor, factor:-factor] if border == "clamp" else y


@pytest.mark.parametrize("border", ["zeros", "clamp"])
def test_trainable_kernel_gets_correct_gradients_and_a_step_changes_it(border):
    factor = 2
    x = _images(2, 5, 4, seed=7)
    target = _images(2, 10, 8, seed=8)
    layer = BilinearUpsample2D(factor, border=border, trainable=True)
    layer.build(x.shape)
    assert [w.name for w in layer.trainable_weights] == ["kernel"]
    kernel = tf.constant(layer.kernel.numpy())
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((layer(x) - target) ** 2)
    (grad,) = tape.gradient(loss, layer.trainable_variables)
    assert grad is not None
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        dense_loss = tf.reduce_mean((_dense_equivalent(x, kernel, factor, border) - target) ** 2)
    expected = tape.gradient(dense_loss, kernel)
    # Two float32 routes to the same sums and products. Each is within
    # gamma_K of the exact gradient times the gradient evaluated on absolute
    # values (Higham, ch. 3), K the longest chain of roundings: the forward
    # sum (<= 4 taps x 3 channels), the difference and the square (2), the
    # mean (M + 1), its gradient (<= 4), and the sum over every output
    # position with its product (N * H * W + 1).
    abs_kernel = tf.constant(np.abs(kernel.numpy()), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(abs_kernel)
        y_abs = _dense_equivalent(tf.constant(np.abs(x), tf.float64), abs_kernel, factor, border)
        abs_loss = tf.reduce_mean((y_abs + np.abs(target)) ** 2)
    grad_abs = tape.gradient(abs_loss, abs_kernel).numpy()
    m = target.size
    k = 12 + 2 + (m + 1) + 4 + (target.shape[0] * target.shape[1] * target.shape[2] + 1)
    gamma_k = k * 2.0**-24 / (1 - k * 2.0**-24)
    assert_within(np.asarray(grad), np.asarray(expected), 2 * gamma_k * grad_abs,
                  "layer gradient vs dense conv2d_transpose gradient")
    keras.optimizers.SGD(learning_rate=0.5).apply_gradients([(grad, layer.kernel)])
    assert np.abs(layer.kernel.numpy() - kernel.numpy()).max() > 1e-4


@pytest.mark.parametrize("border", ["zeros", "clamp"])
def test_unknown_height_and_width_in_functional_and_sequential_models(border):
    inputs = keras.Input((None, None, 3))
    up = BilinearUpsample2D(3, border=border)
    outputs = keras.layers.Conv2D(2, 1)(up(inputs))
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, None, None, 2)
    x = _images(2, 4, 3)
    assert model(x).shape == (2, 12, 9, 2)
    sequential = keras.Sequential([keras.Input((None, None, 3)), BilinearUpsample2D(2, border=border)])
    assert sequential(_images(1, 1, 1)).shape == (1, 2, 2, 3)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3])])
    def traced(images):
        out = up(images)
        assert out.shape.as_list() == [None, None, None, 3]  # channels kept statically
        return out

    np.testing.assert_array_equal(up(x), traced(x))


def test_compute_output_shape():
    layer = BilinearUpsample2D(4)
    assert layer.compute_output_shape((None, 5, 7, 3)) == (None, 20, 28, 3)
    assert layer.compute_output_shape((2, None, 7, 3)) == (2, None, 28, 3)
    assert keras.Input((5, 7, 3)).shape == (None, 5, 7, 3)
    assert layer(keras.Input((5, 7, 3))).shape == (None, 20, 28, 3)


def test_config_is_exactly_the_constructor_kwargs():
    layer = BilinearUpsample2D(3, mode="fcn", border="clamp", trainable=True, name="up")
    config = layer.get_config()
    assert {k: config[k] for k in ("factor", "mode", "border", "trainable", "name")} == {
        "factor": 3, "mode": "fcn", "border": "clamp", "trainable": True, "name": "up"}
    assert set(config) == {"factor", "mode", "border", "data_format", "trainable", "name",
                           "dtype"}
    restored = BilinearUpsample2D.from_config(config)
    assert restored.get_config() == config


def test_json_round_trip():
    layer = BilinearUpsample2D(2, border="clamp")
    payload = json.loads(json.dumps(keras.layers.serialize(layer)))
    assert payload["registered_name"] == "bilinear_deconv>BilinearUpsample2D"
    restored = keras.layers.deserialize(payload)
    assert isinstance(restored, BilinearUpsample2D)
    assert restored.get_config() == layer.get_config()


def test_keras_file_round_trip_keeps_a_trained_kernel(tmp_path):
    inputs = keras.Input((None, None, 2))
    up = BilinearUpsample2D(2, border="clamp", trainable=True, name="up")
    model = keras.Model(inputs, up(inputs))
    up.kernel.assign(up.kernel.numpy() * 1.5)  # no longer the initial filter
    path = tmp_path / "up.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    layer = restored.get_layer("up")
    assert isinstance(layer, BilinearUpsample2D) and layer.trainable and layer.border == "clamp"
    np.testing.assert_array_equal(up.kernel.numpy(), layer.kernel.numpy())
    x = _images(1, 3, 5, c=2)
    np.testing.assert_array_equal(model(x), restored(x))  # same weights, same op


@pytest.mark.parametrize("kwargs, match", [
    ({"factor": 0}, r"Invalid value for argument `factor`. Expected an int >= 1. Received: factor=0"),
    ({"factor": 1.5}, r"argument `factor`.*Received: factor=1.5"),
    ({"factor": True}, r"argument `factor`.*Received: factor=True"),
    ({"mode": "nearest"}, r"Invalid value for argument `mode`. Expected one of \['fcn', 'symmetric'\]"),
    ({"border": "reflect"},
     r"Invalid value for argument `border`. Expected one of \['zeros', 'clamp'\]. Received: border='reflect'"),
])
def test_bad_constructor_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BilinearUpsample2D(**kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        BilinearUpsample2D(2)(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"needs a known channel count .*Received: input_shape=\(None, 4, 4, None\)"):
        BilinearUpsample2D(2).build((None, 4, 4, None))
    layer = BilinearUpsample2D(2)
    layer(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3"):
        layer(np.zeros((1, 2, 2, 4), np.float32))
