"""Gradient and training-step parity: the TF1 graph against the TF2 module.

Loss: `mean(output ** 2)`. Gradients with respect to both kernels and the
image (a trainable variable in the original, an input in TF2, watched as a
`tf.Variable` there):

- TF1: `tf.compat.v1.gradients` in the session; training with
  `tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(loss)`, whose
  default `var_list` is every trainable variable: the original would train
  the image too (kept quirk), so TF2 updates its image variable as well.
- TF2: `tf.GradientTape` around `DeconvDemo(...)(x, execution=...)`; training with
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
within a bound derived from the computation (`_gradient_bounds`: gamma_K
times the gradient evaluated on absolute values, K the longest chain of
roundings), not a picked tolerance.

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
from migration_audit.bounds import FLOAT32_UNIT_ROUNDOFF, demo_bounds, error_over_bound, gamma
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel

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


def _tf2_gradients(demo, x, execution):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(demo(x, execution=execution)["output"]))
    variables = [demo.conv_kernel, demo.deconv_kernel, x]
    return loss, tape.gradient(loss, variables), variables


def _tf2(images, kernels, execution, update, lr):
    demo = DeconvDemo(**kernels)
    x = tf.Variable(images, name="image")
    loss, grads, variables = _tf2_gradients(demo, x, execution)
    sgd = keras.optimizers.SGD(learning_rate=lr) if update == "keras3_sgd" else None
    for _ in range(STEPS):
        _, step_grads, _ = _tf2_gradients(demo, x, execution)
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
@pytest.mark.parametrize("execution", ["eager", "function"])
@pytest.mark.parametrize("case", list(CASES))
def test_gradients_and_sgd_steps_bit_identical(case, execution, update):
    args, lr = CASES[case]
    images, kernels = _inputs(*args)
    tf1 = _tf1(images, kernels, lr)
    tf2 = _tf2(images, kernels, execution, update, lr)
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


def _routed_pool(values, chooser):
    """2x2 SAME max pool that takes `values` where `chooser` has its window's max."""
    n, h, w, c = chooser.shape
    oh, ph, _ = reference.same_padding(h, 2, 2)
    ow, pw, _ = reference.same_padding(w, 2, 2)
    padded = {}
    for name, array, fill in (("chooser", chooser, -np.inf), ("values", values, 0.0)):
        grid = np.full((n, 2 * oh + 1, 2 * ow + 1, c), fill)
        grid[:, ph:ph + h, pw:pw + w] = array
        padded[name] = np.stack([grid[:, a:a + 2 * oh:2, b:b + 2 * ow:2]
                                 for a in range(2) for b in range(2)])
    pick = np.argmax(padded["chooser"], axis=0)[np.newaxis]
    return np.take_along_axis(padded["values"], pick, axis=0)[0], padded["chooser"]


def _abs_loss64(abs_arrays, chooser):
    """The loss evaluated on |inputs| with the exact max-pool routing (`chooser`'s)."""
    conv1 = reference.conv2d_same(abs_arrays["image"], abs_arrays["conv_kernel"])
    pool, _ = _routed_pool(conv1, chooser)
    out_hw = (2 * pool.shape[1], 2 * pool.shape[2])
    output = reference.conv2d_transpose_same(pool, abs_arrays["deconv_kernel"], out_hw)
    return float(np.mean(output ** 2))


def _finite_difference(arrays, name, h=1e-5, loss=_loss64):
    """Central differences of the float64 loss, one entry of `name` at a time."""
    arrays = {k: np.array(v, np.float64) for k, v in arrays.items()}
    values = arrays[name]
    grad = np.zeros_like(values)
    for index in np.ndindex(values.shape):
        kept = values[index]
        values[index] = kept + h
        plus = loss(arrays)
        values[index] = kept - h
        minus = loss(arrays)
        values[index] = kept
        grad[index] = (plus - minus) / (2 * h)
    return grad


def _gradient_bounds(arrays, h=1e-5):
    """Per-entry bounds of |float32 gradient - central difference| for every variable.

    The loss and its gradients are sums and products of the inputs (the
    max pool only routes, and every float32 witness routes as the exact
    computation does: asserted below). Any evaluation order that rounds each
    of at most K operations on a term's path with relative error u errs by at
    most gamma_K times the same expression evaluated on |inputs| (Higham,
    ch. 3). That expression is the gradient of the loss of |inputs| with the
    exact routing: central differences of a function quadratic in each
    variable, exact up to float64 rounding. K counts, along the longest
    path: conv1 (27 products), conv2d_transpose (<= 256), the square (1),
    the mean (M - 1 additions and a division by a rounded 1/M: M + 1), the
    gradient of the mean and the square (<= 4), back through the transposed
    conv (<= 27 per pool entry), and the final sum of the longest gradient
    (the image's: 9 taps x 64 channels = 576) with its product (1).
    """
    arrays = {k: np.asarray(v, np.float64) for k, v in arrays.items()}
    exact = reference.demo_stages(**arrays)
    conv1_bound = demo_bounds(arrays["image"], arrays["conv_kernel"],
                              arrays["deconv_kernel"])["conv1"]
    _, windows = _routed_pool(exact["conv1"], exact["conv1"])
    ranked = np.sort(windows, axis=0)
    margin = ranked[-1] - ranked[-2]
    assert np.all(margin > 2 * _routed_pool(conv1_bound, exact["conv1"])[0].max()), (
        "a max-pool window has two values within rounding: float32 may route otherwise")
    m = exact["output"].size
    k = 27 + 256 + 1 + (m + 1) + 4 + 27 + 576 + 1
    abs_arrays = {name: np.abs(value) for name, value in arrays.items()}
    loss_abs = _abs_loss64(abs_arrays, exact["conv1"])
    # Each float64 loss evaluation errs by at most gamma_K(float64) * loss_abs:
    # a central difference adds at most twice that over 2h.
    fd_error = 2 * gamma(k, 2.0**-53) * loss_abs / (2 * h)
    bounds = {"loss": gamma(k, FLOAT32_UNIT_ROUNDOFF) * loss_abs + fd_error * h}
    for name in NAMES:
        grad_abs = _finite_difference(abs_arrays, name, h,
                                      loss=lambda a: _abs_loss64(a, exact["conv1"]))
        bounds[name] = gamma(k, FLOAT32_UNIT_ROUNDOFF) * grad_abs + fd_error
    return bounds


@pytest.mark.parametrize("random_deconv", [False, True], ids=["bilinear", "random"])
def test_gradients_match_float64_finite_differences(random_deconv):
    images, kernels = _inputs((1, 2, 3, 3), 4, random_deconv)
    tf1 = _tf1(images, kernels, lr=0.05)
    tf2 = _tf2(images, kernels, "function", "assign_sub", lr=0.05)
    arrays = {"image": images, **kernels}
    bounds = _gradient_bounds(arrays)
    assert abs(_loss64(arrays) - float(tf1["loss"])) <= bounds["loss"]
    for name in NAMES:
        expected = _finite_difference(arrays, name)
        assert np.abs(expected).max() > 0, name
        for side in (tf1, tf2):
            ratio, _ = error_over_bound(side["grads"][name], expected, bounds[name])
            assert ratio <= 1, (name, ratio)
