"""`migration_audit script` / `audit_script`: the TF1 script runner, the port, the rows.

Small TF1 scripts are written into a temporary folder; the ports are NumPy
functions (float32, or float64 where said) or TensorFlow ones.
"""

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from deconv_io.errors import InputError
from migration_audit import audit_script
from migration_audit.cli import main
from migration_audit.compare import compare_arrays, nonfinite_summary
from migration_audit.script_runner import capture_script
from tests.conftest import PNG_MAGIC, REPO

MLP = """\
import numpy as np
import tensorflow as tf

tf.set_random_seed(0)
x = tf.placeholder(tf.float32, [None, 6], name="x")
with tf.variable_scope("hidden"):
    w = tf.get_variable("w", [6, 16])
    b = tf.get_variable("b", [16], initializer=tf.constant_initializer(0.1))
    h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w), b))
with tf.variable_scope("out"):
    w2 = tf.get_variable("w", [16, 4])
    logits = tf.matmul(h, w2, name="logits")
probs = tf.nn.softmax(logits, name="probs")
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    data = np.random.RandomState(0).randn(5, 6).astype(np.float32)
    first = sess.run(probs, {x: data[:2]})
    assert isinstance(first, np.ndarray) and first.shape == (2, 4)  # no extras leak in
    both = sess.run([logits, probs], {x: data})
    assert isinstance(both, list) and len(both) == 2
"""

PORTS = """\
import numpy as np


def _forward(inputs, variables, dtype=np.float32):
    x = inputs["x"].astype(dtype)
    h = np.maximum(x @ variables["hidden/w"].astype(dtype) + variables["hidden/b"].astype(dtype),
                   0)
    logits = h @ variables["out/w"].astype(dtype)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return logits, e / e.sum(-1, keepdims=True)


def correct(inputs, variables):
    logits, probs = _forward(inputs, variables)
    return {"out/logits": logits, "probs": probs, "note": np.zeros(1)}


def in_float64(inputs, variables):
    logits, probs = _forward(inputs, variables, np.float64)
    return {"out/logits": logits, "probs": probs}


def wrong_axis(inputs, variables):
    # Bug: softmax over the batch axis instead of the classes.
    logits, _ = _forward(inputs, variables)
    e = np.exp(logits - logits.max(0, keepdims=True))
    return {"out/logits": logits, "probs": e / e.sum(0, keepdims=True)}


def no_probs(inputs, variables):
    logits, _ = _forward(inputs, variables)
    return {"out/logits": logits}


def transposed(inputs, variables):
    logits, probs = _forward(inputs, variables)
    return {"out/logits": logits.T, "probs": probs}


def nan_out(inputs, variables):
    logits, probs = _forward(inputs, variables)
    probs[0, 0] = np.nan
    return {"out/logits": logits, "probs": probs}


def raises(inputs, variables):
    return helper(inputs)


def helper(inputs):
    raise KeyError("image")


def not_a_dict(inputs, variables):
    return [1, 2]


not_callable = 3
"""

UNSUPPORTED = """\
import numpy as np
import tensorflow as tf

x = tf.placeholder(tf.float32, [8], name="x")
y = tf.math.lgamma(x * 2.0, name="y")
with tf.Session() as sess:
    sess.run(y, {x: np.linspace(0.5, 4, 8, dtype=np.float32)})
"""

UNSUPPORTED_PORT = """\
import math

import numpy as np


def port(inputs, variables):
    return {"y": np.float32([math.lgamma(float(v) * 2.0) for v in inputs["x"]])}


def off(inputs, variables):
    return {"y": port(inputs, variables)["y"] * np.float32(1 + 2**-12)}
"""

