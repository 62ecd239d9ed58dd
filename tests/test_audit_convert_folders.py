"""`convert-checkpoint` makes DST's missing folders, as TensorFlow's Saver does.

Every direction (TF1 -> TF2, TF1 -> Keras, Keras -> TF1) into folders that
do not exist yet; a refused conversion removes the folders it made; the
source is never overwritten.
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from migration_audit.checkpoints import read_tf1_checkpoint, save_tf1_checkpoint
from migration_audit.cli import main
from tf2.demo import DeconvDemo

IMAGE = np.random.default_rng(0).uniform(0, 255, (1, 5, 4, 3)).astype(np.float32)


@pytest.fixture
def tf1_prefix(tmp_path):
    prefix, _ = save_tf1_checkpoint(tmp_path / "tf1" / "model.ckpt", IMAGE, seed=3)
    return prefix


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def test_tf1_to_tf2_into_new_folders(tf1_prefix, tmp_path, capsys):
    dst = tmp_path / "new" / "deeper" / "model"
    assert main(["convert-checkpoint", tf1_prefix, str(dst)]) == 0
    assert f"-> {dst}:" in capsys.readouterr().out
    demo = DeconvDemo(seed=0)
    tf.train.Checkpoint(demo=demo).read(str(dst)).assert_existing_objects_matched()
    kernels = read_tf1_checkpoint(tf1_prefix).kernels
    # A copy of the same float32 values: bit-identical.
    np.testing.assert_array_equal(demo.conv_kernel.numpy(), kernels["conv_kernel"])
    np.testing.assert_array_equal(demo.deconv_kernel.numpy(), kernels["deconv_kernel"])
    assert _tree(tmp_path / "new") == ["deeper", "deeper/model.data-00000-of-00001",
                                       "deeper/model.index"]


def test_tf1_to_keras_and_back_into_new_folders(tf1_prefix, tmp_path):
    h5 = tmp_path / "k" / "demo.weights.h5"
    back = tmp_path / "back" / "model.ckpt"
    assert main(["convert-checkpoint", tf1_prefix, str(h5)]) == 0
    assert main(["convert-checkpoint", str(h5), str(back)]) == 0
    before, after = read_tf1_checkpoint(tf1_prefix).kernels, read_tf1_checkpoint(back).kernels
    for name in ("conv_kernel", "deconv_kernel"):
        np.testing.assert_array_equal(before[name], after[name])  # copies of float32 values


def test_a_refused_conversion_removes_the_folders_it_made(tmp_path, capsys):
    missing_src = tmp_path / "no-such.ckpt"
    assert main(["convert-checkpoint", str(missing_src), str(tmp_path / "a" / "b" / "out")]) == 2
    assert main(["convert-checkpoint", str(missing_src), str(tmp_path / "c" / "x.weights.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Checkpoint not found" in err
    assert _tree(tmp_path) == []


def test_never_overwrites_its_source(tf1_prefix, capsys):
    before = Path(f"{tf1_prefix}.index").read_bytes()
    assert main(["convert-checkpoint", tf1_prefix, tf1_prefix]) == 2
    assert "is the source checkpoint itself" in capsys.readouterr().err
    assert Path(f"{tf1_prefix}.index").read_bytes() == before
