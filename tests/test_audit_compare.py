"""migration_audit.compare and the table: figures worked by hand.

max rel diff = max |actual - expected| / max |expected|; bit identity is the
bytes; error/bound = max |actual - expected| / bound, element by element;
the verdict is the row's claim: bit-identical, or error/bound <= 1. Never
NaN.
"""

import json

import numpy as np
import pytest

from migration_audit.compare import compare_arrays, relative_error
from migration_audit.report import format_table


def test_hand_worked_figures():
    # |[1, 2, 4] - [1, 2.5, 3.5]| = [0, 0.5, 0.5]; max |expected| = 4;
    # bounds [1, 1, 0.25]: ratios [0, 0.5, 2].
    c = compare_arrays("output", "b", np.float32([1, 2.5, 3.5]), "a", np.float32([1, 2, 4]),
                       bound=np.float64([1, 1, 0.25]))
    assert (c.max_abs_diff, c.max_rel_diff, c.error_over_bound, c.bound) == (0.5, 0.125, 2.0, 1.0)
    assert c.bit_identical is False and not c.passed and c.claim == "bound"
    assert c.name == "b vs a" and c.shape == (3,) and c.dtype == "float32"
    # 3.5 and 4 are 2**21 float32 steps of 2**-22 apart; 2.5 and 2, 2**21 of 2**-22.
    assert c.ulps == 2**21


def test_bound_boundary_is_inclusive_and_per_element():
    expected = np.float32([1.0, -1.0])
    actual = np.float32([1.0 + 2**-20, -1.0])
    assert compare_arrays("pool", "b", actual, "a", expected, bound=2**-20).passed
    assert not compare_arrays("pool", "b", actual, "a", expected, bound=2**-21).passed
    # Per element: a large bound elsewhere does not help the element that is off.
    assert not compare_arrays("pool", "b", actual, "a", expected,
                              bound=np.float64([2**-21, 1.0])).passed


def test_within_bound_but_not_bit_identical():
    expected = np.float32([100.0, 3.0])
    actual = np.nextafter(expected, np.inf, dtype=np.float32)
    c = compare_arrays("conv1", "b", actual, "a", expected, bound=np.abs(expected) * 2**-20)
    assert c.bit_identical is False and c.passed and 0 < c.error_over_bound <= 1
    assert c.ulps == 1


def test_a_bit_identical_claim_needs_the_same_bytes():
    expected = np.float32([100.0, 3.0])
    nudged = np.nextafter(expected, np.inf, dtype=np.float32)
    claimed = compare_arrays("conv1", "b", nudged, "a", expected, bound=1.0,
                             claim="bit-identical")
    assert claimed.error_over_bound < 1 and not claimed.passed
    assert compare_arrays("conv1", "b", expected.copy(), "a", expected, bound=0.0,
                          claim="bit-identical").passed


def test_signed_zero_is_equal_but_not_bit_identical():
    c = compare_arrays("conv1", "b", np.float32([-0.0]), "a", np.float32([0.0]), bound=0.0)
    assert (c.max_abs_diff, c.bit_identical, c.passed, c.ulps) == (0.0, False, True, 0)


def test_float64_reference_has_no_bit_identity():
    c = compare_arrays("conv1", "tf1", np.float32([0.1]), "ref", np.float64([0.1]),
                       bound=0.1 * 2**-24)
    assert c.bit_identical is None and c.dtype == "float32 vs float64"
    # float32(0.1) - 0.1 = 1.49e-9, relative 1.49e-8 (under u = 5.96e-8).
    assert c.max_rel_diff == pytest.approx(1.4901161e-08, rel=1e-6) and c.passed
    assert c.ulps == 0  # the reference rounds to the same float32


def test_shape_mismatch_fails():
    c = compare_arrays("output", "b", np.zeros((1, 8, 6, 3), np.float32), "a",
                       np.zeros((1, 8, 7, 3), np.float32), bound=1.0)
    assert c.max_abs_diff == c.max_rel_diff == c.error_over_bound == float("inf")
    assert not c.passed and c.bit_identical is False
    assert "(1, 8, 6, 3) != (1, 8, 7, 3)" in format_table([c])


def test_nan_fails_unless_bit_identical():
    expected = np.float32([1.0, 2.0])
    c = compare_arrays("output", "b", np.float32([1.0, np.nan]), "a", expected, bound=1.0)
    assert np.isnan(c.max_abs_diff) and np.isnan(c.error_over_bound) and not c.passed
    same = compare_arrays("output", "b", np.float32([np.nan]), "a", np.float32([np.nan]),
                          bound=0.0)
    assert same.bit_identical and same.passed


def test_zero_bound_allows_only_equality():
    zeros = np.zeros(4, np.float32)
    assert compare_arrays("output", "b", zeros, "a", zeros, bound=0.0).passed
    off = compare_arrays("output", "b", zeros + 1e-30, "a", zeros, bound=0.0)
    assert off.error_over_bound == float("inf") and not off.passed


def test_infinite_bound_leaves_elements_out_and_counts_them():
    # Where the exact value may leave float32's range there is no claim.
    c = compare_arrays("output", "b", np.float32([np.inf, 1.0]), "a",
                       np.float32([3e38, 1.0]), bound=np.float64([np.inf, 0.0]))
    assert c.passed and c.unbounded == 1 and c.error_over_bound == 0.0
    assert "(1 unbounded)" in format_table([c])


def test_bad_bound_or_claim_raises():
    with pytest.raises(ValueError, match=r"Invalid value for argument `bound`\. Expected every "
                                         r"element >= 0"):
        compare_arrays("output", "b", [1.0], "a", [1.0], bound=-1.0)
    with pytest.raises(ValueError, match="Invalid value for argument `bound`"):
        compare_arrays("output", "b", [1.0], "a", [1.0], bound=float("nan"))
    with pytest.raises(ValueError, match=r"Invalid value for argument `claim`"):
        compare_arrays("output", "b", [1.0], "a", [1.0], bound=1.0, claim="close")


def test_relative_error_worked_by_hand():
    assert relative_error(np.float32([1, 2.5, 3.5]), np.float32([1, 2, 4])) == 0.125
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert np.isnan(relative_error(np.float32([np.nan]), np.float32([1])))


def test_as_dict_is_json_ready():
    c = compare_arrays("output", "b", np.zeros(2, np.float32), "a", np.zeros(3, np.float32),
                       bound=1.0)
    record = json.loads(json.dumps(c.as_dict()))
    assert record["max_abs_diff"] == "inf" and record["passed"] is False
    assert record["error_over_bound"] == "inf" and record["bound"] == 1.0
    assert record["shape"] == [2] and record["expected_shape"] == [3]
    assert record["claim"] == "bound"


def test_table_columns_and_alignment():
    rows = [compare_arrays("conv1", "tf2_eager", np.ones(2, np.float32), "tf1_session",
                           np.ones(2, np.float32), bound=0.5),
            compare_arrays("output", "x", np.float32([2.0]), "y", np.float32([1.0]), bound=0.5)]
    lines = format_table(rows).splitlines()
    assert len(lines) == 3
    # Every column starts at the same offset on every line.
    starts = [lines[0].index(name) for name in ("comparison", "shape", "verdict")]
    assert [lines[1].index(cell) for cell in ("tf2_eager vs", "(2,)", "ok")] == starts
    assert lines[2].endswith("FAIL") and " 2 " in lines[2]  # error/bound 1 / 0.5
