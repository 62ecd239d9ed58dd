"""BilinearUpsample2D on every Keras backend: only keras, keras.ops and NumPy here.

This file runs twice in a suite: in-process on the TensorFlow backend, and
(`test_the_same_tests_pass_on_the_jax_backend`) in a subprocess with
`KERAS_BACKEND=jax`. The float64 NumPy references never touch a backend.
"""


import keras
import numpy as np
import pytest

from migration_audit import reference
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, conv2d_transpose_bound
from tests.conftest import assert_within, resize_bound, run_tests_on_jax
from tf2.kernels import bilinear_kernel, get_kernel_size
from tf2.layers import BilinearUpsample2D, polyphase_taps

BACKEND = keras.backend.backend()
FACTORS = [1, 2, 3, 4]
SIZES = [(1, 1), (2, 3), (7, 5)]


def _images(batch, h, w, c=3, seed=0):
    return np.random.default_rng(seed).random((batch, h, w, c)).astype(np.float32)


_resize_reference = reference.bilinear_resize


def _zeros_reference(x, factor):
    k = get_kernel_size(factor)
    _, h, w, c = x.shape
    return reference.conv2d_transpose_same(x, bilinear_kernel(k, c, dtype=np.float64),
                                           (factor * h, factor * w), stride=factor)


def _zeros_bound(x, factor):
    """float32 plus float64 derived bound of the transposed convolution (any backend)."""
    k = get_kernel_size(factor)
    _, h, w, c = x.shape
    kernel = bilinear_kernel(k, c, dtype=np.float64)
    out_hw = (factor * h, factor * w)
    return (conv2d_transpose_bound(x, kernel, out_hw, factor)
            + conv2d_transpose_bound(x, kernel, out_hw, factor, FLOAT64_UNIT_ROUNDOFF))


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("trainable", [False, True])
@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("h, w", SIZES)
def test_clamp_is_bilinear_resize(factor, h, w, trainable):
    x = _images(2, h, w, seed=factor)
    y = _np(BilinearUpsample2D(factor, border="clamp", trainable=trainable,
                               data_format="channels_last")(x))
    expected = _resize_reference(x, factor)
    assert_within(y, expected, resize_bound(x, factor), "clamp vs float64 resize")


@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("h, w", SIZES)
def test_zeros_is_the_transposed_convolution(factor, h, w):
    x = _images(2, h, w, seed=factor)
    y = _np(BilinearUpsample2D(factor, data_format="channels_last")(x))
    expected = _zeros_reference(x, factor)
    assert_within(y, expected, _zeros_bound(x, factor), "zeros vs float64 reference")


@pytest.mark.parametrize("border", ["zeros", "clamp"])
@pytest.mark.parametrize("factor", [2, 3])
def test_channels_first_is_channels_last_transposed(border, factor):
    x = _images(2, 5, 4, c=3)
    last = _np(BilinearUpsample2D(factor, border=border, data_format="channels_last")(x))
    first = _np(BilinearUpsample2D(factor, border=border, data_format="channels_first")(
        np.transpose(x, (0, 3, 1, 2))))
    assert first.shape == (2, 3, 5 * factor, 4 * factor)
    # Within rounding: a backend may lay the data out differently for NCHW.
    bound = 2 * (resize_bound(x, factor) if border == "clamp" else _zeros_bound(x, factor))
    assert_within(first, np.transpose(last, (0, 3, 1, 2)),
                  np.transpose(np.broadcast_to(bound, last.shape), (0, 3, 1, 2)),
                  f"{border}: channels_first vs channels_last")


def test_global_channels_first_is_the_default():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        layer = BilinearUpsample2D(2)
        y = _np(layer(np.ones((1, 3, 4, 5), np.float32)))
    finally:
        keras.config.set_image_data_format(previous)
    assert layer.data_format == "channels_first"
    assert y.shape == (1, 3, 8, 10)  # not (1, 6, 8, 5): NCHW is not taken for NHWC
    assert layer.get_config()["data_format"] == "channels_first"


def test_bad_data_format_is_refused():
    with pytest.raises(ValueError, match=r"Invalid value for argument `data_format`. Expected one "
                                         r"of \['channels_last', 'channels_first'\]. Received: "
                                         r"data_format='NHWC'"):
        BilinearUpsample2D(2, data_format="NHWC")


def test_a_frozen_clamp_layer_follows_a_kernel_set_by_hand():
    x = _images(1, 4, 3)
    layer = BilinearUpsample2D(2, border="clamp", data_format="channels_last")
    before = _np(layer(x))
    layer.set_weights([2.0 * layer.get_weights()[0]])
    after = _np(layer(x))
    # Twice the kernel, twice the output: the resize shortcut is not taken.
    # Before, the resize op; after, the general form with doubled taps: each
    # within its derived bound of the exact (doubled) interpolation.
    assert_within(after, 2.0 * before, 2 * 2 * resize_bound(x, 2), "doubled kernel")
    assert not np.array_equal(after, before)


def test_polyphase_taps_cover_every_tap_once():
    for factor in range(1, 9):
        k = get_kernel_size(factor)
        taps, d_low = polyphase_taps(factor, k)
        assert sorted(taps[taps >= 0].tolist()) == list(range(k))
        assert -1 <= d_low <= 0 and taps.shape[0] - 1 + d_low <= 1  # one pixel of padding


def test_kernel_gets_gradients_through_the_polyphase_form():
    layer = BilinearUpsample2D(2, border="clamp", trainable=True, data_format="channels_last")
    x = _images(1, 3, 3)
    layer(x)
    assert [w.name for w in layer.trainable_weights] == ["kernel"]
    model = keras.Sequential([keras.Input((3, 3, 3)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    start = _np(layer.kernel).copy()
    model.fit(x, np.zeros((1, 6, 6, 3), np.float32), epochs=1, verbose=0)
    assert np.abs(_np(layer.kernel) - start).max() > 1e-4


def test_saved_keras_file_round_trip(tmp_path):
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, BilinearUpsample2D(2, border="clamp", name="up",
                                                   data_format="channels_last")(inputs))
    path = tmp_path / "up.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    x = _images(1, 3, 5, c=2)
    np.testing.assert_allclose(_np(model(x)), _np(restored(x)), rtol=0, atol=0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="spawns the JAX run from the TF run")
def test_the_same_tests_pass_on_the_jax_backend():
    stdout = run_tests_on_jax(__file__)
    assert " passed" in stdout and " 1 skipped" in stdout  # only this test skips
