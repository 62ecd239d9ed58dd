"""benchmarks.bench --configs: one subprocess per CPU configuration, one table.

What is asserted: the flags parse (and bad ones exit 2 in one line), the
parent never imports TensorFlow, a tiny `--quick --configs` run produces
both configurations' entries (each with its own environment) and the
combined table (a single `--quick` command: tests/test_bench.py). No timing
is asserted.
"""

import json
import os
import subprocess
import sys

import pytest

from benchmarks import bench
from benchmarks.configs import child_argv, format_configs_table
from migration_audit.configurations import NAMED
from tests.conftest import REPO

#: --quick, cut down to one tiny size and two variants to keep CI time low.
TINY_QUICK = ["--quick", "--sizes", "9x7", "--batches", "1", "--repeats", "1", "--warmup", "1",
              "--variants", "tf2_fast,memory_floor"]


def _run_parent(argv, timeout=300):
    """`python -m benchmarks.bench ARGV`, checking at exit that it never imported TensorFlow."""
    code = ("import sys; from benchmarks import bench; status = bench.main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules, 'the parent imported tensorflow'; "
            "sys.exit(status)")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


def test_flags_parse():
    args = bench.build_parser().parse_args(
        ["--batches", "1,4", "--sizes", "9x7,5x3", "--large", "none", "--variants", "tf2_fast",
         "--repeats", "3", "--no-rss", "--json", "o.json", "--plot", "o.png", "--quick",
         "--malloc", "default",
         "--configs", "onednn-off,onednn-on,onednn-off"])
    assert args.batches == [1, 4] and args.sizes == [(9, 7), (5, 3)] and args.large is False
    assert args.variants == ["tf1_session", "tf2_fast"] and args.repeats == 3 and not args.rss
    assert args.quick and args.configs == ["onednn-off", "onednn-on"]
    # Each child runs with the parent's flags and its own --json (never --configs).
    argv = child_argv(args, "c.json")
    assert "--configs" not in argv and "--plot" not in argv and argv[-2:] == ["--json", "c.json"]
    again = bench.build_parser().parse_args(argv)
    for name in ("quick", "batches", "sizes", "large", "variants", "repeats", "rss", "warmup",
                 "settle", "seed", "malloc"):
        assert getattr(again, name) == getattr(args, name), name


def test_configurations_set_onednn():
    assert NAMED["onednn-off"].env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert NAMED["onednn-on"].env == {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": None,
                                      "TF_NUM_INTRAOP_THREADS": None}
    assert NAMED["onednn-avx2"].env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    # The benchmark's children keep the caller's log level (the matrix's are silenced).
    env = NAMED["onednn-off"].child_env({"TF_CPP_MIN_LOG_LEVEL": "1"}, log_level=None)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "1"


@pytest.mark.parametrize("value", ["onednn", "", "onednn-off,eigen"])
def test_unknown_configuration_exits_2_with_one_line(value, capsys):
    assert bench.main(["--configs", value]) == 2
    err = capsys.readouterr().err
    assert "argument --configs: expected configurations from onednn-off,onednn-on" in err
    assert len(err.strip().splitlines()) == 1


def test_the_parent_never_imports_tensorflow():
    code = ("import sys; from benchmarks import bench, configs, report; "
            "import migration_audit.configurations; "
            "bench.build_parser().parse_args(['--configs', 'onednn-on']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.e2e
def test_quick_configs_produce_both_entries_and_one_table(tmp_path):
    out, plot = tmp_path / "c.json", tmp_path / "c.png"
    proc = _run_parent([*TINY_QUICK, "--no-rss", "--configs", "onednn-off,onednn-on", "--json",
                        str(out), "--plot", str(plot)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    combined = json.loads(out.read_text())
    entries = combined["configurations"]
    assert [e["name"] for e in entries] == ["onednn-off", "onednn-on"]
    for entry, flag in zip(entries, ("0", "1")):
        assert entry["exit_status"] == 0
        env = entry["result"]["machine"]["environment"]
        assert env["TF_ENABLE_ONEDNN_OPTS"] == flag
        assert {r["variant"] for r in entry["result"]["results"]} == \
            {"tf1_session", "tf2_fast", "memory_floor"}
        assert (tmp_path / f"c_{entry['name']}.png").read_bytes()[:4] == b"\x89PNG"
    # One table on stdout (the children's lines go to stderr, prefixed).
    assert proc.stdout.count("median ms at 1x9x7") == 1
    header = next(line for line in proc.stdout.splitlines() if line.startswith("median ms"))
    assert header.split()[-2:] == ["onednn-off", "onednn-on"]
    for label in ("tf1_session", "compute_floor", "GFMA/s", "tf2_fast/memory_floor (<= 5)",
                  "tf1_session/tf2_fast (>= 10)", "tf2_fast/compute_floor"):
        assert label in proc.stdout, label
    assert "[onednn-off] " in proc.stderr and "[onednn-on] " in proc.stderr
    assert proc.stdout == format_configs_table(combined) + "\n" + "".join(
        line + "\n" for line in proc.stdout.splitlines() if line.startswith("bench: wrote"))


def test_a_failed_configuration_is_named_in_the_table():
    row = {"variant": "tf1_session", "batch": 1, "height": 9, "width": 7, "median_s": 0.002,
           "compute_floor_ms": 0.001}
    doc = {"results": [row], "compute_floor": {"fma": {"gfma_per_s": 40.0}},
           "targets": {}}
    combined = {"configurations": [
        {"name": "onednn-off", "env": {}, "exit_status": 0, "result": doc},
        {"name": "onednn-on", "env": {}, "exit_status": 1, "result": None}]}
    lines = format_configs_table(combined).splitlines()
    assert lines[0].split()[-2:] == ["onednn-off", "onednn-on"]
    assert lines[1].split() == ["tf1_session", "2.00", "-"]
    assert lines[2].split() == ["compute_floor", "0.00", "-"]
    assert lines[-1] == "onednn-on: failed (exit status 1)"
