"""migration_audit.compare and the table: figures worked by hand.

max rel diff = max |actual - expected| / max |expected|; bit identity is the
bytes; the verdict is max rel diff <= rtol (or bit identity), never NaN.
"""

import json

import numpy as np
import pytest

from migration_audit.compare import RTOL, compare_arrays
from migration_audit.report import format_table


def test_hand_worked_figures():
    # |[1, 2, 4] - [1, 2.5, 3.5]| = [0, 0.5, 0.5]; max |expected| = 4.
    c = compare_arrays("output", "b", np.float32([1, 2.5, 3.5]), "a", np.float32([1, 2, 4]))
    assert (c.max_abs_diff, c.max_rel_diff) == (0.5, 0.125)
    assert c.bit_identical is False and not c.passed
    assert c.name == "b vs a" and c.shape == (3,) and c.dtype == "float32"


def test_tolerance_boundary_is_inclusive():
    # 2**-20 / 1 (both exact in binary): passes at rtol 2**-20, fails below.
    expected = np.float32([1.0, -1.0])
    actual = np.float32([1.0 + 2**-20, -1.0])
    assert compare_arrays("pool", "b", actual, "a", expected, rtol=2**-20).passed
    assert not compare_arrays("pool", "b", actual, "a", expected, rtol=2**-21).passed


def test_within_tolerance_but_not_bit_identical():
    expected = np.float32([100.0, 3.0])
    actual = np.nextafter(expected, np.inf, dtype=np.float32)
    c = compare_arrays("conv1", "b", actual, "a", expected)
    assert c.bit_identical is False and c.passed and 0 < c.max_rel_diff <= RTOL


def test_signed_zero_is_equal_but_not_bit_identical():
    c = compare_arrays("conv1", "b", np.float32([-0.0]), "a", np.float32([0.0]))
    assert (c.max_abs_diff, c.bit_identical, c.passed) == (0.0, False, True)


def test_float64_reference_has_no_bit_identity():
    c = compare_arrays("conv1", "tf1", np.float32([0.1]), "ref", np.float64([0.1]))
    assert c.bit_identical is None and c.dtype == "float32 vs float64"
    # float32(0.1) - 0.1 = 1.49e-9, relative 1.49e-8.
    assert c.max_rel_diff == pytest.approx(1.4901161e-08, rel=1e-6) and c.passed


def test_shape_mismatch_fails():
    c = compare_arrays("output", "b", np.zeros((1, 8, 6, 3), np.float32), "a",
                       np.zeros((1, 8, 7, 3), np.float32))
    assert c.max_abs_diff == c.max_rel_diff == float("inf")
    assert not c.passed and c.bit_identical is False
    assert "(1, 8, 6, 3) != (1, 8, 7, 3)" in format_table([c])


def test_nan_fails_unless_bit_identical():
    expected = np.float32([1.0, 2.0])
    c = compare_arrays("output", "b", np.float32([1.0, np.nan]), "a", expected)
    assert np.isnan(c.max_abs_diff) and not c.passed
    same = compare_arrays("output", "b", np.float32([np.nan]), "a", np.float32([np.nan]))
    assert same.bit_identical and same.passed


def test_all_zero_expected():
    zeros = np.zeros(4, np.float32)
    assert compare_arrays("output", "b", zeros, "a", zeros).max_rel_diff == 0.0
    assert not compare_arrays("output", "b", zeros + 1e-30, "a", zeros).passed


def test_bad_rtol_raises():
    with pytest.raises(ValueError, match=r"Invalid value for argument `rtol`\. Expected a "
                                         r"finite float >= 0\. Received: rtol=-1"):
        compare_arrays("output", "b", [1.0], "a", [1.0], rtol=-1)


def test_as_dict_is_json_ready():
    c = compare_arrays("output", "b", np.zeros(2, np.float32), "a", np.zeros(3, np.float32))
    record = json.loads(json.dumps(c.as_dict()))
    assert record["max_abs_diff"] == "inf" and record["passed"] is False
    assert record["shape"] == [2] and record["expected_shape"] == [3]


def test_table_columns_and_alignment():
    rows = [compare_arrays("conv1", "tf2_eager", np.ones(2, np.float32), "tf1_session",
                           np.ones(2, np.float32)),
            compare_arrays("output", "x", np.float32([2.0]), "y", np.float32([1.0]))]
    lines = format_table(rows).splitlines()
    assert len(lines) == 3
    # Every column starts at the same offset on every line.
    starts = [lines[0].index(name) for name in ("comparison", "shape", "verdict")]
    assert [lines[1].index(cell) for cell in ("tf2_eager vs", "(2,)", "ok")] == starts
    assert lines[2].endswith("FAIL") and " 1 " in lines[2]  # max abs diff 1, rel 1
