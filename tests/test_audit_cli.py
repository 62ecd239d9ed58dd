"""`python -m migration_audit`: the table, report.json / report.png, exit statuses.

Most runs call `main([...])` in-process on a 7x5 image; two run
`python -m migration_audit` in a subprocess (exit status, no traceback, and
the oneDNN setting as the report records it).
"""

import doctest
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from deconv_io import load_image, save_weights
from legacy_tf1.graph import run_session
from migration_audit import audit, bounds, cli, compare, reference, report, runners
from migration_audit.cli import main
from tests.conftest import PNG_MAGIC, REPO, reference_with_bounds

STAGES = ("conv1", "pool", "output")
TF2 = ("tf2_eager", "tf2_function", "tf2_xla")


class _Changed:
    """A prepared runner whose results pass through `change(results, kernels)`."""

    def __init__(self, prepared, variables, change):
        self.prepared, self.given, self.change = prepared, variables, change

    def __call__(self, inputs):
        results = dict(self.prepared(inputs))
        kernels = self.given or self.prepared.variables()
        return self.change(results, kernels)

    def variables(self):
        return self.prepared.variables()

    def close(self):
        self.prepared.close()


def _change_runner(monkeypatch, name, change):
    """Makes the registry's runner `name` pass its results through `change`."""
    runner = runners.RUNNERS[name]
    real = runner._prepare

    def prepare(variables, names, **options):
        return _Changed(real(variables, names, **options), variables, change)

    monkeypatch.setattr(runner, "_prepare", prepare)


def _progress_only(err):
    """Whether stderr holds only the audit's progress lines."""
    return all(line.startswith("migration_audit: ") for line in err.splitlines())


def _expected_rows():
    """(stage, comparison) of every table row, in order."""
    rows = []
    for stage in STAGES:
        tested = list(TF2) + (["tf2_fast"] if stage == "output" else [])
        rows += [(stage, f"{name} vs tf1_session") for name in tested + ["keras_model"]]
        rows += [(stage, f"{name} vs float64_reference") for name in ["tf1_session"] + tested]
    return rows + [("display", "tf2_function output[0] vs tf1_session display")]


def _table(out):
    """The table's rows as {(stage, comparison): {column: cell}} (columns split on 2+ spaces)."""
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("stage ")))
    rows = {}
    for line in lines[header + 1:]:
        if not line.startswith(("conv1 ", "pool ", "output ", "display ")):
            break
        cells = [c for c in line.split("  ") if c.strip()]
        cells = [c.strip() for c in cells]
        rows[(cells[0], cells[1])] = dict(zip(report.COLUMNS, cells))
    return rows