COUNTER = """\
import numpy as np
import tensorflow as tf

x = tf.placeholder(tf.float32, [3], name="x")
w = tf.Variable(np.float32([1, 2, 3]), name="w")
step = tf.assign_add(w, np.float32([10, 10, 10]))
out = tf.multiply(x, w, name="out")
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())     # run 0
    sess.run(out, {x: np.float32([1, 1, 1])})        # run 1
    sess.run(step.op)                                # run 2: an op only
    sess.run(out, {x: np.float32([2, 2, 2])})        # run 3
    sess.run(step.op)                                # run 4
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scripts")
    for name, text in {"mlp.py": MLP, "ports.py": PORTS, "unsupported.py": UNSUPPORTED,
                       "unsupported_port.py": UNSUPPORTED_PORT, "counter.py": COUNTER}.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def _main(capsys, *argv):
    status = main(["script", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


# --- the runner -------------------------------------------------------------------------

def test_default_run_is_the_last_that_fetched_a_tensor(folder):
    capture = capture_script(folder / "counter.py", ["out"])
    assert (capture.run_index, capture.runs) == (3, 5)
    # Fetched in run 3 itself: after one step, w = [11, 12, 13], x = 2.
    np.testing.assert_array_equal(capture.variables["w"], [11, 12, 13])
    np.testing.assert_array_equal(capture.inputs["x"], [2, 2, 2])
    np.testing.assert_array_equal(capture.tensors["out:0"], [22, 24, 26])
    assert capture.fed == {"x": "x:0"}


def test_a_chosen_run_is_captured_in_that_call(folder):
    capture = capture_script(folder / "counter.py", ["out:0"], run=1)
    np.testing.assert_array_equal(capture.variables["w"], [1, 2, 3])
    np.testing.assert_array_equal(capture.tensors["out:0"], [1, 2, 3])


def test_variables_are_set_by_name(folder):
    capture = capture_script(folder / "counter.py", ["out"], run=1,
                             variables={"w": np.float32([5, 6, 7])})
    np.testing.assert_array_equal(capture.tensors["out:0"], [5, 6, 7])
    mlp = capture_script(folder / "mlp.py", ["out/logits"],
                         variables={"hidden/w": np.ones((6, 16), np.float32)})
    np.testing.assert_array_equal(mlp.variables["hidden/w"], np.ones((6, 16)))
    assert sorted(mlp.variables) == ["hidden/b", "hidden/w", "out/w"]


@pytest.mark.parametrize("variables, message", [
    ({"hidden/v": np.ones(3, np.float32)},
     r"no variable named \['hidden/v'\]; its variables: \['hidden/b', 'hidden/w', 'out/w'\]"),
    ({"hidden/w": np.ones((6, 15), np.float32)},
     r"variable 'hidden/w' has shape \[6, 16\], the given value \[6, 15\]"),
    ({"hidden/b": np.full(16, 0.1, np.float64)}, r"'hidden/b' is float32; the given float64"),
])
def test_bad_variables_are_one_line_errors(folder, variables, message):
    with pytest.raises(InputError, match=message):
        capture_script(folder / "mlp.py", ["out/logits"], variables=variables)


def test_run_out_of_range_and_unknown_tensor(folder):
    with pytest.raises(InputError, match=r"--run 9: the script made 5 Session.run call\(s\)"):
        capture_script(folder / "counter.py", ["out"], run=9)
    with pytest.raises(InputError, match=r"^no tensor or op named 'nope'"):
        capture_script(folder / "counter.py", ["nope"])
    with pytest.raises(InputError, match=r"needs placeholder\(s\) \['x'\], which run 2"):
        capture_script(folder / "counter.py", ["out"], run=2)


# --- the engine ---------------------------------------------------------------------------

def test_correct_port_passes_with_the_keys_as_names(folder, capsys):
    status, out, err = _main(capsys, folder / "mlp.py", "--port", f"{folder / 'ports.py'}:correct")
    assert status == 0, out
    assert err == ""
    assert "verdict: PASS" in out and "port outputs not compared: note" in out
    assert out.splitlines()[0] == "migration_audit script: importing TensorFlow ..."


def test_supported_ops_give_bound_rows(folder):
    result = audit_script(folder / "mlp.py", f"{folder / 'ports.py'}:correct")
    assert result.passed and result.run_index == 2
    assert result.compared == {"out/logits:0": "out/logits", "probs:0": "probs"}
    assert [(r.stage, r.name) for r in result.rows] == [
        (key, name) for key in ("out/logits", "probs")
        for name in ("port vs tf1", "tf1 vs float64 shadow", "port vs float64 shadow")]
    # MatMul, BiasAdd, Relu and Softmax have rounding rules: every claim is a bound.
    assert {r.claim for r in result.rows} == {"bound"} and result.unsupported_ops == []


def test_a_float64_port_passes(folder):
    assert audit_script(folder / "mlp.py", f"{folder / 'ports.py'}:in_float64").passed


@pytest.mark.parametrize("port, failing", [
    ("wrong_axis", {("probs", "port vs tf1"), ("probs", "port vs float64 shadow")}),
    ("no_probs", {("probs", "port vs tf1"), ("probs", "port vs float64 shadow")}),
    ("transposed", {("out/logits", "port vs tf1"), ("out/logits", "port vs float64 shadow")}),
    ("nan_out", {("probs", "port vs tf1"), ("probs", "port vs float64 shadow")}),
])
def test_buggy_ports_fail_the_rows_their_bug_touches(folder, capsys, port, failing):
    compare = ["--compare", "probs", "--compare", "out/logits:0=out/logits"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy/matplotlib warning on the way
        status, out, err = _main(capsys, folder / "mlp.py", "--port",
                                 f"{folder / 'ports.py'}:{port}", *compare,
                                 "--report", folder / f"report_{port}")
    assert (status, err) == (1, "")
    data = json.loads((folder / f"report_{port}" / "report.json").read_text())
    assert {(r["stage"], f"{r['actual']} vs {r['expected']}") for r in data["comparisons"]
            if not r["passed"]} == failing
    assert "verdict: FAIL" in out
    if port == "nan_out":
        assert ("inf/NaN: probs port vs tf1: 1 in port, 0 in tf1, first at [0, 0]; they "
                "disagree; 1 where tf1 is finite (1 failing)") in out.splitlines()
        row = next(r for r in data["comparisons"] if r["stage"] == "probs" and not r["passed"])
        assert row["nonfinite"] == {"actual": 1, "expected": 0, "where_expected_finite": 1,
                                    "failing": 1, "agree": False, "first_index": [0, 0]}
    if port == "no_probs":
        assert all(r["missing"] for r in data["comparisons"] if not r["passed"])


def test_an_op_without_a_rule_gives_empirical_rows(folder):
    good = audit_script(folder / "unsupported.py", f"{folder / 'unsupported_port.py'}:port")
    assert good.passed, [r.as_dict() for r in good.rows]
    assert "Lgamma" in good.unsupported_ops
    assert [(r.name, r.claim) for r in good.rows] == [("port vs tf1", "empirical"),
                                                      ("port vs float64 shadow", "empirical")]
    # 2**-12 relative is thousands of float32 ULPs: beyond twice TF1's distance plus the floor.
    bad = audit_script(folder / "unsupported.py", f"{folder / 'unsupported_port.py'}:off")
    assert not bad.passed


def test_report_json_and_png(folder, capsys):
    report = folder / "report_ok"
    status, out, _ = _main(capsys, folder / "mlp.py", "--port", f"{folder / 'ports.py'}:correct",
                           "--report", report)
    assert status == 0
    data = json.loads((report / "report.json").read_text())
    assert data["schema_version"] == 2 and data["project_version"]
    assert data["kind"] == "script" and data["passed"] is True and data["run_index"] == 2
    assert data["inputs"] == {"x": [5, 6]} and data["variables"]["hidden/w"] == [6, 16]
    assert {"unsupported_ops", "environment", "compared", "extra_outputs"} <= set(data)
    for row in data["comparisons"]:
        assert {"stage", "tf1_tensor", "shape", "bound", "error_over_bound", "claim", "passed",
                "worst_index", "nonfinite"} <= set(row)
        assert len(row["worst_index"]) == 2
    assert (report / "report.png").read_bytes()[:8] == PNG_MAGIC
    assert out.splitlines()[-1] == f"report: {report / 'report.json'}, {report / 'report.png'}"


# --- bad input: one line, exit 2 ----------------------------------------------------------

@pytest.mark.parametrize("port, message", [
    ("missing.py:f", r"--port .*missing\.py:f: no such file"),
    ("ports.py:nope", r"ports\.py has no function 'nope'"),
    ("ports.py:not_callable", r"'not_callable' is not callable"),
    ("ports.py:raises", r"--port .*:raises raised KeyError: 'image'"),
    ("ports.py:not_a_dict", r"returned list; expected a dict"),
    ("no_such_package.mod:f", r"no module named no_such_package"),
    ("ports.py", r"expected FILE\.py:function or package\.module:function"),
])
def test_port_errors_are_one_line_exit_2(folder, capsys, port, message):
    spec = str(folder / port) if port.startswith(("ports", "missing")) else port
    status, _, err = _main(capsys, folder / "mlp.py", "--port", spec, "--compare", "probs")
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("migration_audit: error: ")
    import re

    assert re.search(message, err), err


def test_verbose_prints_the_ports_own_frames(folder, capsys):
    status, _, err = _main(capsys, folder / "mlp.py", "--port", f"{folder / 'ports.py'}:raises",
                           "--compare", "probs", "--verbose")
    assert status == 2
    assert "Traceback (the port's frames):" in err and "in helper" in err
    assert "script_audit.py" not in err


@pytest.mark.parametrize("argv, message", [
    (["nope.py", "--port", "p.py:f"], "Script not found"),
    (["{mlp}", "--port", "{ports}:correct", "--run", "7"], "--run 7: the script made 3"),
    (["{mlp}", "--port", "{ports}:correct", "--compare", "zzz=probs"],
     "no tensor or op named 'zzz'"),
    (["{mlp}", "--port", "{ports}:correct", "--variables", "{ports}"], "not a readable .npz"),
    (["{mlp}", "--port", "{ports}:correct", "--run", "-1"], "--run must be an int >= 0"),
])
def test_bad_input_is_one_line_exit_2(folder, capsys, argv, message):
    argv = [a.format(mlp=folder / "mlp.py", ports=folder / "ports.py") for a in argv]
    status, _, err = _main(capsys, *argv)
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err


def test_a_damaged_compressed_variables_file_is_one_line(folder, tmp_path, capsys):
    values = tmp_path / "v.npz"
    np.savez_compressed(values, **{"out/w": np.zeros((16, 4), np.float32)})
    data = bytearray(values.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 16] = b"\xff" * 16  # inside the deflated member: zlib.error
    values.write_bytes(bytes(data))
    status, _, err = _main(capsys, folder / "mlp.py", "--port", f"{folder / 'ports.py'}:correct",
                           "--variables", values)
    assert status == 2 and len(err.splitlines()) == 1 and "not a readable .npz" in err, err


def test_variables_file_sets_variables(folder, tmp_path, capsys):
    values = tmp_path / "v.npz"
    np.savez(values, **{"out/w": np.full((16, 4), 0.25, np.float32)})
    status, _, err = _main(capsys, folder / "mlp.py", "--port", f"{folder / 'ports.py'}:correct",
                           "--variables", values, "--report", tmp_path / "r")
    assert (status, err) == (0, "")
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["variables_file"] == str(values)


# --- rows with non-finite values ----------------------------------------------------------

def test_nonfinite_values_are_a_verdict():
    inf, nan = np.inf, np.nan
    agree = compare_arrays("y", "port", np.float32([1, inf, nan]), "tf1",
                           np.float32([1, inf, nan]), bound=1e-6)
    assert agree.passed and agree.nonfinite["agree"] and agree.nonfinite["failing"] == 0
    nan_where_finite = compare_arrays("y", "port", np.float32([1, nan]), "tf1",
                                      np.float32([1, 2]), bound=np.float64([1e-6, np.inf]))
    assert not nan_where_finite.passed and nan_where_finite.nonfinite["failing"] == 1
    # An inf is float32's rounding of an overflow: allowed only where no bound exists.
    assert nonfinite_summary(np.float32([inf]), np.float32([3e38]), np.inf)["failing"] == 0
    assert nonfinite_summary(np.float32([inf]), np.float32([3e38]), 1.0)["failing"] == 1


def test_subprocess_exit_statuses(folder, subprocess_env):
    def run(*argv):
        return subprocess.run([sys.executable, "-m", "migration_audit", "script", *argv],
                              cwd=REPO, env=subprocess_env, capture_output=True, text=True,
                              timeout=300)

    good = run(str(folder / "mlp.py"), "--port", f"{folder / 'ports.py'}:correct")
    assert good.returncode == 0 and good.stderr == "", good.stderr
    bad = run(str(folder / "mlp.py"), "--port", f"{folder / 'ports.py'}:wrong_axis")
    assert bad.returncode == 1 and bad.stderr == ""


def test_the_demo_port_through_the_engine(tmp_path):
    # The shipped original with its hard-coded image size made small (a test
    # copy; the shipped file is untouched), its image an 8x6 PNG named
    # timg.jpg (Pillow opens a file by its content).
    from PIL import Image

    from legacy_tf1.original import SHIPPED_SCRIPT
    from migration_audit.demo_port import OP_NAMES

    text = SHIPPED_SCRIPT.read_text(encoding="utf-8")
    assert text.count("[1,750,500,3]") == 1
    (tmp_path / "demo.py").write_text(text.replace("[1,750,500,3]", "[1,8,6,3]"),
                                      encoding="utf-8")
    pixels = np.random.default_rng(3).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "timg.jpg", format="PNG")
    result = audit_script(tmp_path / "demo.py", "migration_audit.demo_port:tf2_port",
                          compare={op: op for op in OP_NAMES})
    assert result.passed and result.unsupported_ops == []
    assert {r.claim for r in result.rows} == {"bound"}
    # tf2.DeconvDemo runs the session's kernels (Conv2D, MaxPool,
    # Conv2DBackpropInput) on the same shapes in this process and
    # configuration: the same bytes by construction.
    assert all(r.bit_identical for r in result.rows if r.name == "port vs tf1")
    assert result.variables == {"Variable": [1, 8, 6, 3], "a": [3, 3, 3, 64],
                                "a1": [3, 3, 3, 64]}


def test_the_demo_report_has_the_same_header_and_row_fields(tmp_path):
    from migration_audit.audit import run_audit
    from migration_audit.report import SCHEMA_VERSION, report_dict, write_report_json, \
        write_report_png

    image = np.random.default_rng(5).integers(0, 256, (1, 5, 4, 3)).astype(np.float32)
    result = run_audit(image, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report_png(tmp_path / "report.png", result)
    write_report_json(tmp_path / "report.json", report_dict(result, "in.png", 0, None))
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["kind"] == "demo"
    assert data["project_version"] and data["unsupported_ops"] == []
    for row in data["comparisons"]:
        assert len(row["worst_index"]) == len(row["shape"])
        assert row["nonfinite"]["actual"] == 0 and row["tf1_tensor"] is None
    assert (tmp_path / "report.png").read_bytes()[:8] == PNG_MAGIC


def test_demo_engine_skips_images_the_original_cannot_read():
    from migration_audit.demo_engine import audit_shipped_script

    result, why = audit_shipped_script(np.zeros((1, 7, 5, 3), np.float32),
                                       np.zeros((3, 3, 3, 64), np.float32),
                                       np.zeros((3, 3, 3, 64), np.float32))
    assert result is None and why.startswith("the script reshapes its image to [1, 750, 500, 3]")
    _, why = audit_shipped_script(np.full((1, 750, 500, 3), 0.5, np.float32), None, None)
    assert why == "the script reads 8-bit pixels; this image's values are not integers 0..255"


@pytest.mark.slow
def test_demo_engine_on_the_packaged_image():
    from deconv_io import default_image_path, load_image
    from migration_audit.demo_engine import audit_shipped_script

    rng = np.random.default_rng(11)
    conv = rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32)
    deconv = rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
    images = np.asarray(load_image(default_image_path()), np.float32)[None]
    result, why = audit_shipped_script(images, conv, deconv)
    assert why is None and result.passed, [r.as_dict() for r in result.rows if not r.passed]
    assert [(r.stage, r.name) for r in result.rows] == [
        (stage, name) for stage in ("conv1", "pool", "output")
        for name in ("tf2_port vs original_script", "original_script vs float64_shadow",
                     "tf2_port vs float64_shadow")]
    # The same TensorFlow kernels on the same shapes in one process and
    # configuration: bit-identical by construction.
    assert all(r.bit_identical for r in result.rows if r.expected == "original_script")


@pytest.mark.parametrize("name", ["migration_audit.script_cli", "migration_audit.compare"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 1


def test_help_and_version(capsys):
    import importlib.metadata

    assert main(["script", "--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"migration_audit script "
                          f"{importlib.metadata.version('bilinear-deconv-migration')} (TensorFlow ")
    assert main(["script", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--port", "--compare", "--run", "--variables", "--report", "--verbose",
                 "--version", "Exit status"):
        assert flag in out
    assert main(["--help"]) == 0
    assert "migration_audit script ORIGINAL.py --port PORT" in " ".join(
        capsys.readouterr().out.split())


def test_tf_layers_variables_by_name_and_no_warning_on_stderr(tmp_path, capsys):
    (tmp_path / "layers.py").write_text(textwrap.dedent("""\
        import numpy as np
        import tensorflow as tf

        x = tf.placeholder(tf.float32, [None, 3], name="x")
        y = tf.layers.dense(x, 2, name="fc")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(y, {x: np.ones((2, 3), np.float32)})
        """))
    (tmp_path / "port.py").write_text(textwrap.dedent("""\
        def port(inputs, variables):
            return {"fc/BiasAdd": inputs["x"] @ variables["fc/kernel"] + variables["fc/bias"]}
        """))
    values = tmp_path / "v.npz"
    np.savez(values, **{"fc/kernel": np.full((3, 2), 2, np.float32)})
    status, out, err = _main(capsys, tmp_path / "layers.py", "--port",
                             f"{tmp_path / 'port.py'}:port", "--variables", values)
    assert (status, err) == (0, ""), out
    capture = capture_script(tmp_path / "layers.py", ["fc/BiasAdd"],
                             variables={"fc/kernel": np.full((3, 2), 2, np.float32)})
    np.testing.assert_array_equal(capture.tensors["fc/BiasAdd:0"], np.full((2, 2), 6))
