"""legacy_tf1.original: the published script, run unchanged through the import shim."""

import ast
import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from deconv_io import default_image_path, save_weights
from legacy_tf1.graph import run_session
from legacy_tf1.original import SHIPPED_SCRIPT, UnsupportedContribError, run_script
from legacy_tf1.original.cli import main
from legacy_tf1.original.contrib import (contrib_variance_scaling_initializer,
                                         contrib_xavier_initializer)
from tests.conftest import PNG_MAGIC, REPO

#: SHA-256 of lines 72-138 of the seed document (the demo script), as
#: published: no indentation, no newline after the last line.
PUBLISHED_SHA256 = "44d0fbe7bb7e3c076a712ab8aa05cf3865f0fd7cade99e56e0262ca41b56b888"
HEADER_LINES = 6


@pytest.fixture(scope="module")
def kernels():
    rng = np.random.default_rng(7)
    return {"conv_kernel": rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32),
            "deconv_kernel": rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)}


@pytest.fixture(scope="module")
def shipped_run(kernels):
    return run_script(weights=kernels)


def _write_script(folder, body, name="script.py"):
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


# --- the shipped text ---------------------------------------------------------


def test_shipped_script_is_the_published_text_with_indentation_restored():
    text = SHIPPED_SCRIPT.read_text(encoding="utf-8")
    lines = text.split("\n")
    header, body = lines[:HEADER_LINES], lines[HEADER_LINES:]
    assert all(line.startswith("# ") for line in header)
    # Only leading spaces were added: strip them and the published text is back.
    published = "\n".join(line.lstrip(" ") for line in body)
    assert hashlib.sha256(published.encode("utf-8")).hexdigest() == PUBLISHED_SHA256
    assert all(line[:len(line) - len(line.lstrip())].strip(" ") == "" for line in body)
    ast.parse(text)  # the restored indentation makes it valid Python
    assert not text.endswith("\n")  # as published


def test_the_image_beside_the_script_is_the_packaged_one():
    beside = SHIPPED_SCRIPT.parent / "timg.jpg"
    assert beside.read_bytes() == default_image_path().read_bytes()


# --- the run --------------------------------------------------------------------


def test_shipped_script_display_is_the_sessions_output0(shipped_run, kernels):
    expected = run_session(np.asarray(Image.open(default_image_path()), np.float32)[None],
                           weights=kernels)
    # Bit-identical by construction: the script and run_session build the same
    # three ops (conv2d, max_pool, conv2d_transpose) on the same shapes, inputs
    # and kernels, in graph sessions of one process and configuration; the
    # script's transpose/squeeze/transpose chain only moves values.
    np.testing.assert_array_equal(expected["output"][0], shipped_run.display)
    np.testing.assert_array_equal(expected["display"], shipped_run.display)
    assert shipped_run.display.dtype == np.float32


def test_weights_set_a_and_a1(shipped_run, kernels):
    for name, value in kernels.items():
        np.testing.assert_array_equal(value, shipped_run.kernels[name])


def test_dump_arrays_are_the_session_runs(shipped_run):
    arrays = shipped_run.dump_arrays()
    # run 0 is the initializer (returns None), run 1 is `sess.run(b)`.
    assert sorted(arrays) == ["conv_kernel", "deconv_kernel", "display", "run_1"]
    np.testing.assert_array_equal(arrays["run_1"], arrays["display"])
    assert shipped_run.runs[0] is None


def test_no_global_switch_is_left_behind(shipped_run):
    assert tf.executing_eagerly()
    assert sys.modules["tensorflow"] is tf
    assert not hasattr(tf, "contrib")
    assert float(tf.reduce_sum(tf.ones([2, 2]))) == 4.0  # eager works after the run
    assert tf.compat.v1.get_default_graph().get_operations() == []


def test_original_stdout_is_kept(capsys):
    run_script()
    out = capsys.readouterr().out.splitlines()
    # Image shape, 3 filter slices of 3 rows each, the pool shape twice.
    assert out[0] == "(750, 500, 3)"
    assert out[1:4] == ["[[0.0625 0.1875 0.1875]", " [0.1875 0.5625 0.5625]",
                        " [0.1875 0.5625 0.5625]]"]
    assert out[4:10] == out[1:4] * 2
    assert out[10:] == ["[1, 375, 250, 64]", "pool: (1, 375, 250, 64)"]


