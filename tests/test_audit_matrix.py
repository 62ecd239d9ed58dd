"""`python -m migration_audit matrix`: the audit in every CPU configuration.

One subprocess per configuration (TensorFlow reads its variables once, at
import), on a small image so that the whole matrix stays a few seconds per
configuration. What is asserted holds on any x86 machine: every claim of
every configuration (bit-identical by construction, or within the derived
bound), oneDNN reported as each configuration asks, the outputs of every
configuration within twice the float32 bound of the first one's.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from migration_audit.configurations import Configuration, configurations
from migration_audit.matrix import kernels_for
from migration_audit.report import cpu_fingerprint
from tests.conftest import REPO


def test_configurations_follow_the_cpu_flags():
    assert [c.name for c in configurations([], thread_counts=(None,))] == [
        "eigen threads=all", "onednn default threads=all"]
    names = [c.name for c in configurations(["sse4_1", "avx2"], thread_counts=(1,))]
    assert names == ["eigen threads=1", "onednn SSE41 threads=1", "onednn AVX2 threads=1",
                     "onednn default threads=1"]


def test_configuration_sets_and_unsets_its_variables():
    env = Configuration(True, "AVX2", 1).child_env(
        {"ONEDNN_MAX_CPU_ISA": "SSE41", "TF_NUM_INTRAOP_THREADS": "7", "KEEP": "x"})
    assert (env["TF_ENABLE_ONEDNN_OPTS"], env["ONEDNN_MAX_CPU_ISA"],
            env["TF_NUM_INTRAOP_THREADS"], env["KEEP"]) == ("1", "AVX2", "1", "x")
    env = Configuration(False).child_env({"ONEDNN_MAX_CPU_ISA": "SSE41",
                                          "TF_NUM_INTRAOP_THREADS": "7"})
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert "ONEDNN_MAX_CPU_ISA" not in env and "TF_NUM_INTRAOP_THREADS" not in env


def test_kernels_are_seeded_and_the_deconv_kernel_is_bilinear_or_dense():
    a, b = kernels_for(3), kernels_for(3)
    np.testing.assert_array_equal(a["conv_kernel"], b["conv_kernel"])
    assert np.count_nonzero(a["deconv_kernel"][:, :, :, 3:]) == 0  # the bilinear diagonal
    assert np.count_nonzero(kernels_for(3, dense_deconv=True)["deconv_kernel"][..., 3:]) > 0


@pytest.mark.e2e
@pytest.mark.slow
def test_matrix_runs_every_configuration_and_every_claim_holds(tmp_path, subprocess_env):
    image = tmp_path / "in.png"
    pixels = np.random.default_rng(0).integers(0, 256, (33, 17, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "migration_audit", "matrix", str(image),
                           "--threads", "1", "--dense-deconv", "--report", str(report)],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr == ""
    matrix = json.loads((report / "matrix.json").read_text())
    expected = [c.name for c in configurations(cpu_fingerprint()["isa"], (1,))]
    assert [c["name"] for c in matrix["configurations"]] == expected
    for config in matrix["configurations"]:
        # TensorFlow runs oneDNN exactly as the configuration asked.
        assert config["environment"]["onednn"] is (config["env"]["TF_ENABLE_ONEDNN_OPTS"] == "1")
        assert config["environment"]["onednn_max_cpu_isa"] == config["env"]["ONEDNN_MAX_CPU_ISA"]
        assert config["environment"]["threads"]["intra_op"] in (1, None)
        assert config["passed"] and len(config["comparisons"]) == 27
        for row in config["comparisons"]:
            assert row["passed"], (config["name"], row)
            if row["claim"] == "bit-identical":
                assert row["bit_identical"] is True
            else:
                assert 0 <= float(row["error_over_bound"]) <= 1
    assert matrix["passed"] and all(a["passed"] for a in matrix["across"])
    witnesses = {a["witness"] for a in matrix["across"]}
    assert witnesses == {"tf1_session", "tf2_eager", "tf2_function", "tf2_xla", "tf2_fast",
                         "keras_model"}
    assert "verdict: PASS" in done.stdout and "tf1 bits same as c1" in done.stdout
    # The printed table fits in 100 columns; the heat map is a PNG.
    assert max(len(line) for line in done.stdout.splitlines() if not line.startswith(
        ("report: ", "verdict: ", str(image)))) <= 100
    assert (report / "matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_matrix_refuses_bad_threads(subprocess_env):
    done = subprocess.run([sys.executable, "-m", "migration_audit", "matrix", "--threads", "0"],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--threads" in done.stderr


def _synthetic_matrix(configs=8):
    """A matrix.json-shaped dict: 27 rows in each of `configs` configurations."""
    stages = ("conv1", "pool", "output")
    pairs = [("tf2_function", "tf1_session", "bit-identical"),
             ("tf2_fast_parity", "float64_reference", "bound")]
    rows = [{"stage": s, "actual": a, "expected": e, "claim": claim, "bit_identical":
             claim == "bit-identical", "error_over_bound": 0.0 if claim != "bound" else 0.25,
             "max_rel_diff": 1e-7, "passed": True}
            for s in stages for a, e, claim in pairs]
    rows += [{"stage": "output", "actual": "tf1_session", "expected": "float64_reference",
              "claim": "bound", "bit_identical": None, "error_over_bound": 0.5,
              "max_rel_diff": 2e-7, "passed": True}]
    names = [c.name for c in configurations(["sse4_1", "avx2"])][:configs]
    matrix = {"configurations": [{"name": n, "environment": {"onednn": "onednn" in n},
                                  "passed": True, "comparisons": [dict(r) for r in rows]}
                                 for n in names],
              "across": [{"configuration": n, "witness": "tf1_session", "against": names[0],
                          "bit_identical": i == 0, "error_over_bound": 0.0 if i == 0 else 0.1,
                          "passed": True} for i, n in enumerate(names)],
              "passed": True}
    return matrix


def test_matrix_table_fits_in_100_columns_and_names_each_configuration():
    from migration_audit.matrix_report import format_matrix

    matrix = _synthetic_matrix()
    last = matrix["configurations"][-1]["comparisons"][-1]
    last.update(passed=False, error_over_bound=1.5)
    matrix["passed"] = False
    lines = format_matrix(matrix).splitlines()
    assert max(len(line) for line in lines if not line.startswith("verdict: ")) <= 100
    assert lines[:8] == [f"c{i + 1}: {c['name']}"
                         for i, c in enumerate(matrix["configurations"])]
    header = next(line for line in lines if line.startswith("comparison "))
    assert header.split() == ["comparison"] + [f"c{i}" for i in range(1, 9)]
    row = next(line for line in lines if line.startswith("output tf1 vs f64 "))
    assert row.split()[-8:] == ["0.5"] * 7 + ["FAIL"]
    row = next(line for line in lines if line.startswith("conv1 tf2_func vs tf1 "))
    assert row.split()[-8:] == ["same"] * 8
    assert lines[-1].startswith("verdict: FAIL - 1 of ")


def test_matrix_heat_map_is_a_png(tmp_path):
    from migration_audit.matrix_report import write_matrix_png

    path = tmp_path / "matrix.png"
    write_matrix_png(path, _synthetic_matrix(3))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as picture:
        assert picture.size[0] > 400 and picture.size[1] > 150


def test_matrix_version(capsys):
    from migration_audit.matrix import main

    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("migration_audit matrix ") and len(out.splitlines()) == 1


@pytest.mark.parametrize("name", ["configurations", "matrix"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"migration_audit.{name}"),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and not result.failed
