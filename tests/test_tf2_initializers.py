"""tf2.initializers.BilinearInitializer: values, Keras layout, serialization."""

import doctest
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from migration_audit import reference
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, conv2d_transpose_bound
from tests.conftest import assert_within, resize_bound
from tf2 import initializers
from tf2.initializers import BilinearInitializer
from tf2.kernels import bilinear_kernel


def test_doctests():
    result = doctest.testmod(initializers)
    assert result.attempted >= 1
    assert result.failed == 0


@pytest.mark.parametrize("mode", ["fcn", "symmetric"])
@pytest.mark.parametrize("shape", [(4, 4, 3, 3), (3, 3, 3, 64), (5, 5, 4, 2), (1, 1, 1, 1)])
def test_returns_the_diagonal_bilinear_kernel(mode, shape):
    value = BilinearInitializer(mode)(shape)
    assert value.dtype == tf.float32
    np.testing.assert_array_equal(
        bilinear_kernel(shape[0], shape[2], mode=mode, in_channels=shape[3]), value)


def test_dtype_argument_and_numpy_int_shapes():
    assert BilinearInitializer()((4, 4, 2, 2), dtype="float64").dtype == tf.float64
    assert BilinearInitializer()(np.array([4, 4, 2, 2]), dtype="float16").dtype == tf.float16


def test_demo_deconv_kernel():
    np.testing.assert_array_equal(
        bilinear_kernel(3, 3, mode="fcn", in_channels=64),
        BilinearInitializer("fcn")((3, 3, 3, 64)))


def _conv2d_transpose_layer(filters, factor=2, mode="symmetric"):
    return keras.layers.Conv2DTranspose(
        filters=filters, kernel_size=2 * factor - factor % 2, strides=factor, padding="same",
        use_bias=False, kernel_initializer=BilinearInitializer(mode))


def test_keras_conv2d_transpose_kernel_layout_is_out_then_in():
    # 2 filters from 3 input channels: Keras's kernel is (k, k, filters, in),
    # so the diagonal maps input channels 0, 1 to outputs 0, 1 and drops 2.
    rng = np.random.default_rng(1)
    x = rng.random((2, 7, 5, 3)).astype(np.float32)
    layer = _conv2d_transpose_layer(filters=2)
    y = layer(x)
    assert tuple(layer.kernel.shape) == (4, 4, 2, 3)
    kernel = bilinear_kernel(4, 2, in_channels=3)
    expected = reference.conv2d_transpose_same(x, kernel, (14, 10))
    # float32 sums vs float64: within the float32 plus the float64 derived bound.
    bound = (conv2d_transpose_bound(x, kernel, (14, 10), 2)
             + conv2d_transpose_bound(x, kernel, (14, 10), 2, FLOAT64_UNIT_ROUNDOFF))
    assert_within(np.asarray(y), expected, bound, "Conv2DTranspose vs float64 reference")


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_conv2d_transpose_with_it_upsamples_like_resize_in_the_interior(factor):
    # Zero padding darkens the outer factor // 2 rows and columns only; inside,
    # a symmetric kernel of width 2f - f % 2 at stride f is bilinear resizing.
    rng = np.random.default_rng(factor)
    x = rng.random((1, 6, 5, 3)).astype(np.float32)
    y = _conv2d_transpose_layer(filters=3, factor=factor)(x).numpy()
    resized = tf.image.resize(x, (6 * factor, 5 * factor), "bilinear").numpy()
    b = factor // 2
    interior = (slice(None), slice(b, 6 * factor - b), slice(b, 5 * factor - b))
    # Both float32: resize's source coordinate is off by ~1e-7 * index for
    # factor 3 (1/3 is inexact); each within its derived bound of the exact
    # interpolation (the conv's is the resize bound's interpolation part).
    assert_within(y[interior], resized[interior], 2 * resize_bound(x, factor),
                  "Conv2DTranspose vs tf.image.resize, interior")
    if b:
        assert np.abs(resized[:, 0] - y[:, 0]).max() > 0.01  # the border does differ


def test_constant_image_stays_constant_inside():
    y = _conv2d_transpose_layer(filters=3)(np.ones((1, 4, 5, 3), np.float32)).numpy()
    np.testing.assert_array_equal(np.ones((1, 6, 8, 3)), y[:, 1:-1, 1:-1])
    # Corner: one tap of 0.75 per axis.
    assert y[0, 0, 0, 0] == 0.5625


def test_config_is_exactly_the_constructor_kwargs():
    assert BilinearInitializer().get_config() == {"mode": "symmetric"}
    assert BilinearInitializer("fcn").get_config() == {"mode": "fcn"}


@pytest.mark.parametrize("mode", ["fcn", "symmetric"])
def test_json_round_trip(mode):
    config = json.loads(json.dumps(keras.initializers.serialize(BilinearInitializer(mode))))
    assert config["registered_name"] == "bilinear_deconv>BilinearInitializer"
    restored = keras.initializers.deserialize(config)
    assert isinstance(restored, BilinearInitializer)
    assert restored.get_config() == {"mode": mode}
    assert keras.saving.get_registered_object("bilinear_deconv>BilinearInitializer") is BilinearInitializer


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, _conv2d_transpose_layer(filters=3, mode="fcn")(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    init = restored.layers[-1].kernel_initializer
    assert isinstance(init, BilinearInitializer) and init.mode == "fcn"
    x = np.random.default_rng(0).random((2, 3, 5, 3)).astype(np.float32)
    # Same weights, same op, same machine: bit-identical.
    np.testing.assert_array_equal(model(x), restored(x))


@pytest.mark.parametrize("call, match", [
    (lambda: BilinearInitializer("caffe"),
     r"Invalid value for argument `mode`. Expected one of \['fcn', 'symmetric'\]. Received: mode='caffe'"),
    (lambda: BilinearInitializer()((3, 3)),
     r"BilinearInitializer expects a 4-D kernel shape \(k, k, out_channels, in_channels\) "
     r"of ints >= 1. Received: shape=\(3, 3\)"),
    (lambda: BilinearInitializer()((3, 3, 0, 1)), r"4-D kernel shape .*Received: shape=\(3, 3, 0, 1\)"),
    (lambda: BilinearInitializer()((3, 3, 1.5, 1)), r"4-D kernel shape .*Received: shape=\(3, 3, 1.5, 1\)"),
    (lambda: BilinearInitializer()((3, 4, 2, 2)),
     r"BilinearInitializer expects a square kernel .*Received: shape=\(3, 4, 2, 2\)"),
    (lambda: BilinearInitializer()((3, 3, 1, 1), dtype="int32"),
     r"Invalid value for argument `dtype`. Expected a floating dtype. Received: dtype='int32'"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
