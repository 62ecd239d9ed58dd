"""benchmarks.floor and benchmarks.report: the compute floor's count and the ratio rows.

Counts are worked by hand; no timing is asserted (the FMA rate is only
checked to be a positive figure of the documented form).
"""

import doctest
import importlib

import numpy as np
import pytest

from benchmarks.floor import compute_floor, measure_fma_rate, multiply_adds, read_pairs
from benchmarks.report import add_ratios, format_table, targets


def test_multiply_adds_worked_by_hand():
    # 1x3x2 image: conv 6 pixels * (3*3 taps * 3 in) * 64 out = 10368; pool
    # leaves 2x1 pixels; deconv 2 * 9 taps * (64 in * 3 out) = 3456.
    assert multiply_adds(1, 3, 2) == 10368 + 3456
    # The output-only path: 3 conv channels, 3 channel pairs: 6*27*3 + 2*9*3.
    assert multiply_adds(1, 3, 2, conv_channels=3, deconv_pairs=3) == 486 + 54
    # Odd sides pool to ceil(H/2) x ceil(W/2); the batch multiplies everything.
    assert multiply_adds(2, 1, 1) == 2 * 27 * 64 + 2 * 9 * 192
    assert multiply_adds(3, 5, 7) == 3 * multiply_adds(1, 5, 7)


def test_read_pairs_of_the_bilinear_and_of_a_dense_kernel():
    from tf2.kernels import bilinear_kernel

    assert read_pairs(np.asarray(bilinear_kernel(3, 3, mode="fcn", in_channels=64))) == (3, 3)
    assert read_pairs(np.ones((3, 3, 3, 64), np.float32)) == (64, 192)
    assert read_pairs(np.zeros((3, 3, 3, 64), np.float32)) == (0, 0)


def test_compute_floor_is_the_count_over_the_rate():
    deconv = np.zeros((3, 3, 3, 64), np.float32)
    deconv[1, 1, [0, 1, 2], [0, 1, 2]] = 1.0
    floor = compute_floor(1, 3, 2, deconv, gfma_per_s=1.0)
    assert floor["multiply_adds_output_only"] == 540 and floor["multiply_adds_full"] == 13824
    # 540 multiply-adds at 1e9 a second: 540 ns.
    assert floor["compute_floor_ms"] == pytest.approx(540e-6)
    assert floor["compute_floor_full_ms"] == pytest.approx(13824e-6)


def test_fma_rate_has_the_documented_form():
    rate = measure_fma_rate(side=64, repeats=2)
    assert set(rate) == {"gfma_per_s", "side", "repeats", "best_s", "library", "by_library"}
    assert rate["gfma_per_s"] > 0 and rate["side"] == 64
    assert rate["gfma_per_s"] == pytest.approx(64 ** 3 / rate["best_s"] / 1e9)
    # The rate is the faster library's.
    assert set(rate["by_library"]) == {"tf.linalg.matmul", "numpy.matmul"}
    assert rate["gfma_per_s"] == max(rate["by_library"].values())
    assert rate["by_library"][rate["library"]] == rate["gfma_per_s"]


def _row(variant, median, batch=16):
    return {"variant": variant, "batch": batch, "height": 750, "width": 500, "median_s": median,
            "min_s": median, "max_s": median, "peak_rss_mb": None,
            "max_rel_error_vs_tf1": None, "error_over_bound_vs_tf1": None}


def test_ratio_rows_against_both_floors_worked_by_hand():
    results = [_row("tf1_session", 1.0), _row("tf2_fast", 0.1), _row("memory_floor", 0.04),
               _row("tf2_fast", 0.5, batch=1), _row("tf1_session", 0.5, batch=1)]
    floors = [{"batch": 16, "height": 750, "width": 500, "compute_floor_ms": 20.0,
               "compute_floor_full_ms": 400.0}]
    add_ratios(results, floors)
    fast = results[1]
    assert fast["compute_floor_ms"] == 20.0
    assert fast["ratio_vs_compute_floor"] == pytest.approx(5.0)
    assert fast["ratio_vs_memory_floor"] == pytest.approx(2.5)
    assert results[3]["ratio_vs_compute_floor"] is None  # no floor for that size
    got = targets(results)
    assert got["tf2_fast_over_compute_floor"]["value"] == pytest.approx(5.0)
    assert got["tf2_fast_over_compute_floor"]["met"] is None  # no target: reported only
    memory = got["tf2_fast_over_memory_floor"]
    assert memory["value"] == pytest.approx(2.5)
    assert memory["met"] and memory["stretch_met"]
    assert memory["size"] == [16, 750, 500] and memory["at_target_size"]
    doc = {"results": results, "targets": got,
           "compute_floor": {"fma": {"gfma_per_s": 50.0, "side": 1024}, "sizes": floors}}
    table = format_table(doc)
    assert "x cfloor" in table.splitlines()[0]
    assert "compute floor: 50.0 GFMA/s" in table
    assert "ratio tf2_fast_over_compute_floor at 16x750x500: 5.00 (no target): -" in table
    assert "ratio tf2_fast_over_memory_floor at 16x750x500: 2.50 (want <= 5): met " \
           "(stretch <= 3 met)" in table


@pytest.mark.parametrize("name", ["floor", "report", "configs", "variants"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"benchmarks.{name}"))
    assert result.attempted and not result.failed
