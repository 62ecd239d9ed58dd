"""Checkpoints across the migration, both ways, and `convert-checkpoint`.

A TF1 checkpoint is what the original's `tf.compat.v1.train.Saver()` writes
(`Variable` = the image, `a`, `a1`); a TF2 checkpoint is
`tf.train.Checkpoint(demo=DeconvDemo)`. After loading either way the outputs
are compared bit for bit (the forward-parity tests show the two ports
bit-identical for equal kernels, so any difference would be the loading).
"""

import doctest
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from deconv_io import InputError
from legacy_tf1.graph import build_graph
from migration_audit import checkpoints
from migration_audit.checkpoints import (
    convert_tf1_to_tf2,
    load_tf1_checkpoint,
    read_tf1_checkpoint,
    restore_tf2_checkpoint_in_graph,
    save_tf1_checkpoint,
    save_tf2_checkpoint,
    tf2_checkpoint,
    tf2_key,
)
from migration_audit.cli import main
from tf2.demo import DeconvDemo

REPO = Path(__file__).resolve().parents[1]
IMAGE = np.random.default_rng(0).uniform(0, 255, (1, 7, 5, 3)).astype(np.float32)
RANDOM_DECONV = np.random.default_rng(1).uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
STAGES = ("conv1", "pool", "output")


@pytest.fixture
def tf1_checkpoint(tmp_path):
    """The original graph (seed 3, a random deconv kernel), saved by Saver()."""
    prefix, results = save_tf1_checkpoint(tmp_path / "model.ckpt", IMAGE, seed=3,
                                          weights={"deconv_kernel": RANDOM_DECONV})
    return prefix, results


def _files(prefix):
    prefix = Path(prefix)
    return sorted(p.name for p in prefix.parent.glob(prefix.name + ".*"))


def _save_bad(prefix, **variables):
    """A name-based checkpoint holding exactly `variables` (eager Saver)."""
    var_list = {name: tf.Variable(value) for name, value in variables.items()}
    return tf.compat.v1.train.Saver(var_list=var_list).save(None, str(prefix))


def test_tf1_checkpoint_holds_the_original_names(tf1_checkpoint):
    prefix, results = tf1_checkpoint
    # Kept quirk: the image is a global variable, so Saver() saves it too.
    assert tf.train.list_variables(prefix) == [
        ("Variable", [1, 7, 5, 3]), ("a", [3, 3, 3, 64]), ("a1", [3, 3, 3, 64])]
    reader = tf.train.load_checkpoint(prefix)
    np.testing.assert_array_equal(IMAGE, reader.get_tensor("Variable"))
    np.testing.assert_array_equal(results["conv_kernel"], reader.get_tensor("a"))
    np.testing.assert_array_equal(RANDOM_DECONV, reader.get_tensor("a1"))


def test_tf1_checkpoint_loads_into_tf2_module(tf1_checkpoint):
    prefix, results = tf1_checkpoint
    demo = DeconvDemo(seed=99)  # other kernels, overwritten by the load
    found = load_tf1_checkpoint(demo, prefix)
    assert found.ignored == {"Variable": ((1, 7, 5, 3), "float32")}
    np.testing.assert_array_equal(results["conv_kernel"], demo.conv_kernel.numpy())
    np.testing.assert_array_equal(results["deconv_kernel"], demo.deconv_kernel.numpy())
    outputs = demo(IMAGE)
    for stage in STAGES:
        np.testing.assert_array_equal(results[stage], outputs[stage].numpy(), err_msg=stage)


def test_tf1_checkpoint_also_restores_with_the_guides_saver_var_list(tf1_checkpoint):
    # The guide's other route: an eager Saver whose var_list maps the TF1
    # names onto the module's variables.
    prefix, results = tf1_checkpoint
    demo = DeconvDemo(seed=99)
    saver = tf.compat.v1.train.Saver(var_list={"a": demo.conv_kernel, "a1": demo.deconv_kernel})
    saver.restore(None, prefix)
    np.testing.assert_array_equal(results["output"], demo(IMAGE)["output"].numpy())


