"""TF1 checkpoint <-> Keras .weights.h5 of tf2.build_keras_demo, both ways, bit for bit."""

import h5py
import numpy as np
import pytest
import tensorflow as tf

from legacy_tf1.graph import build_graph
from migration_audit.checkpoints import read_tf1_checkpoint, save_tf1_checkpoint
from migration_audit.cli import main
from migration_audit.keras_checkpoints import (KERAS_H5_KEYS, convert_keras_to_tf1,
                                               convert_tf1_to_keras, plan_keras_to_tf1)
from tf2.keras_model import build_keras_demo, keras_kernels

IMAGES = np.random.default_rng(5).uniform(0, 255, (1, 7, 5, 3)).astype(np.float32)


def _kernels(seed=9):
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
            for n in ("conv_kernel", "deconv_kernel")}


@pytest.fixture
def tf1_checkpoint(tmp_path):
    kernels = _kernels()
    prefix, results = save_tf1_checkpoint(tmp_path / "tf1" / "model.ckpt", IMAGES,
                                          weights=kernels)
    return prefix, kernels, results


def test_keras_weights_file_keys_are_the_ones_mapped(tmp_path):
    path = tmp_path / "m.weights.h5"
    build_keras_demo(seed=0).save_weights(path)
    with h5py.File(path, "r") as f:
        keys = []
        f.visititems(lambda name, obj: keys.append(name) if isinstance(obj, h5py.Dataset)
                     else None)
    assert sorted(keys) == sorted(KERAS_H5_KEYS.values())


def test_tf1_to_keras_to_tf1_round_trip_bit_for_bit(tmp_path, tf1_checkpoint):
    prefix, kernels, results = tf1_checkpoint
    h5 = tmp_path / "demo.weights.h5"
    plan = convert_tf1_to_keras(prefix, h5)
    assert [(s, t) for s, t, _, _ in plan.mapping] == [("a", KERAS_H5_KEYS["conv_kernel"]),
                                                       ("a1", KERAS_H5_KEYS["deconv_kernel"])]
    assert [name for name, _, _ in plan.unexpected] == ["Variable"]
    model = build_keras_demo(seed=1)
    model.load_weights(h5)
    for name, value in keras_kernels(model).items():
        np.testing.assert_array_equal(kernels[name], value)  # copied values, no arithmetic
    # Same kernels, same ops (tests/test_tf2_keras_model.py), same process.
    np.testing.assert_array_equal(results["output"], np.asarray(model(IMAGES)["output"]))
    back = tmp_path / "back" / "model.ckpt"
    back.parent.mkdir()
    convert_keras_to_tf1(h5, back)
    found = read_tf1_checkpoint(back)
    for name, value in found.kernels.items():
        np.testing.assert_array_equal(kernels[name], value)
    assert found.ignored == {}


def test_keras_checkpoint_restores_into_the_original_graph(tmp_path):
    kernels = _kernels(3)
    h5 = tmp_path / "k.weights.h5"
    build_keras_demo(**kernels).save_weights(h5)
    prefix = tmp_path / "tf1"
    convert_keras_to_tf1(h5, prefix)
    with tf.Graph().as_default() as graph:
        stages = build_graph(IMAGES)
        saver = tf.compat.v1.train.Saver(var_list={"a": stages.conv_kernel,
                                                   "a1": stages.deconv_kernel})
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.restore(sess, str(prefix))
            conv, deconv = sess.run([stages.conv_kernel, stages.deconv_kernel])
    np.testing.assert_array_equal(kernels["conv_kernel"], conv)
    np.testing.assert_array_equal(kernels["deconv_kernel"], deconv)


def test_cli_prints_the_plan_before_writing(tmp_path, tf1_checkpoint, capsys):
    prefix, _, _ = tf1_checkpoint
    h5 = tmp_path / "out.weights.h5"
    assert main(["convert-checkpoint", prefix, str(h5)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "  map: a -> layers/conv2d/vars/0 [3, 3, 3, 64] float32",
        "  map: a1 -> layers/conv2d_transpose/vars/0 [3, 3, 3, 64] float32",
        "  missing: none",
        "  unexpected (not written): Variable [1, 7, 5, 3] float32",
        "  mismatched: none",
        f"wrote {h5}",
    ]
    assert main(["convert-checkpoint", str(h5), str(tmp_path / "again")]) == 0
    assert "unexpected (not written): none" in capsys.readouterr().out
    np.testing.assert_array_equal(read_tf1_checkpoint(tmp_path / "again").kernels["conv_kernel"],
                                  read_tf1_checkpoint(prefix).kernels["conv_kernel"])


def _write_h5(path, datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)


@pytest.mark.parametrize("case", ["missing_src", "not_h5", "mismatched", "missing_key",
                                  "nan", "bad_suffix"])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, tf1_checkpoint, capsys, case):
    prefix, kernels, _ = tf1_checkpoint
    good = {KERAS_H5_KEYS[n]: v for n, v in kernels.items()}
    src = tmp_path / "src.weights.h5"
    dst = tmp_path / "dst"
    if case == "not_h5":
        src.write_text("not hdf5")
    elif case == "mismatched":
        _write_h5(src, {**good, KERAS_H5_KEYS["conv_kernel"]: np.zeros((3, 3, 64, 3), "f4")})
    elif case == "missing_key":
        _write_h5(src, {KERAS_H5_KEYS["conv_kernel"]: kernels["conv_kernel"],
                        "layers/dense/vars/0": np.zeros(2, "f4")})
    elif case == "nan":
        _write_h5(src, {**good, KERAS_H5_KEYS["deconv_kernel"]: np.full((3, 3, 3, 64), np.nan,
                                                                          "f4")})
    argv = ["convert-checkpoint", str(src), str(dst)]
    if case == "bad_suffix":
        argv = ["convert-checkpoint", prefix, str(tmp_path / "out.h5")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    expected = {"missing_src": "not found", "not_h5": "Not an HDF5",
                "mismatched": "layers/conv2d/vars/0 is [3, 3, 64, 3] float32, expected "
                              "[3, 3, 3, 64] float32",
                "missing_key": "a1 (no 'layers/conv2d_transpose/vars/0' in the file)",
                "nan": "NaN or Inf", "bad_suffix": "must end in .weights.h5"}[case]
    assert expected in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("dst", "out"))) == []


def test_plan_lists_unexpected_datasets(tmp_path):
    kernels = _kernels()
    src = tmp_path / "x.weights.h5"
    _write_h5(src, {**{KERAS_H5_KEYS[n]: v for n, v in kernels.items()},
                    "layers/dense/vars/0": np.zeros(2, "f4")})
    plan = plan_keras_to_tf1(src, tmp_path / "y")
    assert plan.ok and plan.unexpected == [("layers/dense/vars/0", (2,), "float32")]
