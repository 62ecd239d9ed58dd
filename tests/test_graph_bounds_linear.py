"""Soundness of the linear rules (conv, depthwise, transposed conv, matmul, batch matmul, bias).

Random inputs and cancellation-heavy ones (sums of large terms that cancel to near zero),
each held within the derived bound by the TF1 float32 run, an XLA float32 run and a float64
run (`_graph_bounds_harness.check`); NumPy float32 sums in other orders and exact rational
sums where cheap.
"""

from fractions import Fraction

import numpy as np
import pytest

from tests._graph_bounds_harness import check, within

RNG = np.random.default_rng(0)


def f32(*shape, scale=1.0):
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def _cancelling(shape, big=1e4):
    """Large terms of both signs, pairwise almost cancelling, plus small ones."""
    x = f32(*shape, scale=big)
    x[..., 1::2] = -x[..., 0::2][..., :x[..., 1::2].shape[-1]] + f32(*x[..., 1::2].shape)
    return x


@pytest.mark.parametrize("strides,padding,dilations", [(1, "SAME", 1), (2, "SAME", 1),
                                                       (1, "VALID", 2), (3, "VALID", 1)])
def test_conv2d(strides, padding, dilations):
    import tensorflow as tf

    def build(x, w):
        return tf.nn.conv2d(x, w, strides, padding, dilations=dilations)
    check(build, {"x": f32(2, 9, 7, 3), "w": f32(3, 3, 3, 4)}, frac=1e-4)
    # A constant image against a kernel whose taps cancel: exact results near zero.
    w = f32(3, 3, 3, 4)
    w[2] = -(w[0] + w[1]) + f32(3, 3, 4, scale=1e-3)
    check(build, {"x": np.full((1, 9, 7, 3), 300.5, np.float32) + f32(1, 9, 7, 3, scale=1e-2),
                  "w": w})


def test_conv2d_with_a_variable_kernel():
    import tensorflow as tf

    check(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"), {"x": f32(1, 5, 5, 2)},
          variables={"k": f32(3, 3, 2, 3)}, frac=1e-4)


def test_depthwise_conv2d():
    import tensorflow as tf

    def build(x, w):
        return tf.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME")
    check(build, {"x": f32(2, 8, 6, 3), "w": f32(3, 3, 3, 2)}, frac=1e-4)
    check(build, {"x": _cancelling((2, 8, 6, 3)), "w": f32(3, 3, 3, 2)})


@pytest.mark.parametrize("stride,padding,size", [(2, "SAME", (8, 6)), (3, "VALID", (9, 8)),
                                                 (1, "SAME", (4, 3))])
def test_conv2d_transpose(stride, padding, size):
    import tensorflow as tf

    h, w = size
    hi, wi = (-(-h // stride), -(-w // stride)) if padding == "SAME" else (
        (h - 3) // stride + 1, (w - 3) // stride + 1)

    def build(x, k):
        return tf.nn.conv2d_transpose(x, k, [2, h, w, 3], stride, padding)
    check(build, {"x": f32(2, hi, wi, 4), "k": f32(3, 3, 3, 4)}, frac=1e-4)
    check(build, {"x": _cancelling((2, hi, wi, 4)), "k": f32(3, 3, 3, 4)})


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul(ta, tb):
    import tensorflow as tf

    a, b = f32(6, 5), f32(5, 4)
    a, b = (a.T.copy() if ta else a), (b.T.copy() if tb else b)

    def build(a, b):
        return tf.matmul(a, b, transpose_a=ta, transpose_b=tb)
    check(build, {"a": a, "b": b}, frac=1e-4)


def test_matmul_cancelling_against_exact_sums_and_other_orders():
    import tensorflow as tf

    a, b = _cancelling((5, 16)), f32(16, 3)
    b[1::2] = b[0::2]  # pairs of rows: a's near-opposite terms meet equal weights
    analysis, computed = check(lambda a, b: tf.matmul(a, b), {"a": a, "b": b})
    exact = np.array([[float(sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(r, c)))
                       for c in b.T] for r in a])
    within(computed, exact, analysis.bound, "tf1 float32 against the exact sum")
    products = a[:, :, None] * b[None]  # float32 products, each rounded once
    for order in (slice(None), slice(None, None, -1)):
        total = np.zeros((5, 3), np.float32)
        for p in products[:, order].transpose(1, 0, 2):
            total = (total + p).astype(np.float32)
        within(total, exact, analysis.bound, "numpy float32, other order")
    assert (np.abs(exact) < 1e-2 * np.abs(products).sum(axis=1)).any()  # cancellation happened


@pytest.mark.parametrize("adj_x,adj_y", [(False, False), (True, True)])
def test_batch_matmul(adj_x, adj_y):
    import tensorflow as tf

    a = f32(3, 4, 5) if not adj_x else f32(3, 5, 4)
    b = f32(1, 5, 2) if not adj_y else f32(1, 2, 5)

    def build(a, b):
        return tf.linalg.matmul(a, b, adjoint_a=adj_x, adjoint_b=adj_y)
    check(build, {"a": a, "b": b}, frac=1e-4)
    check(build, {"a": a * 1e3, "b": b}, frac=1e-4)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_bias_add(fmt):
    import tensorflow as tf

    x = f32(2, 3, 4, 5)
    bias = -x[0, 0, 0] if fmt == "NHWC" else -x[0, :, 0, 0]  # exact cancellation somewhere
    check(lambda x, b: tf.nn.bias_add(x, b, data_format=fmt), {"x": x, "b": bias}, xla=False)


def test_a_bias_folded_into_the_accumulation_stays_inside():
    # A port may add the bias as one more term of the GEMM (a ones column in im2col): the
    # bias-first float32 sum of a large bias and small products that cancel.
    import tensorflow as tf

    a = f32(8, 64, scale=1e-2)
    w = f32(64, 3)
    bias = np.float32([3e3, -2e3, 1e3])
    analysis, computed = check(lambda a, w, b: tf.nn.bias_add(tf.matmul(a, w), b),
                               {"a": a, "w": w, "b": bias})
    exact = np.array([[float(Fraction(float(b)) + sum(Fraction(float(x)) * Fraction(float(y))
                                                      for x, y in zip(r, c)))
                       for c, b in zip(w.T, bias)] for r in a])
    for order in (slice(None), slice(None, None, -1)):
        total = np.broadcast_to(bias, (8, 3)).astype(np.float32)
        for p in (a[:, :, None] * w[None])[:, order].transpose(1, 0, 2):
            total = (total + p).astype(np.float32)
        within(total, exact, analysis.bound, "bias-first float32 accumulation")
