"""The facts behind the README's "Choose the upsampling layer" table."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from migration_audit import reference
from migration_audit.bounds import conv2d_transpose_bound
from tests.conftest import assert_within, resize_bound
from tf2.kernels import bilinear_kernel, get_kernel_size
from tf2.layers import BilinearUpsample2D

X = np.random.default_rng(0).random((2, 31, 23, 3)).astype(np.float32)


def _layers(factor):
    ours = BilinearUpsample2D(factor, border="clamp", data_format="channels_last")
    theirs = keras.layers.UpSampling2D(factor, interpolation="bilinear",
                                       data_format="channels_last")
    return np.asarray(ours(X)), np.asarray(theirs(X))


@pytest.mark.parametrize("factor", [2, 4])
def test_clamp_equals_upsampling2d_at_powers_of_two(factor):
    ours, theirs = _layers(factor)
    # Bit-identical by construction: a frozen clamp layer with eager (static)
    # sizes calls the same resize op as UpSampling2D, on the same shapes.
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("factor", [3, 5])
def test_clamp_is_closer_to_float64_than_upsampling2d_at_3_and_5(factor):
    ours, theirs = _layers(factor)
    expected = reference.bilinear_resize(X, factor)
    assert_within(ours, expected, resize_bound(X, factor), "clamp layer vs float64")
    # resize's float32 sample coordinates err by ~1e-7 times the index; the
    # polyphase taps are exact per phase: a fact of this image, not a bound.
    assert np.abs(ours - expected).max() < np.abs(theirs - expected).max() / 4


@pytest.mark.parametrize("factor", [2, 3])
def test_zeros_is_the_fcn_transposed_convolution(factor):
    k = get_kernel_size(factor)
    kernel = bilinear_kernel(k, 3) * np.eye(3, dtype=np.float32)[None, None]
    n, h, w, c = X.shape
    fcn = tf.nn.conv2d_transpose(X, kernel, (n, factor * h, factor * w, c), factor, "SAME")
    ours = BilinearUpsample2D(factor, border="zeros", data_format="channels_last")(X)
    # Same sums, another order: each within gamma_n of the exact value (the
    # float64 reference); the bound of one plus the other's.
    bound = 2 * conv2d_transpose_bound(X, bilinear_kernel(k, 3, dtype=np.float64),
                                       (factor * h, factor * w), factor)
    assert_within(np.asarray(ours), fcn.numpy(), bound, "zeros layer vs conv2d_transpose")
