"""Gradient and training-step parity: the TF1 graph against the TF2 module.

Loss: `mean(output ** 2)`. Gradients with respect to both kernels and the
image (a trainable variable in the original, an input in TF2, watched as a
`tf.Variable` there):

- TF1: `tf.compat.v1.gradients` in the session; training with
  `tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(loss)`, whose
  default `var_list` is every trainable variable: the original would train
  the image too (kept quirk), so TF2 updates its image variable as well.
- TF2: `tf.GradientTape` around `DeconvDemo(...)(x, mode=...)`; training with
  `var.assign_sub(lr * grad)`, the very update `ApplyGradientDescent`
  performs (`var -= lr * grad`), with no optimizer state to map; Keras 3's
  `keras.optimizers.SGD` (no momentum) is checked too: it issues the same
  subtraction.

Measured bit-identical (gradients and the variables after 3 steps), so
asserted with `assert_array_equal`: the same gradient kernels
(Conv2DBackpropFilter/Input, MaxPoolGrad) run on the same float32 values.

Third witness: central finite differences of the float64 reference on a
2x3 image. The output is linear in each kernel and in the image away from
max-pool ties, so the loss is piecewise quadratic and a central difference
is exact up to float64 rounding (~eps * loss / h ~ 1e-11 here) as long as
the step h = 1e-5 switches no max-pool winner (h = 1e-3 did, for one entry:
results with h = 1e-5 and 1e-6 agree to 2e-9). The float32 gradients agree
within RTOL = 1e-5 of max |finite difference| (float32 sums of at most a
few hundred products: measured <= 2.1e-7).

Images are scaled to [0, 1] here so that one learning rate moves kernels
and image visibly (with 0..255 pixels the image's relative step is ~1e-7 of
the kernels': the ratio goes as (|w| / |x|) ** 2).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from legacy_tf1.graph import build_graph
from migration_audit import reference
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel

RTOL = 1e-5
STEPS = 3
NAMES = ("conv_kernel", "deconv_kernel", "image")
LIMIT = np.sqrt(6.0 / (27 + 576))


def _inputs(shape, seed, random_deconv):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, shape).astype(np.float32)
    conv = rng.uniform(-LIMIT, LIMIT, (3, 3, 3, 64)).astype(np.float32)
    deconv = (rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32) if random_deconv
              else bilinear_kernel(3, 3, mode="fcn", in_channels=64))
    return images, {"conv_kernel": conv, "deconv_kernel": deconv}


def _tf1(images, kernels, lr):
    """Loss, gradients, then STEPS of minimize, in the original graph."""
    with tf.Graph().as_default() as graph:
        stages = build_graph(images)
        variables = [getattr(stages, name) for name in NAMES]
        loss = tf.reduce_mean(tf.square(stages.output))
        gradients = tf.compat.v1.gradients(loss, variables)
        train = tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(loss)
        trainable = [v.op.name for v in tf.compat.v1.trainable_variables()]
        assign = [tf.compat.v1.assign(getattr(stages, name), value)
                  for name, value in kernels.items()]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(assign)
            loss_value, grads = sess.run([loss, gradients])
            for _ in range(STEPS):
                sess.run(train)
            after = sess.run(variables)
    return {"loss": loss_value, "grads": dict(zip(NAMES, grads)),
            "after": dict(zip(NAMES, after)), "trainable": trainable}


def _tf2_gradients(demo, x, mode):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(demo(x, mode=mode)["output"]))
    variables = [demo.conv_kernel, demo.deconv_kernel, x]
    return loss, tape.gradient(loss, variables), variables


def _tf2(images, kernels, mode, update, lr):
    demo = DeconvDemo(**kernels)
    x = tf.Variable(images, name="image")
    loss, grads, variables = _tf2_gradients(demo, x, mode)
    sgd = keras.optimizers.SGD(learning_rate=lr) if update == "keras3_sgd" else None
    for _ in range(STEPS):
        _, step_grads, _ = _tf2_gradients(demo, x, mode)
        if sgd is None:
            for var, grad in zip(variables, step_grads):
                var.assign_sub(lr * grad)
        else:
            sgd.apply_gradients(zip(step_grads, variables))
    return {"loss": loss.numpy(), "grads": {n: g.numpy() for n, g in zip(NAMES, grads)},
            "after": {n: v.numpy() for n, v in zip(NAMES, variables)}}


# id: ((shape, seed, random deconv kernel?), learning rate). Each rate makes
# three steps move every variable by more than 0.1% of its largest value
# without diverging (the bilinear kernel's gradients are ~20x smaller).
CASES = {
    "7x5-bilinear": (((1, 7, 5, 3), 0, False), 1.0),
    "7x5-random": (((1, 7, 5, 3), 1, True), 0.05),
    "batch2-9x6-random": (((2, 9, 6, 3), 2, True), 0.05),
    "1x1-random": (((1, 1, 1, 3), 3, True), 0.5),
}


@pytest.mark.parametrize("update", ["assign_sub", "keras3_sgd"])
@pytest.mark.parametrize("mode", ["eager", "function"])
@pytest.mark.parametrize("case", list(CASES))
def test_gradients_and_sgd_steps_bit_identical(case, mode, update):
    args, lr = CASES[case]
    images, kernels = _inputs(*args)
    tf1 = _tf1(images, kernels, lr)
    tf2 = _tf2(images, kernels, mode, update, lr)
    # Kept quirk: the original's minimize() trains the image variable too.
    assert tf1["trainable"] == ["Variable", "a", "a1"]
    np.testing.assert_array_equal(tf1["loss"], tf2["loss"])
    for name in NAMES:
        np.testing.assert_array_equal(tf1["grads"][name], tf2["grads"][name], err_msg=name)
        np.testing.assert_array_equal(tf1["after"][name], tf2["after"][name], err_msg=name)
        start = images if name == "image" else kernels[name]
        # lr moves every variable visibly (> 0.1% of its largest value) ...
        moved = np.abs(tf1["after"][name] - start).max() / np.abs(start).max()
        assert 1e-3 < moved, (name, moved)
        # ... and nothing diverges.
        assert np.isfinite(tf1["after"][name]).all()
    if case.endswith("bilinear"):
        # The bilinear kernel reads conv channels 0..2 only: no gradient
        # reaches the conv kernel's others (exact zeros on both sides), while
        # every deconv kernel entry gets one (pool channel c times dL/dout):
        # one step and the kernel is no longer diagonal.
        assert not tf1["grads"]["conv_kernel"][..., 3:].any()
        assert tf1["grads"]["conv_kernel"][..., :3].all()
        assert tf1["grads"]["deconv_kernel"][:, :, :, 3:].any()


def _loss64(arrays):
    return float(np.mean(reference.demo_stages(**arrays)["output"] ** 2))


def _finite_difference(arrays, name, h=1e-5):
    """Central differences of the float64 loss, one entry of `name` at a time."""
    arrays = {k: np.array(v, np.float64) for k, v in arrays.items()}
    values = arrays[name]
    grad = np.zeros_like(values)
    for index in np.ndindex(values.shape):
        kept = values[index]
        values[index] = kept + h
        plus = _loss64(arrays)
        values[index] = kept - h
        minus = _loss64(arrays)
        values[index] = kept
        grad[index] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("random_deconv", [False, True], ids=["bilinear", "random"])
def test_gradients_match_float64_finite_differences(random_deconv):
    images, kernels = _inputs((1, 2, 3, 3), 4, random_deconv)
    tf1 = _tf1(images, kernels, lr=0.05)
    tf2 = _tf2(images, kernels, "function", "assign_sub", lr=0.05)
    arrays = {"image": images, **kernels}
    np.testing.assert_allclose(_loss64(arrays), tf1["loss"], rtol=RTOL)
    for name in NAMES:
        expected = _finite_difference(arrays, name)
        assert np.abs(expected).max() > 0, name
        for side in (tf1, tf2):
            error = reference.max_relative_error(expected, side["grads"][name])
            assert error <= RTOL, (name, error)
