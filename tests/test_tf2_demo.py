"""tf2.demo: the TF2 module against the float64 reference, by hand, and itself.

Two kinds of claim (docs/equivalence.md):
- bit-identical by construction: eager vs tf.function, and the fast path's
  fallback for a kernel that reads every channel (the same kernels on the
  same shapes in one process and configuration; assert_array_equal);
- within the derived rounding bound (`migration_audit.bounds`): float32 vs
  the float64 reference, XLA and the fast path vs the full path (other
  kernels or other orders of the same sums: the bound of each witness
  against the exact result, twice for two float32 witnesses).
"""

import re

import numpy as np
import pytest
import tensorflow as tf

import tf2.demo
from deconv_io import InputError, default_image_path, load_image
from tests.conftest import assert_matches_reference, assert_within, float32_bounds
from tf2._full import demo_stages
from tf2._window import demo_output, per_channel_sources, read_channels
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel, glorot_uniform


SHAPES = [(1, 7, 5, 3), (1, 33, 17, 3), (1, 1, 1, 3), (3, 7, 5, 3), (2, 33, 17, 3)]


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


@pytest.fixture(scope="module")
def demo():
    return DeconvDemo(seed=7)


def _scattered_kernel(channels, seed=1):
    """A deconv kernel reading exactly `channels`, dense across them."""
    rng = np.random.default_rng(seed)
    kernel = np.zeros((3, 3, 3, 64), np.float32)
    kernel[..., channels] = rng.standard_normal((3, 3, 3, len(channels)))
    return kernel


# --- construction -----------------------------------------------------------


def test_variables_are_the_two_kernels_only_not_the_image(demo):
    # Quirk fixed: the original made the image a trainable tf.Variable, so it
    # was initialised and checkpointed beside the kernels.
    assert sorted(v.name for v in demo.variables) == [
        "deconv_demo/conv_kernel:0", "deconv_demo/deconv_kernel:0"]
    assert demo.conv_kernel.shape == (3, 3, 3, 64)
    assert demo.deconv_kernel.dtype == tf.float32


def test_deconv_kernel_is_the_originals_fcn_bilinear_worked_by_hand(demo):
    # The original's formula for width 3: f = 2, c = (2*2 - 1 - 0) / 4 = 0.75,
    # taps 1 - |x/2 - 0.75| = [0.25, 0.75, 0.75] (asymmetric: a kept quirk).
    taps = np.array([0.25, 0.75, 0.75])
    expected = np.zeros((3, 3, 3, 64), np.float32)
    for i in range(3):
        expected[:, :, i, i] = np.outer(taps, taps)
    np.testing.assert_array_equal(expected, demo.deconv_kernel.numpy())


def test_conv_kernel_is_glorot_uniform_and_follows_the_global_seed():
    limit = np.sqrt(6.0 / (3 * 3 * 3 + 3 * 3 * 64))  # fan_in 27, fan_out 576
    tf.random.set_seed(11)
    first = DeconvDemo().conv_kernel.numpy()
    tf.random.set_seed(11)
    again = DeconvDemo().conv_kernel.numpy()
    np.testing.assert_array_equal(first, again)
    assert np.abs(first).max() <= limit
    # 1728 uniform draws: the spread reaches well past half the limit.
    assert np.abs(first).max() > 0.9 * limit
    assert not np.array_equal(first, DeconvDemo().conv_kernel.numpy())


def test_deterministic_random_test_tool_governs_the_conv_kernel_draw():
    # The draw happens in __init__ with the op TF1's initializer issues, so the
    # migration tool fixes it as it fixes TF1's get_variable (the audit checks
    # the TF1 side).
    from tf_keras.api._v1.keras.utils import DeterministicRandomTestTool

    draws = []
    for _ in range(2):
        with DeterministicRandomTestTool(mode="num_random_ops").scope():
            draws.append(DeconvDemo().conv_kernel.numpy())
    with DeterministicRandomTestTool(mode="num_random_ops").scope():
        expected = glorot_uniform([3, 3, 3, 64]).numpy()
    np.testing.assert_array_equal(expected, draws[0])
    np.testing.assert_array_equal(expected, draws[1])


def test_given_kernels_are_used():
    conv = _images((3, 3, 3, 64), seed=3) / 255
    deconv = _scattered_kernel([4, 9])
    demo = DeconvDemo(conv_kernel=conv, deconv_kernel=deconv)
    np.testing.assert_array_equal(conv, demo.conv_kernel.numpy())
    np.testing.assert_array_equal(deconv, demo.deconv_kernel.numpy())


# --- numbers ----------------------------------------------------------------