def test_audit_passes_prints_table_and_writes_report(image_path, tmp_path, capsys):
    folder = tmp_path / "audit"
    assert main([str(image_path), "--seed", "0", "--report", str(folder)]) == 0
    out, err = capsys.readouterr()
    # Progress on stderr: a first line, then one line per audited runner, in registry order.
    progress = err.splitlines()
    audited = [name for name, r in runners.RUNNERS.items() if r.audited]
    assert progress[0].startswith(f"migration_audit: auditing {image_path}")
    assert [line.split()[2].rstrip(":") for line in progress[1:]] == audited
    assert "original_script: not run (the script reshapes its image" in err
    lines = out.splitlines()
    assert lines[0].startswith("environment: ") and " oneDNN " in lines[0]
    assert f"TensorFlow {tf.__version__}, " in lines[0]
    assert lines[1] == f"{image_path}: image (1, 7, 5, 3), kernels drawn by tf1_session (seed=0)"
    assert lines[2].split() == ["stage", "comparison", "shape", "dtype", "max", "abs", "diff",
                                "max", "rel", "diff", "ULPs", "bit-identical", "claim", "max",
                                "bound", "error/bound", "verdict"]
    rows = _table(out)
    assert list(rows) == _expected_rows()
    for key, row in rows.items():
        assert row["verdict"] == "ok", key
        assert float(row["error/bound"]) <= 1 and float(row["max bound"]) > 0, key
        claim = ("bit-identical" if key[1].startswith(("tf2_eager vs tf1", "tf2_function vs tf1",
                                                       "tf2_function output[0]",
                                                       "keras_model vs tf1")) else "bound")
        assert row["claim"] == claim, key
    for stage in STAGES:
        for name in ("tf2_eager", "tf2_function", "keras_model"):
            assert rows[(stage, f"{name} vs tf1_session")]["bit-identical"] == "yes"
            assert rows[(stage, f"{name} vs tf1_session")]["max abs diff"] == "0"
        assert rows[(stage, "tf1_session vs float64_reference")]["bit-identical"] == "n/a"
        assert rows[(stage, "tf1_session vs float64_reference")]["dtype"] == "float32 vs float64"
    assert rows[("conv1", "tf2_eager vs tf1_session")]["shape"] == "(1, 7, 5, 64)"
    assert rows[("display", "tf2_function output[0] vs tf1_session display")]["shape"] == (
        "(8, 6, 3)")
    assert lines[-5].startswith("bit-identical at every stage: tf2_eager vs tf1_session, "
                                "tf2_function vs tf1_session")
    assert lines[-4].startswith("not bit-identical: ")
    assert lines[-3].startswith("largest error/bound: ")
    assert lines[-2] == ("verdict: PASS - all 27 comparisons hold their claim (bit-identical by "
                         "construction, or within the derived rounding bound)")
    assert lines[-1] == f"report: {folder / 'report.json'}, {folder / 'report.png'}"

    data = json.loads((folder / "report.json").read_text())
    assert data["passed"] is True and data["seed"] == 0 and data["weights"] is None
    assert data["images_shape"] == [1, 7, 5, 3] and data["image"] == str(image_path)
    assert [(c["stage"], f"{c['actual']} vs {c['expected']}") for c in data["comparisons"]] == (
        _expected_rows())
    env = data["environment"]
    assert env["tensorflow"] == tf.__version__ and env["numpy"] == np.__version__
    assert {"python", "keras", "pillow", "platform", "cpu", "isa"} <= set(env) and env["keras"]
    assert env["TF_ENABLE_ONEDNN_OPTS"] == os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    assert env["onednn_max_cpu_isa"] == os.environ.get("ONEDNN_MAX_CPU_ISA")
    assert isinstance(env["onednn"], bool) and isinstance(env["cpu"], str)
    assert set(env["isa"]) <= set(report.ISA_FLAGS)
    assert set(env["threads"]) >= {"intra_op", "inter_op", "cpu_count"}
    # The figures are those of an independent run: the session, seed 0, and
    # the float64 reference on the same Pillow decode.
    tf1 = run_session(load_image(image_path), seed=0)
    expected, bound = reference_with_bounds(tf1["image"], tf1["conv_kernel"],
                                            tf1["deconv_kernel"])
    figures = {(c["stage"], c["actual"], c["expected"]): c for c in data["comparisons"]}
    for stage in STAGES:
        row = figures[(stage, "tf1_session", "float64_reference")]
        assert row["max_rel_diff"] == compare.relative_error(tf1[stage], expected[stage])
        ratio, _ = bounds.error_over_bound(tf1[stage], expected[stage], bound[stage])
        assert row["error_over_bound"] == ratio and row["bound"] == bound[stage].max()
        assert row["ulps"] == bounds.ulp_distance(tf1[stage], expected[stage])
        assert row["passed"] is True and row["bit_identical"] is None and row["claim"] == "bound"
    assert (folder / "report.png").read_bytes()[:8] == PNG_MAGIC
    with Image.open(folder / "report.png") as picture:
        assert picture.size[0] > 600 and picture.size[1] > 400


