"""legacy_tf1.filters: the original's filter helpers and their kept quirks.

Values are checked against taps worked by hand from the formulas:
FCN:   f = ceil(w / 2), c = (2f - 1 - f % 2) / (2f), tap(x) = 1 - |x / f - c|
Caffe: factor = (s + 1) // 2, centre = factor - 1 (odd s) or factor - 0.5,
       tap(x) = 1 - |x - centre| / factor.
"""

import doctest

import numpy as np
import pytest
import tensorflow as tf

from legacy_tf1 import filters
from legacy_tf1.filters import (
    bilinear_upsample_weights,
    fcn_bilinear_weights,
    get_deconv_filter_initializer,
    get_deconv_filter_variable,
    get_kernel_size,
    upsample_filt,
)

# Width 3: f = 2, c = 3/4, taps 1 - |x/2 - 3/4| for x = 0, 1, 2.
FCN_TAPS_3 = np.array([0.25, 0.75, 0.75])
# Caffe, size 3: factor 2, centre 1, taps 1 - |x - 1| / 2.
CAFFE_TAPS_3 = np.array([0.5, 1.0, 0.5])


def _fcn_taps(width):
    """The 1-D FCN taps, read off the first diagonal slice of a w x w filter."""
    slice_2d = fcn_bilinear_weights([width, width, 1, 1])[:, :, 0, 0]
    # The 2-D slice is the outer product of the taps, so its first row is
    # taps[0] * taps and its first column / taps[0] gives the taps back
    # (taps[0] != 0 for every width used here).
    return slice_2d[:, 0] / np.sqrt(slice_2d[0, 0])


def test_width_3_fcn_taps_are_asymmetric():
    # Quirk: [0.25, 0.75, 0.75], not Caffe's symmetric [0.5, 1, 0.5]. All
    # values are dyadic fractions, so float64 holds them exactly.
    slice_2d = fcn_bilinear_weights([3, 3, 3, 64])[:, :, 0, 0]
    np.testing.assert_array_equal(np.outer(FCN_TAPS_3, FCN_TAPS_3), slice_2d)
    np.testing.assert_array_equal(
        [[0.0625, 0.1875, 0.1875], [0.1875, 0.5625, 0.5625], [0.1875, 0.5625, 0.5625]],
        slice_2d,
    )


def test_caffe_upsample_filt_3_is_symmetric():
    np.testing.assert_array_equal(np.outer(CAFFE_TAPS_3, CAFFE_TAPS_3), upsample_filt(3))


def test_width_4_hand_worked_and_equal_to_caffe():
    # f = 2, c = 3/4: taps 1 - |x/2 - 3/4| = [1/4, 3/4, 3/4, 1/4]; Caffe:
    # factor 2, centre 1.5: 1 - |x - 1.5| / 2, the same values, all dyadic.
    taps = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_array_equal(np.outer(taps, taps),
                                  fcn_bilinear_weights([4, 4, 1, 1])[:, :, 0, 0])
    np.testing.assert_array_equal(np.outer(taps, taps), upsample_filt(4))


def test_width_5_hand_worked():
    # f = 3, c = 4/6: taps [1/3, 2/3, 1, 2/3, 1/3]; rtol 1e-15: thirds are
    # not exact in binary and the two sides round in a different order.
    np.testing.assert_allclose([1 / 3, 2 / 3, 1, 2 / 3, 1 / 3], _fcn_taps(5), rtol=1e-15)