def test_tf2_checkpoint_loads_into_tf1_graph(tmp_path):
    demo = DeconvDemo(seed=5, deconv_kernel=RANDOM_DECONV)
    prefix = save_tf2_checkpoint(demo, tmp_path / "tf2")
    assert _files(prefix) == ["tf2.data-00000-of-00001", "tf2.index"]
    keys = dict(tf.train.list_variables(prefix))
    assert keys[tf2_key("conv_kernel")] == keys[tf2_key("deconv_kernel")] == [3, 3, 3, 64]
    with tf.Graph().as_default() as graph:
        stages = build_graph(IMAGE, seed=11)  # other kernels, overwritten
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            restore_tf2_checkpoint_in_graph(sess, stages, prefix)
            results = sess.run({name: getattr(stages, name) for name in
                                ("image", "conv_kernel", "deconv_kernel") + STAGES})
    np.testing.assert_array_equal(demo.conv_kernel.numpy(), results["conv_kernel"])
    np.testing.assert_array_equal(RANDOM_DECONV, results["deconv_kernel"])
    np.testing.assert_array_equal(IMAGE, results["image"])  # not in the TF2 checkpoint
    outputs = demo(IMAGE)
    for stage in STAGES:
        np.testing.assert_array_equal(outputs[stage].numpy(), results[stage], err_msg=stage)


def test_tf2_checkpoint_round_trip_in_tf2(tmp_path):
    demo = DeconvDemo(seed=5)
    prefix = save_tf2_checkpoint(demo, tmp_path / "ckpt")
    other = DeconvDemo(seed=6)
    tf2_checkpoint(other).read(prefix).assert_consumed()
    np.testing.assert_array_equal(demo.conv_kernel.numpy(), other.conv_kernel.numpy())


