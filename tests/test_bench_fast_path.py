"""The fast inference paths the benchmark times: tf2._parity.demo_output_xla and
the zero-copy NumPy <-> TensorFlow helpers.

Tolerances: demo_output_xla sums the same float32 products as TF's conv ops
in another order (XLA), so it is held to the derived per-element bound of
`migration_audit.bounds`: the float32 plus the float64 bound against the
float64 reference, twice the float32 bound against demo_output. With
small-integer images and kernels every sum is exact, so there it must equal
demo_output bit for bit on any machine (by construction): any indexing
error of the parity split shows as a whole-number difference.
"""

import numpy as np
import pytest
import tensorflow as tf

from deconv_io.memory import ALIGNMENT, aligned_empty
from tests.conftest import assert_matches_reference, assert_within, float32_bounds
from tf2._convert import as_numpy, as_tensor
from tf2._parity import demo_output_xla
from tf2._window import demo_output
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel


# Each shape is one XLA compile (about a second): odd sides, 1xN, Nx1, batch > 1.
SHAPES = [(2, 33, 17, 3), (1, 1, 6, 3), (1, 6, 1, 3)]


def _integer_kernels(read, seed=0):
    rng = np.random.default_rng(seed)
    conv = rng.integers(-2, 3, (3, 3, 3, 64)).astype(np.float32)
    deconv = np.zeros((3, 3, 3, 64), np.float32)
    deconv[..., read] = rng.integers(-2, 3, (3, 3, 3, len(read)))
    return conv, deconv


@pytest.mark.parametrize("shape", SHAPES)
def test_xla_fast_path_matches_float64_reference(shape):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, shape).astype(np.float32)
    conv = rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32)
    deconv = np.asarray(bilinear_kernel(3, 3, mode="fcn", in_channels=64))
    actual = demo_output_xla(images, conv, deconv).numpy()
    assert_matches_reference(images, conv, deconv, {"output": actual})
    fast = demo_output(images, conv, deconv).numpy()
    assert_within(actual, fast, 2 * float32_bounds(images, conv, deconv)["output"], "xla vs fast")


@pytest.mark.parametrize("shape, read", [
    ((1, 7, 5, 3), [0, 1, 2]), ((2, 9, 12, 3), [3, 40, 63, 7, 9]), ((1, 1, 1, 3), [5])])
def test_xla_fast_path_is_exact_in_integer_arithmetic(shape, read):
    conv, deconv = _integer_kernels(read)
    images = np.random.default_rng(2).integers(0, 16, shape).astype(np.float32)
    np.testing.assert_array_equal(demo_output(images, conv, deconv).numpy(),
                                  demo_output_xla(images, conv, deconv).numpy())


def test_xla_fast_path_on_the_module_follows_kernel_values():
    demo = DeconvDemo(seed=3)
    images = np.random.default_rng(3).uniform(0, 255, (1, 9, 7, 3)).astype(np.float32)
    before = demo.output_parity(images).numpy()
    np.testing.assert_array_equal(before, demo.output(images, execution="xla").numpy())
    demo.set_kernels(deconv_kernel=np.zeros((3, 3, 3, 64), np.float32))
    np.testing.assert_array_equal(np.zeros_like(before), demo.output_parity(images).numpy())


def test_aligned_empty_is_aligned_and_contiguous():
    for shape in [(1,), (3, 5), (2, 7, 5, 3)]:
        array = aligned_empty(shape)
        assert array.ctypes.data % ALIGNMENT == 0 and array.flags.c_contiguous
        assert array.shape == shape and array.dtype == np.float32


def test_as_tensor_shares_an_aligned_array_and_copies_others():
    aligned = aligned_empty((1, 4, 4, 3))
    aligned[...] = 1.0
    shared = as_tensor(aligned)
    aligned[...] = 2.0  # seen through the tensor: no copy was made
    assert float(tf.reduce_max(shared)) == 2.0
    misaligned = np.ones(4 * 4 * 3 + 1, np.float32)[1:].reshape(1, 4, 4, 3)
    assert misaligned.ctypes.data % ALIGNMENT != 0
    copied = as_tensor(misaligned)
    misaligned[...] = 5.0
    assert float(tf.reduce_max(copied)) == 1.0
    # A non-float32 or non-contiguous input is converted as before.
    assert as_tensor(np.ones((2, 2), np.int64)).dtype == tf.int64
    assert as_tensor(aligned[:, ::2]).shape == (1, 2, 4, 3)


def test_as_numpy_is_a_read_only_view_equal_to_numpy():
    tensor = tf.reshape(tf.range(12.0), [3, 4])
    view = as_numpy(tensor)
    np.testing.assert_array_equal(tensor.numpy(), view)
    assert not view.flags.writeable


@pytest.mark.parametrize("read", [[0, 1, 2], [3, 40, 63, 7, 9], [], [12]])
def test_numpy_channel_pick_matches_read_channels(read):
    # demo_output_xla picks the read channels in NumPy (cheaper than eager TF
    # ops); it must pick what tf2._window.read_channels picks,
    # including channel 0 for a kernel that reads nothing and -0.0 as zero.
    from tf2._parity import _read_kernels
    from tf2._window import read_channels

    conv, deconv = _integer_kernels(read or [0], seed=4)
    if not read:
        deconv[...] = 0.0
    deconv[0, 0, 0, 12] = -0.0 if 12 not in read else deconv[0, 0, 0, 12]
    picked_conv, picked_deconv = _read_kernels(conv, deconv)
    channels = read_channels(deconv).numpy()
    np.testing.assert_array_equal(conv[..., channels], picked_conv)
    np.testing.assert_array_equal(deconv[..., channels], picked_deconv)
    assert picked_conv.dtype == np.float32 and picked_deconv.dtype == np.float32
