"""Soundness of the elementwise rules: arithmetic, activations, transcendental functions.

Inputs near the hard spots: x against -x + tiny (cancellation), values near 0 for the
piecewise activations, +-20 and tiny values for sigmoid and tanh, denominators whose error
interval holds zero (unbounded, not a guess). Each is held within the derived bound by the
TF1 float32 run, an XLA float32 run and a float64 run (`_graph_bounds_harness.check`).
"""

import numpy as np
import pytest

from tests._graph_bounds_harness import check

RNG = np.random.default_rng(3)


def f32(*shape, scale=1.0):
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def _near(x):
    """-x plus something small: x + near(x) cancels."""
    return (-x + f32(*x.shape, scale=1e-3)).astype(np.float32)


def _signed_sweep():
    return np.concatenate([np.linspace(-30, 30, 241), -np.logspace(-38, 1, 40),
                           np.logspace(-38, 1, 40), [0.0]]).astype(np.float32)


@pytest.mark.parametrize("op", ["add", "addv2", "sub", "mul", "square"])
def test_arithmetic(op):
    import tensorflow as tf

    fns = {"add": tf.raw_ops.Add, "addv2": tf.raw_ops.AddV2, "sub": tf.raw_ops.Sub,
           "mul": tf.raw_ops.Mul, "square": None}

    def build(x, y):
        # A first op makes the inputs computed (with error), a second rounds again.
        a, b = x * y, x + y
        if op == "square":
            return tf.square(a - b)
        return fns[op](x=a, y=b)
    x = f32(4, 6, scale=30)
    check(build, {"x": x, "y": f32(4, 6)}, frac=1e-5)
    check(build, {"x": x, "y": _near(x)})
    check(build, {"x": x, "y": f32(1, 6)})  # broadcasting


def test_real_div_and_its_unbounded_elements():
    import tensorflow as tf

    def build(x, y, z, c):
        return tf.math.truediv(x, y * c - z * c)
    y = f32(3, 5, scale=10)
    z = y.copy()
    z[0] = np.nextafter(y[0], np.float32(np.inf))  # c y - c z: 0 within its error
    z[1:] = y[1:] * 0.5
    analysis, _ = check(build, {"x": f32(3, 5), "y": y, "z": z, "c": np.float32([1.1])})
    assert np.isinf(analysis.bound[0]).any()
    assert np.isfinite(analysis.bound[1:]).all()
    assert analysis.bound[1:].max() <= 1e-5 * np.abs(analysis.shadow[1:]).max()


@pytest.mark.parametrize("act", ["relu", "relu6", "leaky", "elu", "sigmoid", "tanh"])
def test_activations(act):
    import tensorflow as tf

    fns = {"relu": tf.nn.relu, "relu6": tf.nn.relu6, "elu": tf.nn.elu, "sigmoid": tf.sigmoid,
           "tanh": tf.tanh, "leaky": lambda a: tf.nn.leaky_relu(a, alpha=0.3)}

    def build(x, y):
        return fns[act](x + y)  # the input carries rounding error (cancellation near 0)
    x = _signed_sweep()
    check(build, {"x": x, "y": np.zeros_like(x)})
    check(build, {"x": x * 1000, "y": _near(x * 1000)})
    analysis, _ = check(build, {"x": f32(50, scale=3), "y": f32(50)})
    assert analysis.bound.max() <= 1e-5 * max(np.abs(analysis.shadow).max(), 1)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(op):
    import tensorflow as tf

    fn = {"softmax": tf.nn.softmax, "log_softmax": tf.nn.log_softmax}[op]

    def build(x, y):
        return fn(x * y)
    ones = np.ones((4, 7), np.float32)
    check(build, {"x": f32(4, 7, scale=3), "y": ones}, frac=1e-5)
    wide = f32(4, 7, scale=40)  # rows spanning +-100: terms underflow, one dominates
    check(build, {"x": wide, "y": ones})
    equal = np.full((4, 7), 5.5, np.float32) + f32(4, 7, scale=1e-6)
    check(build, {"x": equal, "y": ones})
    check(build, {"x": f32(4, 7), "y": f32(4, 7, scale=10)})


def test_softmax_on_another_axis():
    import tensorflow as tf

    check(lambda x: tf.nn.softmax(x * 2.0, axis=1), {"x": f32(2, 5, 3, scale=4)}, frac=1e-5)


@pytest.mark.parametrize("values", ["random", "near_zero", "subnormal"])
def test_relu_near_zero_and_flushed(values):
    import tensorflow as tf

    x = {"random": f32(64), "near_zero": f32(64, scale=1e-30),
         "subnormal": f32(64, scale=1e-39)}[values]
    check(lambda x, y: tf.nn.relu(x * y), {"x": x, "y": f32(64)})


@pytest.mark.parametrize("op", ["sigmoid", "tanh", "exp", "log", "rsqrt"])
def test_transcendental_allowance_covers_tensorflow_and_xla(op):
    # The rules allow each transcendental function K ulps relative (eps = 2 K u), and sigmoid
    # and tanh K u absolute more: a dense sweep of TensorFlow's float32 kernels (Session and
    # XLA) against NumPy float64 (correctly rounded to far below float32's u) stays inside.
    import tensorflow as tf

    from migration_audit.op_rules_nonlinear import TRANSCENDENTAL_ULPS as K

    u = 2.0**-24
    x = np.concatenate([np.linspace(-90, 90, 100001), np.linspace(-1e-3, 1e-3, 2001),
                        np.logspace(-30, 1.5, 3000), -np.logspace(-30, 1.5, 3000)])
    x = x.astype(np.float32)
    if op in ("log", "rsqrt"):
        x = np.abs(x[x != 0])
    fns = {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "exp": tf.exp, "log": tf.math.log,
           "rsqrt": tf.math.rsqrt}
    xd = x.astype(np.float64)
    exact = {"sigmoid": lambda: 1 / (1 + np.exp(-xd)), "tanh": lambda: np.tanh(xd),
             "exp": lambda: np.exp(xd), "log": lambda: np.log(xd),
             "rsqrt": lambda: 1 / np.sqrt(xd)}[op]()
    with tf.Graph().as_default():
        p = tf.compat.v1.placeholder(tf.float32, [None])
        with tf.compat.v1.Session() as sess:
            session = sess.run(fns[op](p), {p: x})
    compiled = tf.function(fns[op], jit_compile=True)(tf.constant(x)).numpy()
    absolute = K * u if op in ("sigmoid", "tanh") else 0.0
    ok = np.isfinite(exact) & (np.abs(exact) > np.finfo(np.float32).tiny) & (
        np.abs(exact) < np.finfo(np.float32).max / 2)
    beyond_half_ulp = []
    for computed in (session, compiled):
        error = np.abs(computed.astype(np.float64) - exact)[ok]
        assert (error <= 2 * K * u * np.abs(exact[ok]) + absolute).all()
        beyond_half_ulp.append((error > u * np.abs(exact[ok])).any())
    assert any(beyond_half_ulp)  # not correctly rounded: an allowance of u would not do