def test_convert_checkpoint_command(tf1_checkpoint, tmp_path, capsys):
    prefix, results = tf1_checkpoint
    dst = tmp_path / "out" / "converted"
    dst.parent.mkdir()
    assert main(["convert-checkpoint", prefix, str(dst)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"converted {prefix} -> {dst}: a -> conv_kernel, a1 -> deconv_kernel "
        "(float32 [3, 3, 3, 64])",
        "ignored: 'Variable' [1, 7, 5, 3] float32, present in SRC (the original's image "
        "variable; the TF2 module takes the image as input)",
    ]
    assert _files(dst) == ["converted.data-00000-of-00001", "converted.index"]
    demo = DeconvDemo(seed=99)
    tf2_checkpoint(demo).read(str(dst)).assert_consumed()
    np.testing.assert_array_equal(results["output"], demo(IMAGE)["output"].numpy())


def test_convert_checkpoint_reads_a_folder_and_reports_other_variables(tmp_path, capsys):
    # A folder resolves to its latest checkpoint; extra variables (a global
    # step here) are named and ignored.
    zeros = np.zeros((3, 3, 3, 64), np.float32)
    _save_bad(tmp_path / "ckpts" / "model", a=zeros, a1=zeros, global_step=np.int64(7))
    found = convert_tf1_to_tf2(tmp_path / "ckpts", tmp_path / "converted")
    assert found.prefix == str(tmp_path / "ckpts" / "model")
    assert found.ignored == {"global_step": ((), "int64")}
    assert main(["convert-checkpoint", str(tmp_path / "ckpts"), str(tmp_path / "again")]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "ignored: 'global_step' [] int64, present in SRC (not a variable of the TF2 module)")


KERNEL = np.zeros((3, 3, 3, 64), np.float32)
BAD_SOURCES = {
    "missing": (None, r"Checkpoint not found: .*missing \(expected the prefix of "),
    "missing-variable": ({"a": KERNEL},
                         r"lacks variable\(s\) \['a1'\] of the original graph"),
    "mis-shaped": ({"a": np.zeros((3, 3, 3, 32), np.float32), "a1": KERNEL},
                   r"Checkpoint variable 'a' \(conv_kernel\) must have shape \(3, 3, 3, 64\)\. "
                   r"Received: shape=\(3, 3, 3, 32\)"),
    "wrong-dtype": ({"a": KERNEL, "a1": KERNEL.astype(np.float64)},
                    r"Checkpoint variable 'a1' \(deconv_kernel\) must be float32\. "
                    r"Received: dtype=float64"),
    "non-finite": ({"a": np.full_like(KERNEL, np.nan), "a1": KERNEL},
                   r"Checkpoint variable 'a' \(conv_kernel\) contains NaN or Inf"),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_convert_checkpoint_bad_source_exits_2(case, tmp_path, capsys):
    variables, pattern = BAD_SOURCES[case]
    src = tmp_path / case
    if variables is not None:
        _save_bad(src, **variables)
    dst = tmp_path / "converted"
    with pytest.raises(InputError, match=pattern):
        read_tf1_checkpoint(src)
    assert main(["convert-checkpoint", str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("migration_audit: error: ") and err.count("\n") == 1
    assert re.search(pattern, err)
    assert _files(dst) == []  # nothing written


def test_convert_checkpoint_recognises_a_tf2_checkpoint(tmp_path, capsys):
    prefix = save_tf2_checkpoint(DeconvDemo(seed=1), tmp_path / "tf2")
    assert main(["convert-checkpoint", prefix, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "lacks variable(s) ['a', 'a1']" in err
    assert "(this looks like a TF2 object-based checkpoint of the module)" in err


def test_convert_checkpoint_corrupt_index_exits_2(tmp_path, capsys):
    (tmp_path / "bad.index").write_bytes(b"not a checkpoint index" * 4)
    assert main(["convert-checkpoint", str(tmp_path / "bad"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"migration_audit: error: Cannot read checkpoint {tmp_path / 'bad'}: ")
    assert err.count("\n") == 1


def test_convert_checkpoint_missing_data_file_exits_2(tf1_checkpoint, tmp_path, capsys):
    # The .index alone reads; the missing data shows only when a tensor is read.
    prefix, _ = tf1_checkpoint
    for data in Path(prefix).parent.glob(Path(prefix).name + ".data-*"):
        data.unlink()
    assert main(["convert-checkpoint", prefix, str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"migration_audit: error: Cannot read checkpoint {prefix}: ")
    assert "No such file or directory" in err and err.count("\n") == 1
    assert _files(tmp_path / "out") == []


def test_convert_checkpoint_bad_destination_exits_2(tf1_checkpoint, tmp_path, capsys):
    prefix, _ = tf1_checkpoint
    (tmp_path / "a-file").write_text("")
    blocked = tmp_path / "a-file" / "sub" / "out"  # a file where a folder must be made
    assert main(["convert-checkpoint", prefix, str(blocked)]) == 2
    assert capsys.readouterr().err == (
        f"migration_audit: error: DST {blocked}: cannot create folder {blocked.parent}: "
        "Not a directory\n")
    before = Path(f"{prefix}.index").read_bytes()
    assert main(["convert-checkpoint", prefix, prefix]) == 2
    assert "is the source checkpoint itself" in capsys.readouterr().err
    assert Path(f"{prefix}.index").read_bytes() == before


def test_convert_checkpoint_usage_errors_exit_2(capsys):
    assert main(["convert-checkpoint"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("migration_audit convert-checkpoint: error: the following arguments "
                          "are required: SRC, DST")
    assert err.count("\n") == 1
    assert main(["convert-checkpoint", "--help"]) == 0
    assert "a -> conv_kernel" in capsys.readouterr().out


def test_convert_checkpoint_subprocess_exit_status(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "migration_audit", "convert-checkpoint", str(tmp_path / "nope"),
         str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 2
    # Refused before TensorFlow is imported: one line, nothing else.
    assert done.stderr.startswith(
        f"migration_audit: error: Checkpoint not found: {tmp_path / 'nope'}")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_doctests():
    from migration_audit import checkpoint_files

    for module in (checkpoints, checkpoint_files):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted >= 1, module.__name__


# --- the DST contract (issue 13) ----------------------------------------------------

@pytest.mark.parametrize("slash", ["", "/"])
def test_convert_checkpoint_into_an_existing_folder_writes_ckpt_inside(tf1_checkpoint, tmp_path,
                                                                        capsys, slash):
    prefix, results = tf1_checkpoint
    folder = tmp_path / "converted"
    folder.mkdir()
    assert main(["convert-checkpoint", prefix, f"{folder}{slash}"]) == 0
    assert capsys.readouterr().out.startswith(f"converted {prefix} -> {folder / 'ckpt'}: ")
    assert sorted(p.name for p in folder.iterdir()) == ["ckpt.data-00000-of-00001",
                                                        "ckpt.index"]
    assert not Path(f"{folder}.index").exists()  # not beside the folder
    demo = DeconvDemo(seed=99)
    tf2_checkpoint(demo).read(str(folder / "ckpt")).assert_consumed()
    np.testing.assert_array_equal(results["output"], demo(IMAGE)["output"].numpy())


def test_convert_checkpoint_replaces_an_existing_checkpoint(tf1_checkpoint, tmp_path):
    prefix, results = tf1_checkpoint
    dst = tmp_path / "dst"
    save_tf2_checkpoint(DeconvDemo(seed=5), dst)
    assert main(["convert-checkpoint", prefix, str(dst)]) == 0
    demo = DeconvDemo(seed=99)
    tf2_checkpoint(demo).read(str(dst)).assert_consumed()
    np.testing.assert_array_equal(results["output"], demo(IMAGE)["output"].numpy())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left


@pytest.mark.parametrize("dst, message", [
    ("", "DST is empty: expected a checkpoint prefix such as out/ckpt"),
    ("{t}/nowhere/", "DST {t}/nowhere/: folder {t}/nowhere does not exist"),
])
def test_convert_checkpoint_refuses_empty_and_missing_folder_dst(tf1_checkpoint, tmp_path,
                                                                 capsys, dst, message):
    prefix, _ = tf1_checkpoint
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["convert-checkpoint", prefix, dst.format(t=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"migration_audit: error: {message.format(t=tmp_path)}")
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_convert_checkpoint_garbage_state_file_is_one_clear_line(tf1_checkpoint, tmp_path,
                                                                 capsys):
    (tmp_path / "checkpoint").write_text("garbage {{{\n")
    assert main(["convert-checkpoint", str(tmp_path), str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"migration_audit: error: The 'checkpoint' file in {tmp_path} is not a checkpoint "
        "state (no model_checkpoint_path line)\n")


def test_convert_checkpoint_relative_state_file_path(tf1_checkpoint, tmp_path):
    prefix, _ = tf1_checkpoint
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt"\n')
    assert checkpoints.checkpoint_source(tmp_path) == str(tmp_path / "model.ckpt")
    assert main(["convert-checkpoint", str(tmp_path), str(tmp_path / "out")]) == 0


def test_convert_checkpoint_removes_the_scratch_folder_a_killed_run_left(tf1_checkpoint,
                                                                          tmp_path):
    prefix, _ = tf1_checkpoint
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".dst.0123456789ab.tmp"  # a conversion to out/dst killed mid-write
    stale.mkdir()
    (stale / "ckpt.data-00000-of-00001").write_bytes(b"half")
    assert main(["convert-checkpoint", prefix, str(out / "dst")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["dst.data-00000-of-00001", "dst.index"]
