"""tf2.demo's conv + max pool by one stride-2 conv over each pool window.

The fast path's per-channel form computes max_pool2d(conv2d(x, k)) as a
stride-2 conv with `_window_kernel(k)` (the kernel moved to each of the 4
window positions, as 4 channels per output channel) followed by the max of
each group of 4 (`_max_of_groups_of_4`), which leaves out the positions past
an odd last row or column, as SAME max pooling does.

Tolerances: with small-integer images and kernels every sum is exact, so
there the window form must equal conv2d + max_pool2d bit for bit on any
machine (bit identity by construction; an indexing error shows as a
whole-number difference). With real values it adds exact zeros to the same
products, in another order: it is held to the derived per-element bound of
`migration_audit.bounds` (twice the bound against conv2d + max_pool2d, the
float32 plus the float64 bound against the float64 reference).
"""

import numpy as np
import pytest
import tensorflow as tf

from migration_audit import reference
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, demo_bounds
from tests.conftest import assert_matches_reference, assert_within
from tf2._window import _conv_pool, _max_of_groups_of_4, _window_kernel, demo_output
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel

EVEN_SHAPES = [(1, 2, 2, 3), (2, 8, 6, 3), (1, 10, 14, 3), (3, 4, 16, 3)]
ODD_SHAPES = [(1, 1, 1, 3), (1, 7, 5, 3), (2, 8, 5, 3), (1, 9, 8, 3), (2, 33, 17, 3)]
KERNEL_SIZES = [(3, 3), (1, 1), (2, 2), (5, 3)]


def _plain(images, kernel):
    conv1 = tf.nn.conv2d(images, kernel, strides=1, padding="SAME")
    return tf.nn.max_pool2d(conv1, ksize=2, strides=2, padding="SAME").numpy()


def _by_windows(images, kernel):
    windows = tf.nn.conv2d(images, _window_kernel(kernel), strides=2, padding="SAME")
    _, height, width, _ = images.shape
    return _max_of_groups_of_4(windows, height % 2 == 1, width % 2 == 1).numpy()


def _integers(shape, low, high, seed):
    return np.random.default_rng(seed).integers(low, high, shape).astype(np.float32)


@pytest.mark.parametrize("size", KERNEL_SIZES)
@pytest.mark.parametrize("shape", EVEN_SHAPES + ODD_SHAPES)
def test_window_form_is_exact_in_integer_arithmetic(shape, size):
    images = _integers(shape, 0, 16, seed=1)
    kernel = _integers((*size, 3, 5), -2, 3, seed=2)
    expected = _plain(images, kernel)
    np.testing.assert_array_equal(expected, _conv_pool(images, kernel).numpy())
    odd_image = shape[1] % 2 or shape[2] % 2
    if size[0] % 2 and size[1] % 2:  # odd kernel sizes: the window form, any image
        np.testing.assert_array_equal(expected, _by_windows(images, kernel))
    elif not odd_image:  # even kernel sizes: the same geometry on even images only
        np.testing.assert_array_equal(expected, _by_windows(images, kernel))
    else:  # ...which is why _conv_pool does not use it there
        assert not np.array_equal(expected, _by_windows(images, kernel))


def test_window_kernel_places_the_kernel_at_each_window_position():
    kernel = np.arange(2 * 3 * 1 * 2, dtype=np.float32).reshape(2, 3, 1, 2) + 1
    windows = _window_kernel(kernel).numpy()
    assert windows.shape == (3, 4, 1, 8)
    for o in range(2):
        for a in range(2):
            for b in range(2):
                placed = windows[:, :, 0, 4 * o + 2 * a + b]
                np.testing.assert_array_equal(kernel[:, :, 0, o], placed[a:a + 2, b:b + 3])
                assert placed.sum() == kernel[:, :, 0, o].sum()  # zeros elsewhere


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_positions_past_an_odd_side_are_left_out_of_the_max(shape):
    # A negative kernel on positive pixels: a position past the image reads
    # zero padding, so its conv value is the largest of its window and would
    # win the max if it were not left out.
    images = _integers(shape, 1, 16, seed=3)
    kernel = -_integers((3, 3, 3, 2), 1, 3, seed=4)
    expected = _plain(images, kernel)
    np.testing.assert_array_equal(expected, _conv_pool(images, kernel).numpy())
    windows = tf.nn.conv2d(images, _window_kernel(kernel), strides=2, padding="SAME")
    unmasked = _max_of_groups_of_4(windows, False, False).numpy()
    assert not np.array_equal(expected, unmasked)  # the test can fail


@pytest.mark.parametrize("shape", EVEN_SHAPES + ODD_SHAPES + [(2, 64, 48, 3)])
def test_window_form_with_real_values_is_within_rounding(shape):
    rng = np.random.default_rng(5)
    images = rng.uniform(0, 255, shape).astype(np.float32)
    kernel = rng.uniform(-0.3, 0.3, (3, 3, 3, 3)).astype(np.float32)
    plain, windows = _plain(images, kernel), _by_windows(images, kernel)
    no_deconv = np.zeros((3, 3, 3, 3), np.float32)
    single = demo_bounds(images, kernel, no_deconv)["pool"]
    double = demo_bounds(images, kernel, no_deconv, FLOAT64_UNIT_ROUNDOFF)["pool"]
    assert_within(windows, plain, 2 * single, "window form vs conv2d + max_pool2d")
    conv1 = reference.conv2d_same(images.astype(np.float64), kernel.astype(np.float64))
    expected = reference.max_pool_same(conv1)
    assert_within(windows, expected, single + double, "window form vs float64 reference")


@pytest.mark.parametrize("channels", [1, 3, 5])
@pytest.mark.parametrize("odd_height, odd_width", [(False, False), (True, False),
                                                   (False, True), (True, True)])
def test_max_of_groups_of_4(channels, odd_height, odd_width):
    values = np.random.default_rng(6).normal(size=(2, 3, 5, 4 * channels)).astype(np.float32)
    values[0, 0, 0, :4] = -np.inf
    values[1, 2, 4, 1] = np.inf
    groups = values.reshape(2, 3, 5, channels, 2, 2).copy()  # (..., o, a, b)
    if odd_height:
        groups[:, -1, :, :, 1, :] = -np.inf  # row a = 1 of the last windows
    if odd_width:
        groups[:, :, -1, :, :, 1] = -np.inf
    expected = groups.reshape(2, 3, 5, channels, 4).max(axis=-1)
    np.testing.assert_array_equal(
        expected, _max_of_groups_of_4(values, odd_height, odd_width).numpy())


@pytest.mark.parametrize("shape", [(2, 16, 12, 3), (1, 2, 2, 3), (1, 30, 4, 3), (2, 15, 11, 3)])
def test_fast_path_matches_the_float64_reference(shape):
    images = np.random.default_rng(7).uniform(0, 255, shape).astype(np.float32)
    demo = DeconvDemo(seed=7)
    conv, deconv = demo.conv_kernel.numpy(), demo.deconv_kernel.numpy()
    for actual in (demo_output(images, conv, deconv).numpy(), demo.output_window(images).numpy()):
        assert_matches_reference(images, conv, deconv, {"output": actual})


def test_fast_path_is_traced_once_for_even_and_odd_sizes():
    demo = DeconvDemo(seed=8, deconv_kernel=np.asarray(
        bilinear_kernel(3, 3, mode="fcn", in_channels=64)))
    for shape in [(1, 8, 6, 3), (1, 7, 5, 3), (2, 4, 4, 3), (1, 9, 10, 3)]:
        demo.output_window(np.ones(shape, np.float32))
    assert demo.output_window.experimental_get_tracing_count() == 1