def test_weights_file_kernels_are_fed_to_every_witness(image_path, tmp_path, monkeypatch,
                                                      capsys):
    rng = np.random.default_rng(1)
    kernels = {name: rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
               for name in ("conv_kernel", "deconv_kernel")}
    weights = tmp_path / "w.npz"
    save_weights(weights, **kernels)
    seen = {}

    def spy(results, kernels):
        seen.update(kernels)
        return results

    _change_runner(monkeypatch, "tf2_function", spy)
    assert main([str(image_path), "--weights", str(weights), "--report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(f"kernels from {weights}")
    for name, value in kernels.items():
        np.testing.assert_array_equal(value, seen[name])
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["weights"] == str(weights) and data["kernels_from"] == "weights file"


def test_a_perturbed_stage_fails_the_audit_with_exit_1(image_path, tmp_path, monkeypatch,
                                                       capsys):
    def perturbed(results, kernels):
        # 3x a float32 witness's largest bound everywhere: 1.5x the bound of
        # a pair of float32 witnesses where that bound is largest.
        bound = bounds.demo_bounds(load_image(image_path)[None], **kernels)
        results["output"] = results["output"] + np.float32(3 * bound["output"].max())
        return results

    _change_runner(monkeypatch, "tf1_session", perturbed)
    assert main([str(image_path), "--seed", "0", "--report", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    rows = _table(out)
    failed = {key for key, row in rows.items() if row["verdict"] == "FAIL"}
    assert failed == {("output", f"{name} vs tf1_session")
                      for name in TF2 + ("tf2_fast", "keras_model")} | {
        ("output", "tf1_session vs float64_reference")}
    assert ("verdict: FAIL - 6 of 27 comparisons break their claim (bit-identical, or "
            "error/bound <= 1): ") in out
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["passed"] is False
    assert sum(not c["passed"] for c in data["comparisons"]) == 6
    assert (tmp_path / "report.png").read_bytes()[:8] == PNG_MAGIC


def test_a_wrong_shape_fails_the_audit_and_still_draws(image_path, tmp_path, monkeypatch,
                                                       capsys):
    def cropped(results, kernels):
        results["output"] = results["output"][:, :-1]
        return results

    _change_runner(monkeypatch, "tf2_xla", cropped)
    assert main([str(image_path), "--seed", "0", "--report", str(tmp_path)]) == 1
    rows = _table(capsys.readouterr().out)
    failed = {key: row for key, row in rows.items() if row["verdict"] == "FAIL"}
    assert set(failed) == {("output", "tf2_xla vs tf1_session"),
                           ("output", "tf2_xla vs float64_reference")}
    assert failed[("output", "tf2_xla vs tf1_session")]["shape"] == (
        "(1, 7, 6, 3) != (1, 8, 6, 3)")
    assert failed[("output", "tf2_xla vs tf1_session")]["max abs diff"] == "inf"
    assert (tmp_path / "report.png").read_bytes()[:8] == PNG_MAGIC


def _nudge(monkeypatch, witness, stage):
    def nudged(results, kernels):
        results[stage] = np.nextafter(results[stage], np.inf, dtype=np.float32)
        return results

    _change_runner(monkeypatch, witness, nudged)


def test_one_ulp_passes_a_bound_claim(image_path, monkeypatch, capsys):
    # One ULP on XLA's conv1 (a bound claim: XLA compiles its own kernels):
    # no longer bit-identical, within the bound, so the audit passes.
    _nudge(monkeypatch, "tf2_xla", "conv1")
    assert main([str(image_path), "--seed", "0"]) == 0
    out = capsys.readouterr().out
    row = _table(out)[("conv1", "tf2_xla vs tf1_session")]
    assert (row["bit-identical"], row["ULPs"], row["verdict"]) == ("no", "1", "ok")
    assert 0 < float(row["error/bound"]) < 1
    assert "tf2_xla vs tf1_session (conv1" in out


def test_one_ulp_breaks_a_bit_identical_claim(image_path, monkeypatch, capsys):
    # Eager runs the session's very kernels on the same shapes: its claim is
    # bit identity, and one ULP breaks it (exit 1), though within the bound.
    _nudge(monkeypatch, "tf2_eager", "conv1")
    assert main([str(image_path), "--seed", "0"]) == 1
    out = capsys.readouterr().out
    row = _table(out)[("conv1", "tf2_eager vs tf1_session")]
    assert (row["bit-identical"], row["claim"], row["verdict"]) == ("no", "bit-identical",
                                                                    "FAIL")
    assert float(row["error/bound"]) < 1
    assert "verdict: FAIL - 1 of 27" in out


@pytest.mark.parametrize("scale", [1e-39, 1e30])
def test_subnormal_or_huge_kernels_keep_bit_identical_ports_passing(image_path, tmp_path,
                                                                    scale, capsys):
    # Subnormal kernels (flushed to zero by TensorFlow's CPU kernels) and
    # huge ones (whose products leave float32's range) must not turn the
    # bit-identical ports into a FAIL, nor print NumPy warnings.
    rng = np.random.default_rng(2)
    weights = tmp_path / "w.npz"
    save_weights(weights, *(np.float32(scale) * rng.uniform(0.5, 1, (3, 3, 3, 64))
                            .astype(np.float32) for _ in range(2)))
    with np.errstate(all="raise"):
        code = main([str(image_path), "--weights", str(weights)])
    captured = capsys.readouterr()
    rows = _table(captured.out)
    for stage in STAGES:
        for name in ("tf2_eager", "tf2_function"):
            assert rows[(stage, f"{name} vs tf1_session")]["verdict"] == "ok"
    assert code == 0, captured.out
    assert _progress_only(captured.err), captured.err


def test_default_image_is_the_packaged_one(image_path, monkeypatch, capsys):
    # The packaged 750x500 image itself is audited in test_audit_forward;
    # here only that IMAGE defaults to default_image_path().
    monkeypatch.setattr(cli, "default_image_path", lambda: image_path)
    assert main(["--seed", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(f"{image_path}: image (1, 7, 5, 3)")


def test_help_names_the_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "convert-checkpoint SRC DST" in out and "--report DIR" in out


def _bad_cases(tmp_path, image_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    npy = tmp_path / "w.npy"
    np.save(npy, np.zeros(3))
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return {
        "missing image": ([str(tmp_path / "nope.png")],
                          f"Image not found: {tmp_path / 'nope.png'}"),
        "not an image": ([str(text)], f"Not an image file Pillow can read: {text}"),
        "bad weights": ([str(image_path), "--weights", str(npy)],
                        f"Not an .npz weights file (expected a zip archive): {npy}"),
        "report is a file": ([str(image_path), "--report", str(a_file)],
                             f"--report {a_file}: exists and is not a folder"),
        "report parent missing": ([str(image_path), "--report", str(tmp_path / "x" / "y")],
                                  f"--report {tmp_path / 'x' / 'y'}: folder {tmp_path / 'x'} "
                                  "does not exist"),
        "negative seed": ([str(image_path), "--seed", "-1"],
                          "--seed must be in [0, 2**63 - 1]. Received: -1"),
        "too many pixels": ([str(image_path), "--max-pixels", "10"],
                            "is 7x5 = 35 pixels, over the limit of 10"),
    }


BAD = ["missing image", "not an image", "bad weights", "report is a file",
       "report parent missing", "negative seed", "too many pixels"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_exits_2_with_one_line_and_no_report(case, image_path, tmp_path, capsys):
    argv, message = _bad_cases(tmp_path, image_path)[case]
    folder = tmp_path / "kept"
    folder.mkdir()
    (folder / "report.json").write_text("old")
    if "--report" not in argv:
        argv = argv + ["--report", str(folder)]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("migration_audit: error: ") and message in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert (folder / "report.json").read_text() == "old"  # not overwritten
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize("argv,message", [
    (["--max-pixels", "0"], "argument --max-pixels: expected an int >= 1, got '0'"),
    (["--dump", "x.npz"], "unrecognized arguments: --dump (see --help)"),
    (["a.png", "b.png"], "unrecognized arguments: b.png"),
    (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("migration_audit: error: ") and message in err
    assert err.count("\n") == 1


def _run_module(*args, **env):
    return subprocess.run([sys.executable, "-m", "migration_audit", *args], cwd=REPO,
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", **env})


@pytest.mark.e2e
def test_subprocess_eigen_run_outside_the_checkout(image_path, tmp_path):
    # With TF_ENABLE_ONEDNN_OPTS=0 the report says oneDNN is off, and the
    # audit passes there too. Run from a folder outside the checkout (where
    # `tests` cannot be imported): the float64 reference is the product's.
    report_dir = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "migration_audit", str(image_path), "--seed",
                           "0", "--report", str(report_dir)], cwd=tmp_path, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2",
                                          "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert done.returncode == 0, done.stderr
    assert _progress_only(done.stderr), done.stderr
    assert "verdict: PASS" in done.stdout and "oneDNN off" in done.stdout
    data = json.loads((report_dir / "report.json").read_text())
    assert data["environment"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert data["environment"]["onednn"] is False
    assert sum(c["expected"] == "float64_reference" for c in data["comparisons"]) == 13


def test_subprocess_bad_input_exits_2_before_tensorflow(tmp_path):
    done = _run_module(str(tmp_path / "nope.png"))
    assert done.returncode == 2
    assert done.stderr == f"migration_audit: error: Image not found: {tmp_path / 'nope.png'}\n"
    assert done.stdout == ""


@pytest.mark.parametrize("module", [audit, bounds, cli, compare, reference, report, runners])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 1
