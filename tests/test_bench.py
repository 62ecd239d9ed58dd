"""benchmarks.bench: smoke runs on tiny sizes, the JSON schema, the checks.

No timing is asserted (speed is what the benchmark reports, not what a
test can promise on a shared machine); what is asserted: every variant's
output was checked against tf1_session before timing, the JSON document
has the documented schema and ratios, a mismatch aborts with exit 1, peak
memory comes from fresh processes, usage errors exit 2.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import bench, report, timing, variants
from deconv_runtime import allocator
from tests.conftest import REPO

RESULT_KEYS = {"variant", "batch", "height", "width", "median_s", "min_s", "max_s",
               "peak_rss_mb"}
TINY = ["--sizes", "9x7", "--batches", "1,2", "--large", "none", "--repeats", "2",
        "--warmup", "1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    json_path, plot_path = out / "b.json", out / "b.png"
    # --malloc default: the test process's own malloc settings stay as they are.
    status = bench.main([*TINY, "--no-rss", "--malloc", "default", "--json", str(json_path),
                         "--plot", str(plot_path)])
    return status, json.loads(json_path.read_text()), plot_path


def test_tiny_run_writes_the_documented_schema(tiny_run):
    status, doc, _ = tiny_run
    assert status == 0
    assert {"machine", "results", "targets", "config", "timed"} <= set(doc)
    machine = doc["machine"]
    for key in ("cpu_model", "cpu_count", "memory_gb", "python", "tensorflow", "numpy",
                "onednn", "load_average"):
        assert key in machine
    assert "TF_ENABLE_ONEDNN_OPTS" in machine["onednn"]
    assert machine["keep_freed_memory"] is False  # --malloc default
    got = {(r["variant"], r["batch"], r["height"], r["width"]) for r in doc["results"]}
    assert got == {(v, b, 9, 7) for v in variants.VARIANTS for b in (1, 2)}
    for r in doc["results"]:
        assert RESULT_KEYS <= set(r)
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
        assert r["repeats"] == 2
        assert r["peak_rss_mb"] is None  # --no-rss


def test_every_pipeline_variant_was_checked_against_tf1_session(tiny_run):
    _, doc, _ = tiny_run
    for r in doc["results"]:
        if r["variant"] == "memory_floor":
            assert not r["checked_vs_tf1_session"]
        else:
            assert r["checked_vs_tf1_session"]
            assert 0 <= r["error_over_bound_vs_tf1"] <= 1 and r["max_rel_error_vs_tf1"] >= 0


def test_ratios_are_against_the_same_size(tiny_run):
    _, doc, _ = tiny_run
    by = {(r["variant"], r["batch"]): r for r in doc["results"]}
    for (variant, batch), r in by.items():
        tf1, floor = by["tf1_session", batch], by["memory_floor", batch]
        assert r["ratio_vs_tf1_session"] == pytest.approx(r["median_s"] / tf1["median_s"])
        assert r["speedup_vs_tf1_session"] == pytest.approx(tf1["median_s"] / r["median_s"])
        assert r["ratio_vs_memory_floor"] == pytest.approx(r["median_s"] / floor["median_s"])
    # No batch 16 at 750x500 in this run: the ratios are shown at the largest size.
    assert doc["targets"]["tf2_function_over_tf1_session"]["size"] == [2, 9, 7]
    assert not any(t["at_target_size"] for t in doc["targets"].values())


def test_plot_is_a_png(tiny_run):
    _, _, plot_path = tiny_run
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_targets_worked_by_hand():
    def row(variant, median):
        return {"variant": variant, "batch": 16, "height": 750, "width": 500,
                "median_s": median}

    results = [row("tf1_session", 1.0), row("tf2_function", 1.05), row("tf2_fast", 0.1),
               row("memory_floor", 0.02)]
    targets = report.targets(results)
    assert targets["tf2_function_over_tf1_session"]["value"] == pytest.approx(1.05)
    assert targets["tf1_session_over_tf2_fast"]["value"] == pytest.approx(10.0)
    assert targets["tf2_fast_over_memory_floor"]["value"] == pytest.approx(5.0)
    assert all(t["met"] for t in targets.values())
    targets = report.targets([row("tf1_session", 1.0), row("tf2_function", 1.2),
                              row("tf2_fast", 0.2), row("memory_floor", 0.02)])
    assert not any(t["met"] for t in targets.values())


def test_tf1_runner_feeds_the_image_and_matches_run_session():
    from legacy_tf1.graph import run_session

    images = variants.make_images(2, 9, 7, seed=3)
    kernels = variants.make_kernels(seed=3)
    runner = variants.make_runner("tf1_session", images, kernels)
    try:
        # The same graph run once by run_session: bit-identical.
        expected = run_session(images, weights=kernels)["output"]
        np.testing.assert_array_equal(expected, runner(images))
        # The fed batch, not the variable's initial value, is what is computed.
        other = variants.make_images(2, 9, 7, seed=4)
        np.testing.assert_array_equal(run_session(other, weights=kernels)["output"],
                                      runner(other))
    finally:
        runner.close()


def test_memory_floor_copies_into_an_output_sized_buffer():
    images = variants.make_images(1, 5, 3, seed=0)
    out = variants.make_runner("memory_floor", images, {})(images)
    assert out.shape == (1, 6, 4, 3)  # the output's (N, 2*ceil(H/2), 2*ceil(W/2), 3)
    np.testing.assert_array_equal(images.reshape(-1), out.reshape(-1)[:images.size])
    assert not out.reshape(-1)[images.size:].any()


def test_a_mismatch_aborts_before_timing_with_exit_1(monkeypatch, tmp_path, capsys):
    real = variants._Variant.__call__

    def off_by_one(self, images):  # the TF2 variants only (tf1_session is the reference)
        return real(self, images) + (1 if self.demo is not None else 0)

    monkeypatch.setattr(variants._Variant, "__call__", off_by_one)
    json_path = tmp_path / "b.json"
    assert bench.main([*TINY, "--no-rss", "--variants", "tf2_fast", "--json",
                       str(json_path)]) == 1
    err = capsys.readouterr().err
    assert "bench: error: tf2_fast output differs from tf1_session on image 0 of (1, 9, 7, 3)" in err
    assert "derived bound" in err
    assert not json_path.exists()


@pytest.mark.parametrize("settle", [0, 2])
def test_each_timed_call_follows_settle_calls_of_the_same_variant(monkeypatch, settle):
    calls = []

    class Recorder:
        def __init__(self, variant, images):
            self.variant, self.out = variant, np.zeros((1, 10, 8, 3), np.float32)

        def __call__(self, images):
            calls.append(self.variant)
            return self.out

        def close(self):
            pass

    monkeypatch.setattr(timing, "make_runner", lambda v, images, k: Recorder(v, images))
    stats = timing.time_size(1, 9, 7, ["tf1_session", "memory_floor"], {}, repeats=3,
                               warmup=1, seed=0, log=lambda *a: None, settle=settle)
    assert [len(s["times"]) for s in stats.values()] == [3, 3]
    timed = calls[2:]  # after one warm-up call each
    assert len(timed) == 2 * 3 * (settle + 1)
    runs = [timed[i:i + settle + 1] for i in range(0, len(timed), settle + 1)]
    assert all(len(set(run)) == 1 for run in runs)  # settle calls, then the timed one


@pytest.mark.parametrize("argv, match", [
    (["--sizes", "0x5"], "argument --sizes: expected HxW with H, W >= 1, got '0x5'"),
    (["--batches", "1,x"], "argument --batches: expected batches such as 1,4,16"),
    (["--variants", "tf3"], "argument --variants: unknown variants ['tf3']"),
    (["--repeats", "0"], "argument --repeats: expected an int >= 1, got '0'"),
    (["--settle", "-1"], "argument --settle: expected an int >= 0, got '-1'"),
])
def test_usage_errors_exit_2_with_one_line(argv, match, capsys):
    assert bench.main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


@pytest.mark.e2e
def test_quick_command_runs_end_to_end_with_peak_memory_from_fresh_processes(tmp_path):
    # --quick as CI runs it, cut down to one tiny size and two variants.
    json_path = tmp_path / "b.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--sizes", "5x3", "--batches", "1",
         "--large", "none", "--repeats", "1", "--warmup", "1", "--variants",
         "tf2_fast,memory_floor",
         "--json", str(json_path)],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    doc = json.loads(json_path.read_text())
    # The default --malloc keep took effect (glibc), in the peak-memory children too.
    assert doc["machine"]["keep_freed_memory"] is (allocator._glibc() is not None)
    # 5x3: conv 15 pixels * 27 * 3 channels; deconv 3x2 pooled pixels * 9 taps * 3 pairs.
    assert doc["compute_floor"]["sizes"][0]["multiply_adds_output_only"] == 1215 + 162
    assert "x cfloor" in proc.stdout and "tf2_fast_over_compute_floor" in proc.stdout
    rss = {r["variant"]: r["peak_rss_mb"] for r in doc["results"]}
    assert set(rss) == {"tf1_session", "tf2_fast", "memory_floor"}
    # The floor's process never imports TensorFlow: were the peaks inherited
    # from one process, they would all be equal.
    assert 0 < rss["memory_floor"] < 200 < rss["tf2_fast"]
    assert rss["tf1_session"] > 200