@pytest.mark.parametrize("width", [1, 4, 5, 8, 9, 12, 13])
def test_fcn_equals_caffe_for_widths_get_kernel_size_produces(width):
    # The FCN centre assumes width 2f (f even) or 2f - 1 (f odd), exactly the
    # widths get_kernel_size(f) gives; there both filters are the same
    # closed form, up to rounding order (1e-15, a few float64 ulps).
    np.testing.assert_allclose(upsample_filt(width),
                               fcn_bilinear_weights([width, width, 1, 1])[:, :, 0, 0],
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("width", [2, 3, 6, 7, 10, 11])
def test_fcn_differs_from_caffe_for_other_widths(width):
    # Quirk: not "every odd width" (1, 5, 9 agree) and not "every even
    # width" (2, 6, 10 differ): width 6 even ends with a 0 tap.
    fcn = fcn_bilinear_weights([width, width, 1, 1])[:, :, 0, 0]
    assert np.abs(upsample_filt(width) - fcn).max() > 0.1
    assert not np.array_equal(fcn, fcn[::-1, ::-1])


def test_width_6_has_a_zero_tap():
    # f = 3, c = 4/6: x/3 - 2/3 for x = 5 is 1, so the last tap is 0.
    taps = _fcn_taps(6)
    np.testing.assert_allclose([1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0], taps, rtol=0, atol=1e-15)


def test_non_square_filter_uses_the_width_factor_for_height():
    # Quirk: f = 2, c = 3/4 from the width 3 also for the 5 rows of y:
    # 1 - |y/2 - 3/4| = [1/4, 3/4, 3/4, 1/4, -1/4]: a negative tap.
    slice_2d = fcn_bilinear_weights([3, 5, 1, 1])[:, :, 0, 0]
    np.testing.assert_array_equal(np.outer(FCN_TAPS_3, [0.25, 0.75, 0.75, 0.25, -0.25]),
                                  slice_2d)


def test_demo_filter_is_on_the_first_three_diagonal_entries_only():
    weights = fcn_bilinear_weights([3, 3, 3, 64])
    assert weights.dtype == np.float64 and weights.shape == (3, 3, 3, 64)
    expected = np.zeros((3, 3, 3, 64))
    for i in range(3):
        expected[:, :, i, i] = np.outer(FCN_TAPS_3, FCN_TAPS_3)
    np.testing.assert_array_equal(expected, weights)


def test_verbose_prints_every_slice_like_the_original(capsys):
    weights = fcn_bilinear_weights([3, 3, 3, 64], verbose=True)
    printed = capsys.readouterr().out
    assert printed == "".join(f"{weights[:, :, i, i]}\n" for i in range(3))
    fcn_bilinear_weights([3, 3, 3, 64])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("f_shape,match", [
    ([3, 3, 3], r"Expected 4 ints .* Received: f_shape=\[3, 3, 3\]"),
    (None, r"Expected 4 ints"),
    ([0, 3, 3, 3], r"Expected an int >= 1. Received: f_shape=0"),
    ([3, 3.0, 3, 3], r"Expected an int >= 1. Received: f_shape=3.0"),
    ([3, 3, 4, 3], r"f_shape\[2\] must be <= f_shape\[3\]. Received: f_shape=\[3, 3, 4, 3\]"),
])
def test_bad_filter_shapes_are_refused(f_shape, match):
    with pytest.raises(ValueError, match=match):
        fcn_bilinear_weights(f_shape)


@pytest.mark.parametrize("factor,size", [(1, 1), (2, 4), (3, 5), (4, 8), (5, 9)])
def test_get_kernel_size(factor, size):
    assert get_kernel_size(factor) == size


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "2"])
def test_get_kernel_size_refuses_non_positive_ints(bad):
    with pytest.raises(ValueError, match=r"argument `factor`. Expected an int >= 1"):
        get_kernel_size(bad)


def test_upsample_filt_refuses_bad_size():
    with pytest.raises(ValueError, match=r"argument `size`. Expected an int >= 1. Received: size=0"):
        upsample_filt(0)


def test_bilinear_upsample_weights_ignores_number_of_classes():
    # Quirk: always (k, k, 3, 4), whatever number_of_classes says.
    weights = bilinear_upsample_weights(2, 21)
    assert weights.shape == (4, 4, 3, 4) and weights.dtype == np.float32
    np.testing.assert_array_equal(weights, bilinear_upsample_weights(2, 1))
    np.testing.assert_array_equal(weights, bilinear_upsample_weights(2, None))
    expected = np.zeros((4, 4, 3, 4), np.float32)
    for i in range(3):
        expected[:, :, i, i] = upsample_filt(4)  # dyadic values: exact in float32
    np.testing.assert_array_equal(expected, weights)
    assert bilinear_upsample_weights(3, 21).shape == (5, 5, 3, 4)


def test_initializer_fills_float32_variable_with_fcn_weights():
    with tf.Graph().as_default():
        var = tf.compat.v1.get_variable(
            "k", shape=[3, 3, 3, 64], initializer=get_deconv_filter_initializer([3, 3, 3, 64]))
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            value = sess.run(var)
    assert value.dtype == np.float32
    np.testing.assert_array_equal(fcn_bilinear_weights([3, 3, 3, 64]).astype(np.float32), value)


def test_variable_form_is_up_filter_and_a_second_call_fails():
    with tf.Graph().as_default():
        var = get_deconv_filter_variable([3, 3, 3, 3])
        assert var.name == "up_filter:0" and var.shape.as_list() == [3, 3, 3, 3]
        # Quirk: the name is fixed, so the original could only call it once.
        with pytest.raises(ValueError, match=r"Variable up_filter already exists"):
            get_deconv_filter_variable([3, 3, 3, 3])
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            value = sess.run(var)
    np.testing.assert_array_equal(fcn_bilinear_weights([3, 3, 3, 3]).astype(np.float32), value)
    with tf.Graph().as_default():  # A fresh graph has no up_filter yet.
        assert get_deconv_filter_variable([3, 3, 3, 3]).name == "up_filter:0"


def test_variable_form_refuses_eager_mode():
    with pytest.raises(RuntimeError, match=r"inside a `with tf.Graph\(\).as_default\(\):` scope"):
        get_deconv_filter_variable([3, 3, 3, 3])


def test_docstring_examples():
    result = doctest.testmod(filters, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 6
