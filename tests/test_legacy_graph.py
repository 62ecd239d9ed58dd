"""legacy_tf1.graph: the original graph, its variables, and its numbers.

Numbers are checked against the independent float64 reference
(`migration_audit.reference.demo_stages`) within the derived per-element
bound of `migration_audit.bounds`: every stage is a float32 computation of
float32 inputs; conv1 sums 27 products (3x3 window, 3 channels), the
transposed convolution at most 4 taps x 64 channels = 256 products per
output, and any order of such a sum is within gamma_n times the sum of
|products| of the exact value (conv1's error passed on through the pool).
A wrong tap, padding offset or channel is an O(1) error, far outside it.
"""

import doctest
import math

import numpy as np
import pytest
import tensorflow as tf

from deconv_io import DUMP_NAMES, default_image_path, load_image
from legacy_tf1 import graph as graph_module
from legacy_tf1.filters import fcn_bilinear_weights
from legacy_tf1.graph import build_graph, original_display_chain, run_session
from tests.conftest import assert_matches_reference

GLOROT_LIMIT = math.sqrt(6.0 / (27 + 576))  # fan_in 3*3*3, fan_out 3*3*64


def _image(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _assert_matches_reference(results):
    for name in ("conv1", "pool", "output"):
        assert results[name].dtype == np.float32, name
    assert_matches_reference(results["image"], results["conv_kernel"], results["deconv_kernel"],
                             results, ("conv1", "pool", "output"))


def test_packaged_750x500_image_matches_reference():
    # The requirement: the original's own image and size.
    image = load_image(default_image_path())
    results = run_session(image, seed=0)
    assert results["output"].shape == (1, 750, 500, 3)
    _assert_matches_reference(results)


@pytest.mark.parametrize("shape,out_hw", [
    ((1, 333, 517, 3), (334, 518)),
    ((1, 7, 5, 3), (8, 6)),
    ((1, 1, 1, 3), (2, 2)),
    ((2, 7, 5, 3), (8, 6)),
])
def test_odd_sizes_and_batches_match_reference(shape, out_hw):
    results = run_session(_image(shape), seed=1)
    assert results["output"].shape == (shape[0], *out_hw, 3)
    assert results["pool"].shape == (shape[0], *(s // 2 for s in out_hw), 64)
    _assert_matches_reference(results)


def test_non_bilinear_weights_match_reference_and_are_used():
    # A random deconv kernel makes every one of the 64 channels count.
    rng = np.random.default_rng(2)
    weights = {name: rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
               for name in ("conv_kernel", "deconv_kernel")}
    results = run_session(_image((1, 9, 6, 3)), seed=0, weights=weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(value, results[name])
    _assert_matches_reference(results)


def test_only_one_kernel_may_be_given():
    deconv = np.ones((3, 3, 3, 64), np.float32)
    drawn = run_session(_image((1, 3, 3, 3)), seed=5)
    loaded = run_session(_image((1, 3, 3, 3)), seed=5, weights={"deconv_kernel": deconv})
    np.testing.assert_array_equal(deconv, loaded["deconv_kernel"])
    np.testing.assert_array_equal(drawn["conv_kernel"], loaded["conv_kernel"])


def test_result_keys_image_and_display():
    image = _image((7, 5, 3))
    results = run_session(image, seed=0)
    assert set(results) == set(DUMP_NAMES) | {"display"}
    np.testing.assert_array_equal(image[np.newaxis], results["image"])
    # The original's transpose/squeeze/transpose chain is output[0] at batch 1.
    np.testing.assert_array_equal(results["output"][0], results["display"])


def test_batch_over_one_has_no_display_and_the_original_chain_fails():
    # Quirk: for N > 1 squeeze removes nothing and the 3-axis transpose of
    # a rank-4 tensor fails while building the graph.
    results = run_session(_image((2, 3, 3, 3)), seed=0)
    assert results["display"] is None and results["output"].shape == (2, 4, 4, 3)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=r"Dimension must be 4 but is 3"):
            original_display_chain(tf.zeros([2, 4, 4, 3]))


def test_variables_names_shapes_and_trainability():
    with tf.Graph().as_default():
        stages = build_graph(_image((2, 7, 5, 3)))
        global_vars = tf.compat.v1.global_variables()
        trainable = tf.compat.v1.trainable_variables()
    # Quirk: the image is a trainable global variable, named "Variable".
    assert [v.name for v in global_vars] == ["Variable:0", "a:0", "a1:0"]
    assert [v.name for v in trainable] == ["Variable:0", "a:0", "a1:0"]
    assert [v.shape.as_list() for v in global_vars] == [[2, 7, 5, 3], [3, 3, 3, 64],
                                                        [3, 3, 3, 64]]
    assert all(v.dtype == tf.float32 for v in global_vars)
    assert global_vars == [stages.image, stages.conv_kernel, stages.deconv_kernel]
    assert stages.display is None and stages.init_feed == {}


def test_deconv_kernel_is_the_fcn_bilinear_filter():
    results = run_session(_image((1, 3, 3, 3)))
    np.testing.assert_array_equal(fcn_bilinear_weights([3, 3, 3, 64]).astype(np.float32),
                                  results["deconv_kernel"])


def test_output_ignores_conv_channels_3_to_63():
    # Quirk: the bilinear deconv kernel is zero off its first 3 diagonal
    # entries, so conv channels 3..63 only ever meet exact zeros.
    image = _image((1, 7, 5, 3))
    first = run_session(image, seed=0)
    conv = first["conv_kernel"].copy()
    conv[..., 3:] = np.random.default_rng(3).uniform(-1, 1, conv[..., 3:].shape)
    second = run_session(image, weights={"conv_kernel": conv})
    np.testing.assert_array_equal(first["output"], second["output"])


def test_glorot_uniform_bound_and_spread():
    kernel = run_session(_image((1, 1, 1, 3)), seed=3)["conv_kernel"]
    assert np.abs(kernel).max() <= GLOROT_LIMIT
    # 1728 uniform draws: the extremes lie within 1% of the limits with
    # probability 1 - 2 * 0.995**1728 > 0.9996, and the sample standard
    # deviation is within 10% of limit / sqrt(3) far beyond that.
    assert kernel.max() > 0.99 * GLOROT_LIMIT and kernel.min() < -0.99 * GLOROT_LIMIT
    np.testing.assert_allclose(GLOROT_LIMIT / math.sqrt(3), kernel.std(), rtol=0.1)


def test_same_seed_same_kernel_no_seed_new_draw():
    image = _image((1, 2, 2, 3))
    first = run_session(image, seed=42)
    again = run_session(image, seed=42)
    for name in DUMP_NAMES:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["conv_kernel"], run_session(image, seed=43)["conv_kernel"])
    # Like the original: without a seed each run draws a different kernel.
    unseeded = [run_session(image)["conv_kernel"] for _ in range(2)]
    assert not np.array_equal(*unseeded)


def test_fed_image_gives_the_same_graph_and_numbers():
    # The placeholder-fed initializer (used above EMBED_LIMIT values) keeps
    # the image out of the GraphDef and changes nothing else.
    image = _image((1, 33, 17, 3))
    embedded = run_session(image, seed=7, feed_image=False)
    fed = run_session(image, seed=7, feed_image=True)
    for name in DUMP_NAMES:
        np.testing.assert_array_equal(embedded[name], fed[name])
    sizes = {}
    for feed in (False, True):
        with tf.Graph().as_default() as g:
            stages = build_graph(image, feed_image=feed)
            assert stages.image.name == "Variable:0"
            assert [v.name for v in tf.compat.v1.trainable_variables()][0] == "Variable:0"
            sizes[feed] = g.as_graph_def().ByteSize()
    assert sizes[False] - sizes[True] >= image.nbytes


def test_large_images_are_fed_automatically(monkeypatch):
    monkeypatch.setattr(graph_module, "EMBED_LIMIT", 10)
    with tf.Graph().as_default():
        stages = build_graph(_image((1, 2, 2, 3)))
    assert len(stages.init_feed) == 1


def test_build_graph_refuses_eager_mode():
    with pytest.raises(RuntimeError, match=r"`build_graph` builds a TF1 graph .* "
                                           r"Received: tf.executing_eagerly\(\)=True"):
        build_graph(_image((1, 2, 2, 3)))


@pytest.mark.parametrize("image,match", [
    (np.zeros((4, 4)), r"Expected a non-empty \(H, W, 3\) or \(N, H, W, 3\) RGB array. "
                       r"Received: image.shape=\(4, 4\)"),
    (np.zeros((4, 4, 4)), r"Received: image.shape=\(4, 4, 4\)"),
    (np.zeros((1, 0, 4, 3)), r"Received: image.shape=\(1, 0, 4, 3\)"),
    (np.full((2, 2, 3), "x"), r"Expected a real numeric array. Received: image.dtype=<U1"),
])
def test_run_session_refuses_bad_images(image, match):
    with pytest.raises(ValueError, match=match):
        run_session(image)


@pytest.mark.parametrize("weights,match", [
    ({"kernel": np.zeros((3, 3, 3, 64))}, r"Received unexpected keys: \['kernel'\]"),
    ({"conv_kernel": np.zeros((3, 3, 3, 3))},
     r"weights\['conv_kernel'\]`. Expected an array of shape \(3, 3, 3, 64\). "
     r"Received: shape=\(3, 3, 3, 3\)"),
    ({"deconv_kernel": np.full((3, 3, 3, 64), np.nan)},
     r"weights\['deconv_kernel'\]`. Expected finite values. Received: an array with NaN"),
])
def test_run_session_refuses_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        run_session(_image((2, 2, 3)), weights=weights)


def test_docstring_examples():
    result = doctest.testmod(graph_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 3
