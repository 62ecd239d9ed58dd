"""BilinearUpsample2D traced and exported with unknown height and width.

`keras.Input((None, None, C))` -> the layer -> `model.export` -> reload ->
serve, for factors 2, 3 and 4 and both borders, on the backend this process
runs (TensorFlow in-process; `test_the_same_export_works_on_the_jax_backend`
runs this file again with `KERAS_BACKEND=jax`, where Keras exports through
jax2tf with symbolic shapes). One model holds the six layers, so the suite
exports and loads once.
"""


import keras
import numpy as np
import pytest

from migration_audit import reference
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, conv2d_transpose_bound
from tests.conftest import assert_within, resize_bound, run_tests_on_jax
from tf2.kernels import bilinear_kernel, get_kernel_size
from tf2.layers import BilinearUpsample2D

BACKEND = keras.backend.backend()
CASES = [(factor, border) for factor in (2, 3, 4) for border in ("zeros", "clamp")]
#: Two sizes through one exported signature: odd sides, and 1x1 with batch > 1.
SHAPES = [(2, 5, 7, 3), (3, 1, 1, 3)]


def _name(factor, border):
    return f"up{factor}_{border}"


def _resize_shortcut(factor, border):
    """Where eager calls (static sizes) take the resize op and dynamic traces cannot."""
    return border == "clamp" and factor in (2, 4)


def _images(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _bound(x, factor, border):
    """float32 + float64 bound of the layer against the float64 reference."""
    if border == "clamp":
        return resize_bound(x, factor)
    k = get_kernel_size(factor)
    kernel = bilinear_kernel(k, x.shape[-1], dtype=np.float64)
    out_hw = (factor * x.shape[1], factor * x.shape[2])
    return (conv2d_transpose_bound(x, kernel, out_hw, factor)
            + conv2d_transpose_bound(x, kernel, out_hw, factor, FLOAT64_UNIT_ROUNDOFF))


def _reference(x, factor, border):
    if border == "clamp":
        return reference.bilinear_resize(x, factor)
    k = get_kernel_size(factor)
    return reference.conv2d_transpose_same(x, bilinear_kernel(k, x.shape[-1], dtype=np.float64),
                                           (factor * x.shape[1], factor * x.shape[2]),
                                           stride=factor)


@pytest.fixture(scope="module")
def model():
    inputs = keras.Input((None, None, 3))
    outputs = {_name(f, b): BilinearUpsample2D(f, border=b, data_format="channels_last",
                                               name=_name(f, b))(inputs) for f, b in CASES}
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def served(model, tmp_path_factory):
    import tensorflow as tf

    path = tmp_path_factory.mktemp("export") / "up"
    model.export(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))  # kept: its functions need the object alive
    results = []
    for i, shape in enumerate(SHAPES):
        x = _images(shape, seed=i)
        results.append((x, {k: np.asarray(v) for k, v in loaded.serve(x).items()}))
    return results


def test_the_output_shape_stays_unknown(model):
    for f, b in CASES:
        assert tuple(model.output[_name(f, b)].shape) == (None, None, None, 3)


@pytest.mark.parametrize("factor, border", CASES)
def test_served_outputs_equal_the_eager_ones(model, served, factor, border):
    name = _name(factor, border)
    for x, outputs in served:
        y = outputs[name]
        eager = keras.ops.convert_to_numpy(model(x)[name])
        assert y.shape == eager.shape == (x.shape[0], factor * x.shape[1], factor * x.shape[2], 3)
        bound = _bound(x, factor, border)
        # The export traced unknown sizes, so it took the polyphase form.
        assert_within(y, _reference(x, factor, border), bound, f"served {name} vs float64")
        if BACKEND == "tensorflow" and not _resize_shortcut(factor, border):
            # Bit-identical by construction: the same TensorFlow kernels
            # (concat, depthwise conv, reshape, transpose) on the same shapes
            # in one process and configuration, eager and from the SavedModel.
            np.testing.assert_array_equal(eager, y)
        else:
            # Eager with static sizes takes the resize op (clamp at 2 and 4),
            # and on JAX the export runs XLA's whole-graph compilation: two
            # witnesses, each within `bound` of the float64 reference.
            assert_within(y, eager, 2 * bound, f"served {name} vs eager")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function is TensorFlow's")
@pytest.mark.parametrize("factor, border", CASES)
def test_tf_function_with_a_none_signature(factor, border):
    import tensorflow as tf

    layer = BilinearUpsample2D(factor, border=border, data_format="channels_last")
    static = tf.function(layer)
    dynamic = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
    concrete = dynamic.get_concrete_function()
    assert concrete.output_shapes.as_list() == [None, None, None, 3]
    for i, shape in enumerate(SHAPES):
        x = _images(shape, seed=i)
        y = concrete(tf.constant(x)).numpy()
        # Same ops, same shapes, same process: bit-identical by construction
        # (a static-shape trace is eager's path, resize op included).
        np.testing.assert_array_equal(layer(x).numpy(), static(x).numpy())
        if _resize_shortcut(factor, border):
            assert_within(y, static(x).numpy(), 2 * _bound(x, factor, border),
                          "dynamic trace (polyphase) vs static trace (resize op)")
        else:
            np.testing.assert_array_equal(static(x).numpy(), y)  # the same ops, as above


@pytest.mark.skipif(BACKEND != "tensorflow", reason="spawns the JAX run from the TF run")
def test_the_same_export_works_on_the_jax_backend():
    stdout = run_tests_on_jax(__file__)
    # Only the TensorFlow-only tests skip: 6 tf.function cases and this one.
    assert "7 passed, 7 skipped" in stdout, stdout[-500:]
