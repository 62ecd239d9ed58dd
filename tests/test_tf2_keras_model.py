"""tf2.keras_model: the demo as a Keras 3 model of standard layers."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from legacy_tf1.graph import build_graph, run_session
from tf2.kernels import bilinear_kernel
from tf2.keras_model import KERAS_LAYERS, build_keras_demo, keras_kernels, set_keras_kernels

SHAPES = [(1, 7, 5), (2, 1, 1), (3, 33, 17), (1, 8, 6), (1, 1, 4)]


def _kernels(seed=3):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
            for name in ("conv_kernel", "deconv_kernel")}


@pytest.mark.parametrize("shape", SHAPES)
def test_output_shape_is_the_originals_for_any_size(shape):
    n, h, w = shape
    model = build_keras_demo(seed=0)
    out = model(np.zeros((n, h, w, 3), np.float32))
    assert tuple(out["conv1"].shape) == (n, h, w, 64)
    assert tuple(out["pool"].shape) == (n, math.ceil(h / 2), math.ceil(w / 2), 64)
    assert tuple(out["output"].shape) == (n, 2 * math.ceil(h / 2), 2 * math.ceil(w / 2), 3)


@pytest.mark.parametrize("shape", SHAPES)
def test_stages_bit_identical_to_the_session(shape):
    images = np.random.default_rng(1).uniform(0, 255, shape + (3,)).astype(np.float32)
    kernels = _kernels()
    expected = run_session(images, weights=kernels)
    actual = build_keras_demo(**kernels)(images)
    # Bit-identical by construction: Keras's TensorFlow backend issues the same
    # three ops as the session (Conv2D, MaxPool, Conv2DBackpropInput, with the
    # same attributes: test_keras_model_runs_the_sessions_ops) on the same
    # shapes, inputs and kernels, in the same process and configuration.
    for stage in ("conv1", "pool", "output"):
        np.testing.assert_array_equal(expected[stage], np.asarray(actual[stage]))


def _op_signatures(graph):
    keep = {"Conv2D", "MaxPool", "Conv2DBackpropInput"}
    signatures = []
    for op in graph.get_operations():
        if op.type in keep:
            attrs = {k: op.get_attr(k) for k in ("strides", "padding", "data_format")}
            if op.type == "MaxPool":
                attrs["ksize"] = op.get_attr("ksize")
            signatures.append((op.type, repr(attrs)))
    return sorted(signatures)


def test_keras_model_runs_the_sessions_ops():
    model = build_keras_demo(seed=0)
    concrete = tf.function(model.call).get_concrete_function(
        tf.TensorSpec([1, 7, 5, 3], tf.float32))
    with tf.Graph().as_default() as graph:
        build_graph(np.zeros((1, 7, 5, 3), np.float32))
    keras_ops = _op_signatures(concrete.graph)
    assert [t for t, _ in keras_ops] == ["Conv2D", "Conv2DBackpropInput", "MaxPool"]
    assert keras_ops == _op_signatures(graph)


def test_default_kernels_are_glorot_and_the_originals_bilinear():
    model = build_keras_demo(seed=0)
    kernels = keras_kernels(model)
    np.testing.assert_array_equal(kernels["deconv_kernel"],
                                  bilinear_kernel(3, 3, mode="fcn", in_channels=64))
    limit = math.sqrt(6 / (27 + 576))
    assert 0.9 * limit < np.abs(kernels["conv_kernel"]).max() <= limit
    np.testing.assert_array_equal(kernels["conv_kernel"],
                                  keras_kernels(build_keras_demo(seed=0))["conv_kernel"])


def test_layers_are_standard_keras_layers():
    model = build_keras_demo(seed=0)
    conv, pool, up = (model.get_layer(n) for n in ("conv1", "pool", "output"))
    assert type(conv) is keras.layers.Conv2D and not conv.use_bias
    assert type(pool) is keras.layers.MaxPooling2D and pool.padding == "same"
    assert type(up) is keras.layers.Conv2DTranspose and up.strides == (2, 2)
    assert sorted(KERAS_LAYERS.values()) == ["conv1", "output"]


def test_set_kernels_checks_the_shape():
    model = build_keras_demo(seed=0)
    with pytest.raises(ValueError, match=r"Expected shape \(3, 3, 3, 64\)"):
        set_keras_kernels(model, conv_kernel=np.zeros((3, 3, 64, 3), np.float32))
    kernels = _kernels()
    set_keras_kernels(model, **kernels)
    for name, value in keras_kernels(model).items():
        np.testing.assert_array_equal(kernels[name], value)


def test_saved_keras_file_round_trip(tmp_path):
    kernels = _kernels()
    model = build_keras_demo(**kernels)
    path = tmp_path / "demo.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    images = np.random.default_rng(2).uniform(0, 255, (1, 9, 7, 3)).astype(np.float32)
    # The same layers and kernels computing the same ops in one process.
    np.testing.assert_array_equal(np.asarray(model(images)["output"]),
                                  np.asarray(loaded(images)["output"]))
