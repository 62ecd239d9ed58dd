"""The float64 reference itself, against values worked by hand.

The reference is the witness in every other comparison, so it gets its own
closed-form checks that do not involve TensorFlow.
"""

import numpy as np
import pytest

from migration_audit import reference


@pytest.mark.parametrize("n,k,s,expected", [
    (750, 3, 1, (750, 1, 1)),
    (750, 2, 2, (375, 0, 0)),
    (751, 2, 2, (376, 0, 1)),
    (1, 2, 2, (1, 0, 1)),
    (752, 3, 2, (376, 0, 1)),
    (2, 3, 2, (1, 0, 1)),
])
def test_same_padding(n, k, s, expected):
    assert reference.same_padding(n, k, s) == expected


def test_conv2d_all_ones_counts_window_cells():
    # All-ones image and kernel: each output is the number of real (unpadded)
    # pixels under the 3x3 window times 3 channels: 4*3 in corners, 6*3 on
    # edges, 9*3 inside.
    y = reference.conv2d_same(np.ones((1, 4, 5, 3)), np.ones((3, 3, 3, 1)))
    expected = np.array([[4, 6, 6, 6, 4], [6, 9, 9, 9, 6], [6, 9, 9, 9, 6], [4, 6, 6, 6, 4]]) * 3
    np.testing.assert_array_equal(expected, y[0, :, :, 0])


def test_max_pool_odd_side_keeps_last_row():
    x = np.arange(15, dtype=np.float64).reshape(1, 3, 5, 1)
    y = reference.max_pool_same(x)
    np.testing.assert_array_equal([[6, 8, 9], [11, 13, 14]], y[0, :, :, 0])


def test_max_pool_never_picks_padding_for_negative_inputs():
    x = -np.ones((1, 1, 1, 1))
    assert reference.max_pool_same(x)[0, 0, 0, 0] == -1


def test_conv2d_transpose_is_adjoint_of_strided_conv():
    # <conv(y), x> == <y, conv_transpose(x)> for every y, x: the definition.
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 2, 4))  # [k, k, out=2, in=4]
    y = rng.standard_normal((1, 7, 6, 2))
    x = rng.standard_normal((1, 4, 3, 4))
    # conv2d from the output grid (2 channels) to the input grid (4 channels)
    # uses the same kernel read as [k, k, in=2, out=4].
    lhs = np.sum(reference.conv2d_same(y, w, stride=2) * x)
    rhs = np.sum(y * reference.conv2d_transpose_same(x, w, (7, 6)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_conv2d_transpose_single_pixel_spreads_kernel():
    # One input pixel of value 1 writes the kernel centred on (0, 0) of the
    # output, shifted by pad_before = 0 for output 2 from input 1, k=3, s=2:
    # output rows 0..1 get kernel rows 0..1.
    w = np.arange(9, dtype=np.float64).reshape(3, 3, 1, 1)
    y = reference.conv2d_transpose_same(np.ones((1, 1, 1, 1)), w, (2, 2))
    np.testing.assert_array_equal([[0, 1], [3, 4]], y[0, :, :, 0])


def test_demo_stage_shapes_odd():
    rng = np.random.default_rng(1)
    s = reference.demo_stages(rng.random((2, 5, 3, 3)), rng.random((3, 3, 3, 64)),
                              rng.random((3, 3, 3, 64)))
    assert s["conv1"].shape == (2, 5, 3, 64)
    assert s["pool"].shape == (2, 3, 2, 64)
    assert s["output"].shape == (2, 6, 4, 3)