def test_without_weights_the_kernels_are_xavier_and_bilinear():
    result = run_script()
    limit = np.sqrt(6 / (27 + 576))
    conv = result.kernels["conv_kernel"]
    assert np.abs(conv).max() <= limit and np.abs(conv).max() > 0.9 * limit
    deconv = result.kernels["deconv_kernel"]
    np.testing.assert_array_equal(deconv[:, :, 0, 0], np.float32([[0.0625, 0.1875, 0.1875],
                                                                  [0.1875, 0.5625, 0.5625],
                                                                  [0.1875, 0.5625, 0.5625]]))
    assert np.count_nonzero(deconv[:, :, :, 3:]) == 0


def test_relative_files_resolve_against_the_script_folder(tmp_path, monkeypatch):
    folder = tmp_path / "scripts"
    folder.mkdir()
    np.save(folder / "x.npy", np.arange(6, dtype=np.float32))
    script = _write_script(folder, """
        import numpy as np
        import tensorflow as tf
        x = tf.constant(np.load('x.npy'))
        with tf.Session() as sess:
            print(sess.run(tf.reduce_sum(x)))
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_script(script)
    assert float(result.runs[0]) == 15.0
    assert (tmp_path / "elsewhere").samefile(".")  # the working folder is restored


def test_compat_v1_scripts_and_global_switches_stay_confined(tmp_path):
    from tensorflow.python import tf2 as tf2_behavior

    script = _write_script(tmp_path, """
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        tf.disable_eager_execution()
        assert not tf.executing_eagerly()
        x = tf.placeholder(tf.float32, [2])
        with tf.Session() as sess:
            sess.run(x * 2, feed_dict={x: [1.0, 2.0]})
    """)
    result = run_script(script)
    np.testing.assert_array_equal(result.runs[0], np.float32([2.0, 4.0]))  # recorded
    assert tf.executing_eagerly() and tf2_behavior.enabled()


def test_an_unclosed_session_is_read_and_closed(tmp_path):
    script = _write_script(tmp_path, """
        import tensorflow as tf
        a = tf.get_variable('a', [3, 3, 3, 64], initializer=tf.zeros_initializer())
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
    """)
    result = run_script(script)
    assert sorted(result.kernels) == ["conv_kernel"]
    assert not result.kernels["conv_kernel"].any()


# --- tf.contrib ---------------------------------------------------------------


def _draw(initializer, shape, seed=3):
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(seed)
        value = initializer(shape)
        with tf.compat.v1.Session() as sess:
            return sess.run(value)


def test_xavier_uniform_is_glorot_uniform():
    shape = [3, 3, 3, 64]
    drawn = _draw(contrib_xavier_initializer(seed=5), shape)
    glorot = _draw(lambda s: tf.compat.v1.glorot_uniform_initializer(seed=5)(s), shape)
    # Same op (random_uniform) and seeds; the bound is computed as
    # sqrt(3 * factor / n) here and sqrt(3 * (scale / n)) there, which may
    # differ in the last bit, so compare within one float32 rounding.
    np.testing.assert_allclose(drawn, glorot, rtol=2e-7, atol=0)
    assert np.abs(drawn).max() <= np.sqrt(6 / (27 + 576))


def test_xavier_not_uniform_is_contribs_truncated_normal():
    shape = [3, 3, 64, 64]  # fan_in = fan_out = 576
    drawn = _draw(contrib_xavier_initializer(uniform=False), shape)
    stddev = np.sqrt(1.3 / 576)  # contrib's sqrt(1.3 * factor / n)
    assert np.abs(drawn).max() <= 2 * stddev  # truncated at 2 standard deviations
    # A normal truncated at 2 sigma has standard deviation 0.8796 sigma.
    assert abs(drawn.std() / (0.87962566 * stddev) - 1) < 0.03


def test_variance_scaling_defaults_are_he_truncated_normal():
    shape = [3, 3, 64, 64]
    drawn = _draw(contrib_variance_scaling_initializer(), shape)
    stddev = np.sqrt(1.3 * 2.0 / 576)  # factor 2, FAN_IN
    assert np.abs(drawn).max() <= 2 * stddev
    assert abs(drawn.std() / (0.87962566 * stddev) - 1) < 0.03
    uniform = _draw(contrib_variance_scaling_initializer(1.0, "FAN_OUT", uniform=True), shape)
    assert np.abs(uniform).max() <= np.sqrt(3.0 / 576)
    with pytest.raises(TypeError, match="Unknown mode"):
        contrib_variance_scaling_initializer(mode="fan_in")
    with pytest.raises(TypeError, match="non-floating"):
        contrib_variance_scaling_initializer(dtype=tf.int32)


def test_contrib_names_reachable_as_a_script_writes_them(tmp_path):
    script = _write_script(tmp_path, """
        import tensorflow as tf
        from tensorflow.contrib.layers import variance_scaling_initializer
        import tensorflow.contrib.layers as layers
        w = tf.get_variable('w', [4, 4], initializer=layers.xavier_initializer_conv2d())
        v = tf.get_variable('v', [4, 4], initializer=variance_scaling_initializer())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run([w, v])
    """)
    result = run_script(script)
    assert [a.shape for a in result.runs[1]] == [(4, 4), (4, 4)]


@pytest.mark.parametrize("line", ["tf.contrib.slim.conv2d", "tf.contrib.layers.conv2d",
                                  "__import__('tensorflow.contrib.rnn')"])
def test_unsupported_contrib_name_stops_with_one_line(tmp_path, capsys, line):
    script = _write_script(tmp_path, f"import tensorflow as tf\nx = {line}\n")
    with pytest.raises(UnsupportedContribError, match=r"script.py line 2: tf\.contrib\."):
        run_script(script)
    assert main([str(script)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "tf.contrib." in err and "is not supported" in err


# --- the command line -----------------------------------------------------------


def test_cli_dump_and_save(tmp_path, kernels, capsys):
    weights = tmp_path / "w.npz"
    save_weights(weights, **kernels)
    dump, picture = tmp_path / "o.npz", tmp_path / "o.png"
    assert main(["--weights", str(weights), "--dump", str(dump), "--save", str(picture),
                 "--no-show"]) == 0
    assert capsys.readouterr().out.startswith("(750, 500, 3)\n")
    with np.load(dump, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["conv_kernel", "deconv_kernel", "display", "run_1"]
        np.testing.assert_array_equal(archive["conv_kernel"], kernels["conv_kernel"])
        assert archive["display"].shape == (750, 500, 3)
    assert picture.read_bytes()[:8] == PNG_MAGIC


def test_cli_show_without_a_window_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import matplotlib

    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    script = _write_script(tmp_path, "import matplotlib.pyplot as plt\nplt.show()\n")
    assert main([str(script), "--show"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open a window" in err


@pytest.mark.parametrize("case", ["missing", "folder", "syntax", "raises", "bad_weights",
                                  "no_variable", "same_file"])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, case):
    dump = tmp_path / "keep.npz"
    dump.write_bytes(b"old")
    good = _write_script(tmp_path, "import tensorflow as tf\n")
    argv = {
        "missing": [str(tmp_path / "nope.py")],
        "folder": [str(tmp_path)],
        "syntax": [str(_write_script(tmp_path, "def f(:\n", "bad.py"))],
        "raises": [str(_write_script(tmp_path, "x = 1\nraise RuntimeError('boom\\nmore')\n",
                                     "raises.py"))],
        "bad_weights": [str(good), "--weights", str(good)],
        "no_variable": [str(good), "--weights", str(tmp_path / "w.npz")],
        "same_file": [str(good), "--save", str(dump)],
    }[case]
    save_weights(tmp_path / "w.npz", np.zeros((3, 3, 3, 64), np.float32),
                 np.zeros((3, 3, 3, 64), np.float32))
    assert main(argv + ["--dump", str(dump)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("legacy_tf1.original: error: ")
    assert "Traceback" not in err
    if case == "raises":
        assert "raises.py line 2: RuntimeError: boom more" in err
    if case == "no_variable":
        assert "no variable named ['a', 'a1']" in err
    assert dump.read_bytes() == b"old"


@pytest.mark.e2e
def test_cli_subprocess_from_another_folder(tmp_path, subprocess_env):
    dump = tmp_path / "d.npz"
    proc = subprocess.run([sys.executable, "-m", "legacy_tf1.original", "--no-show",
                           "--dump", str(dump)], cwd=tmp_path, env={
                               **subprocess_env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "pool: (1, 375, 250, 64)"
    assert "Traceback" not in proc.stderr
    with np.load(dump) as archive:
        assert archive["display"].shape == (750, 500, 3)


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("legacy_tf1.original 0.1.0 (TensorFlow 2.21")
    assert main(["--help"]) == 0
    assert "--weights" in capsys.readouterr().out