def test_closed_form_one_pixel_output_is_the_bilinear_filter():
    # Image 1x1 of ones; conv kernel passes channel c to channel c (centre tap)
    # so conv1 = pool = 1 on channels 0..2. A 1x1 input upsampled to 2x2 with
    # SAME padding (pad before 0) receives taps 0 and 1 of each axis:
    # [[.25*.25, .25*.75], [.75*.25, .75*.75]].
    conv = np.zeros((3, 3, 3, 64), np.float32)
    for c in range(3):
        conv[1, 1, c, c] = 1
    demo = DeconvDemo(conv_kernel=conv)
    stages = demo(np.ones((1, 1, 1, 3), np.float32))
    expected = np.array([[0.0625, 0.1875], [0.1875, 0.5625]], np.float32)
    for i in range(3):
        np.testing.assert_array_equal(expected, stages["output"][0, :, :, i])
    np.testing.assert_array_equal([1, 1, 1] + [0] * 61, stages["pool"][0, 0, 0])


def test_stages_match_float64_reference_on_the_packaged_image(demo):
    image = load_image(default_image_path())[None]
    stages = demo.stages(image)
    assert stages["output"].shape == (1, 750, 500, 3)
    assert_matches_reference(image, demo.conv_kernel, demo.deconv_kernel, stages)


@pytest.mark.parametrize("shape", SHAPES)
def test_stages_match_float64_reference(demo, shape):
    images = _images(shape)
    stages = demo.stages(images)
    n, h, w, _ = shape
    assert stages["output"].shape == (n, 2 * -(-h // 2), 2 * -(-w // 2), 3)
    assert_matches_reference(images, demo.conv_kernel, demo.deconv_kernel, stages)


@pytest.mark.parametrize("shape", [(1, 7, 5, 3), (3, 33, 17, 3), (1, 1, 1, 3)])
def test_eager_and_function_are_bit_identical(demo, shape):
    # By construction: the same TensorFlow kernels on the same shapes, in one
    # process and configuration.
    images = _images(shape)
    traced, eager = demo.stages(images), demo.stages(images, execution="eager")
    for name in ("conv1", "pool", "output"):
        np.testing.assert_array_equal(eager[name], traced[name])
    np.testing.assert_array_equal(demo.output(images, execution="eager"),
                                  demo.output_window(images))
    pure = demo_stages(images, demo.conv_kernel, demo.deconv_kernel)
    np.testing.assert_array_equal(pure["output"], traced["output"])


@pytest.mark.parametrize("shape", [(1, 7, 5, 3), (2, 33, 17, 3)])
def test_xla_close_to_function(demo, shape):
    # XLA compiles its own kernels, which order the float32 sums their own
    # way: two float32 witnesses, twice each one's bound.
    images = _images(shape)
    traced, xla = demo.stages(images), demo.stages(images, execution="xla")
    bounds = float32_bounds(images, demo.conv_kernel, demo.deconv_kernel)
    for name in ("conv1", "pool", "output"):
        assert_within(xla[name], traced[name], 2 * bounds[name], name)
    # The same compiled function twice in one process: bit-identical.
    np.testing.assert_array_equal(xla["output"], demo(images, execution="xla")["output"])


def test_each_function_traces_once_for_every_batch_and_size(monkeypatch):
    calls = {"stages": 0, "output": 0}

    def counted(name, fn):
        def wrapper(*args):
            calls[name] += 1  # runs only while tracing
            return fn(*args)
        return wrapper

    monkeypatch.setattr(tf2.demo, "demo_stages", counted("stages", demo_stages))
    monkeypatch.setattr(tf2.demo, "demo_output", counted("output", demo_output))
    demo = DeconvDemo(seed=1)
    for shape in [(1, 7, 5, 3), (3, 33, 17, 3), (1, 1, 1, 3), (2, 8, 6, 3)]:
        demo.stages(_images(shape))
        demo.output_window(_images(shape))
        demo.output(_images(shape).astype(np.float64))
    demo.set_kernels(deconv_kernel=_scattered_kernel([3, 40]))
    demo.output_window(_images((1, 5, 5, 3)))
    assert calls == {"stages": 1, "output": 1}
    assert demo.traced_stages.experimental_get_tracing_count() == 1
    assert demo.output_window.experimental_get_tracing_count() == 1


# --- fast output path -------------------------------------------------------


def _assert_fast_matches_full(demo, images, bit_identical=False):
    """Fast `output` vs the full path's: bit-identical, or within the derived bound.

    The fast path computes conv1 (as a window conv) and the transposed
    convolution (depthwise) with other kernels than the full path, so each
    stage may sum its products in another order: the two float32 results
    differ by at most twice the bound of either against the exact result
    (`migration_audit.bounds.demo_bounds`, conv1's error passed on through
    the pool to the output). `bit_identical` is asked only where the fast
    path falls back to the full path's very ops.
    """
    full = demo.stages(images)
    fast = demo.output_window(images).numpy()
    expected = full["output"].numpy()
    assert fast.shape == expected.shape
    if bit_identical:
        np.testing.assert_array_equal(expected, fast)
        return
    bounds = float32_bounds(images, demo.conv_kernel, demo.deconv_kernel)
    assert_within(fast, expected, 2 * bounds["output"], "fast path vs full path")


@pytest.mark.parametrize("shape", SHAPES + [(1, 750, 500, 3)])
def test_fast_output_bilinear_kernel(demo, shape):
    _assert_fast_matches_full(demo, _images(shape))


@pytest.mark.parametrize("shape", [(1, 7, 5, 3), (3, 33, 17, 3), (1, 1, 1, 3)])
def test_fast_output_dense_kernel_falls_back_to_the_full_path_exactly(shape):
    # Every channel is read, so the fast path falls back to the full path's
    # ops on the same values and shapes: bit-identical by construction.
    demo = DeconvDemo(seed=2, deconv_kernel=_scattered_kernel(list(range(64))))
    _assert_fast_matches_full(demo, _images(shape), bit_identical=True)


@pytest.mark.parametrize("shape", [(1, 7, 5, 3), (3, 33, 17, 3), (1, 1, 1, 3), (2, 64, 48, 3)])
def test_fast_output_five_scattered_channels(shape):
    demo = DeconvDemo(seed=2, deconv_kernel=_scattered_kernel([2, 17, 30, 31, 63]))
    _assert_fast_matches_full(demo, _images(shape))


def test_fast_output_diagonal_kernel_on_other_channels_and_shared_channel():
    # out 0 reads 40, out 1 reads 5, out 2 reads 5 too: still diagonal per out.
    kernel = np.zeros((3, 3, 3, 64), np.float32)
    rng = np.random.default_rng(4)
    for out, channel in enumerate([40, 5, 5]):
        kernel[:, :, out, channel] = rng.standard_normal((3, 3))
    demo = DeconvDemo(seed=2, deconv_kernel=kernel)
    _assert_fast_matches_full(demo, _images((2, 33, 17, 3)))
    _assert_fast_matches_full(demo, _images((1, 1, 1, 3)))


def test_fast_output_all_zero_kernel_gives_zeros():
    demo = DeconvDemo(seed=2, deconv_kernel=np.zeros((3, 3, 3, 64), np.float32))
    np.testing.assert_array_equal(np.zeros((2, 8, 6, 3)), demo.output(_images((2, 7, 5, 3))))


def test_fast_output_follows_the_current_kernel_values():
    demo = DeconvDemo(seed=2)
    images = _images((2, 9, 7, 3))
    demo.set_kernels(deconv_kernel=_scattered_kernel([2, 17, 30, 31, 63]))
    _assert_fast_matches_full(demo, images)
    demo.deconv_kernel.assign(_scattered_kernel(list(range(64))))  # not via set_kernels
    _assert_fast_matches_full(demo, images, bit_identical=True)
    demo.set_kernels(deconv_kernel=bilinear_kernel(3, 3, mode="fcn", in_channels=64))
    _assert_fast_matches_full(demo, images)
    assert demo.output_window.experimental_get_tracing_count() == 1


def _per_channel_kernel(sources, seed=5):
    """A deconv kernel where output o reads only channel sources[o] (None: nothing)."""
    kernel = np.zeros((3, 3, 3, 64), np.float32)
    rng = np.random.default_rng(seed)
    for out, channel in enumerate(sources):
        if channel is not None:
            kernel[:, :, out, channel] = rng.standard_normal((3, 3))
    return kernel


@pytest.mark.parametrize("kernel,expected", [
    (bilinear_kernel(3, 3, mode="fcn", in_channels=64), (True, [0, 1, 2])),
    (_per_channel_kernel([40, 5, 5]), (True, [40, 5, 5])),
    (_per_channel_kernel([None, 63, None]), (True, [0, 63, 0])),
    (np.zeros((3, 3, 3, 64), np.float32), (True, [0, 0, 0])),
    (_scattered_kernel([2, 17]), (False, None)),  # every output reads both
])
def test_per_channel_sources_worked_by_hand(kernel, expected):
    ok, sources = per_channel_sources(tf.constant(kernel))
    assert bool(ok) is expected[0]
    if expected[0]:
        assert sources.numpy().tolist() == expected[1]


@pytest.mark.parametrize("sources", [[0, 1, 2], [40, 5, 5], [None, 63, 7]])
@pytest.mark.parametrize("shape", [(1, 7, 5, 3), (2, 33, 17, 3), (1, 1, 1, 3), (1, 2, 9, 3)])
def test_per_channel_form_matches_float64_reference(sources, shape):
    # The window conv and the depthwise transposed conv are other ops than
    # conv2d and conv2d_transpose: within the derived bound of the reference.
    images = _images(shape)
    conv = np.random.default_rng(6).uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32)
    kernel = _per_channel_kernel(sources)
    actual = demo_output(images, conv, kernel).numpy()
    assert_matches_reference(images, conv, kernel, {"output": actual})


@pytest.mark.parametrize("channels,expected", [
    ([0, 1, 2], [0, 1, 2]),
    ([63, 2, 30], [2, 30, 63]),
    ([], [0]),  # reads nothing: keeps channel 0 (all-zero weights)
])
def test_read_channels(channels, expected):
    np.testing.assert_array_equal(expected, read_channels(_scattered_kernel(channels)))


def test_read_channels_counts_negative_zero_as_zero():
    kernel = np.zeros((3, 3, 3, 64), np.float32)
    kernel[0, 0, 0, 9] = -0.0
    kernel[1, 1, 1, 12] = 1.0
    np.testing.assert_array_equal([12], read_channels(kernel))


# --- validation -------------------------------------------------------------


@pytest.mark.parametrize("value,match", [
    (np.zeros((3, 3, 3, 64)), r"`conv_kernel` must be float32\. Received: dtype=float64"),
    (np.zeros((3, 3, 3, 32), np.float32),
     r"`conv_kernel` must have shape \(3, 3, 3, 64\)\. Received: shape=\(3, 3, 3, 32\)"),
    (np.full((3, 3, 3, 64), np.nan, np.float32), r"`conv_kernel` contains NaN or Inf"),
])
def test_set_kernels_refuses_bad_values_and_changes_nothing(value, match):
    demo = DeconvDemo(seed=1)
    before = demo.conv_kernel.numpy(), demo.deconv_kernel.numpy()
    with pytest.raises(InputError, match=match):
        demo.set_kernels(deconv_kernel=np.ones((3, 3, 3, 64), np.float32), conv_kernel=value)
    np.testing.assert_array_equal(before[0], demo.conv_kernel.numpy())
    np.testing.assert_array_equal(before[1], demo.deconv_kernel.numpy())


def test_set_kernels_accepts_tensors():
    demo = DeconvDemo(seed=1)
    demo.set_kernels(deconv_kernel=tf.zeros([3, 3, 3, 64]))
    assert float(tf.reduce_max(tf.abs(demo.deconv_kernel))) == 0.0


def test_constructor_refuses_bad_kernel():
    with pytest.raises(InputError, match=r"`deconv_kernel` must have shape \(3, 3, 3, 64\)"):
        DeconvDemo(deconv_kernel=np.zeros((3, 3, 64, 3), np.float32))


@pytest.mark.parametrize("kwargs,match", [
    ({"execution": "graph"},
     r"argument `execution`. Expected one of \['eager', 'function', 'xla'\]. "
     r"Received: execution='graph'"),
    ({"execution": "XLA"}, r"Received: execution='XLA'"),
])
@pytest.mark.parametrize("method", ["__call__", "stages", "output"])
def test_call_refuses_bad_arguments(demo, kwargs, match, method):
    with pytest.raises(ValueError, match=match):
        getattr(demo, method)(np.zeros((1, 2, 2, 3), np.float32), **kwargs)


@pytest.mark.parametrize("shape", [(7, 5, 3), (1, 7, 5, 4), (1, 0, 5, 3)])
def test_call_refuses_bad_image_shapes(demo, shape):
    message = f"Expected an (N, H, W, 3) array with H, W >= 1. Received: images.shape={shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        demo(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=re.escape(message)):
        demo.output(np.zeros(shape, np.float32))


def test_call_casts_integer_images_like_the_original(demo):
    # The original fed a uint8 array to tf.Variable(..., dtype=tf.float32).
    pixels = np.random.default_rng(0).integers(0, 256, (1, 7, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(demo.stages(pixels.astype(np.float32))["output"],
                                  demo(pixels)["output"])


@pytest.mark.parametrize("name", ["tf2._full", "tf2._window", "tf2._parity", "tf2._convert",
                                  "tf2.fast_path"])
def test_implementation_modules_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, name
