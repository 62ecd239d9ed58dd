"""Per-op rounding rules: the linear ops, the data movers and the elementwise arithmetic.

Notation (every array elementwise, float64): for an input operand, `m` bounds |exact value|
(shadow |v| plus the shadow's own bound), `lo` is a lower bound of |exact value|, `e` bounds
|computed - exact|; u is the unit roundoff of the pass (2**-24 for float32, 2**-53 for the
float64 shadow), `t` the smallest normal number of the pass (TensorFlow's CPU kernels flush
subnormals to zero, in float32 and in float64 alike), gamma_n = n u / (1 - n u) (Higham).
Each rule returns the output's `e` and, for sums, a bound of every partial sum's magnitude
(float32 overflow there makes the element unbounded). Exact inputs of arithmetic ops that may
be subnormal lose up to min(t, |x| + e) to the flush: `graph_bounds` adds that to `e` first.

T(a, b) below is the op itself run in float64 on nonnegative arrays (a TensorFlow node with
the original attributes, or NumPy); its own float64 rounding is covered by `safety(n)`.
"""

import math

import numpy as np

from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, _SAFETY, gamma

__all__ = ["ARITHMETIC", "Operand", "Pass", "RULES", "safety"]

#: The smallest normal float64 (TensorFlow flushes float64 subnormals too), the flush of
#: the float64 evaluation of a bound's T(a, b).
TINY64 = float(np.finfo(np.float64).tiny)


class Operand:
    """One input of a node: its shadow value, |exact| bounds and the pass's error bound."""

    is_float = True
    folded = None  # (n, S) when the input is a sum of products (see `_folded`)

    def __init__(self, value, mag, lo, err):
        self.value, self.mag, self.lo, self.err = value, mag, lo, err

    @property
    def upper(self):
        """A bound of |computed value|."""
        return self.mag + self.err


class Pass:
    """One propagation: unit roundoff `u`, flush limit `t`, the float64 node evaluator."""

    def __init__(self, u, t, evaluate):
        self.u, self.t, self.evaluate = u, t, evaluate


def safety(n):
    """Covers the float64 rounding of evaluating an n-term nonnegative T(a, b) and the bound."""
    return _SAFETY + 2 * gamma(n + 8, FLOAT64_UNIT_ROUNDOFF)


def sum_rule(n, p, s, prop):
    """An n-term sum of products in any order, FMA or not:  e = gamma_n S + P + 2 n t (1 + gamma_n).

    S = T(m_x + e_x, m_w + e_w) bounds the sum of |computed products|, so rounding adds at
    most gamma_n S (Higham eq. 3.5; zero products are exact and add nothing); P = T(e_x, m_w + e_w)
    + T(m_x, e_w) bounds |T(x^, w^) - T(x, w)| (the product-of-errors term included); each of
    the n products and n additions may lose t to the flush. Partial sums stay below
    (1 + gamma_n) S.
    """
    g = gamma(n, p.u)
    err = (g * s + prop) * safety(n) + 2 * n * p.t * (1 + g) + n * TINY64
    return err, s * (1 + g)


def _bilinear(p, n, apply, x, w):
    a, b = x.upper, w.upper
    s = apply(a, b)
    prop = 0.0
    if np.any(x.err):
        prop = prop + apply(x.err, b)
    if np.any(w.err):
        prop = prop + apply(x.mag, w.err)
    p.last_sum = (n, s)  # for an Add that a port may fold into this accumulation (`add`)
    return sum_rule(n, p, s, prop)


def _attr_ints(node, key, default):
    return list(node.attr[key].list.i) if key in node.attr else default


def conv2d(node, ins, out, p):
    """Conv2D: n = kh kw C_f (C_f the filter's input depth); `sum_rule`."""
    x, w = ins
    kh, kw, cf, _ = w.value.shape
    return _bilinear(p, kh * kw * cf, lambda a, b: p.evaluate(node, [a, b]), x, w)


def depthwise_conv2d(node, ins, out, p):
    """DepthwiseConv2dNative: n = kh kw (one input channel per output); `sum_rule`."""
    x, w = ins
    return _bilinear(p, w.value.shape[0] * w.value.shape[1],
                     lambda a, b: p.evaluate(node, [a, b]), x, w)


def conv2d_backprop_input(node, ins, out, p):
    """Conv2DBackpropInput (conv2d_transpose): n = ceil(kh/s_h) ceil(kw/s_w) C_out undilated.

    An output pixel meets at most ceil(k/s) taps per axis (the others fall between the
    strided inputs: zero products, exact); dilated: n = kh kw C_out. `sum_rule`.
    """
    sizes, w, dy = ins
    kh, kw, _, cout = w.value.shape
    fmt = node.attr["data_format"].s.decode() or "NHWC"
    strides = _attr_ints(node, "strides", [1, 1, 1, 1])
    dil = _attr_ints(node, "dilations", [1, 1, 1, 1])
    sh, sw = (strides[2], strides[3]) if fmt == "NCHW" else (strides[1], strides[2])
    if max(dil) == 1:
        n = math.ceil(kh / sh) * math.ceil(kw / sw) * cout
    else:
        n = kh * kw * cout
    return _bilinear(p, n, lambda a, b: p.evaluate(node, [sizes.value, b, a]), dy, w)


def _matmul_apply(ta, tb):
    def apply(a, b):
        a = np.swapaxes(a, -1, -2) if ta else a
        b = np.swapaxes(b, -1, -2) if tb else b
        return np.matmul(a, b)
    return apply


def matmul(node, ins, out, p):
    """MatMul (transpose_a/b): n = K, the contracted length; `sum_rule` with NumPy's matmul."""
    ta, tb = node.attr["transpose_a"].b, node.attr["transpose_b"].b
    a = ins[0].value
    n = a.shape[-2] if ta else a.shape[-1]
    return _bilinear(p, n, _matmul_apply(ta, tb), ins[0], ins[1])


def batch_matmul(node, ins, out, p):
    """BatchMatMulV2 (adj_x/y, real: transposes; batch dims broadcast): n = K; `sum_rule`."""
    ta, tb = node.attr["adj_x"].b, node.attr["adj_y"].b
    a = ins[0].value
    n = a.shape[-2] if ta else a.shape[-1]
    return _bilinear(p, n, _matmul_apply(ta, tb), ins[0], ins[1])


def _elementwise(p, prop, computed, count=1):
    """e = P + u |computed| bound (count roundings: gamma_count) + count t; `computed` >= |result|."""
    g = gamma(count, p.u)
    return ((prop + g * computed) * _SAFETY + count * p.t, computed)


def add(node, ins, out, p, sign=1.0):
    """Add/AddV2 (Sub: sign -1), broadcasting; |x^ + y^| <= |v_x + v_y| + e64_x + e64_y + e_x + e_y
    (the shadow values, their float64 bounds, this pass's errors):
    e = e_x + e_y + u |x^ + y^| + t.
    """
    x, y = ins
    shadow_sum = np.abs(x.value + sign * y.value) * (1 + 2 * FLOAT64_UNIT_ROUNDOFF)
    computed = shadow_sum + (x.mag - np.abs(x.value)) + (y.mag - np.abs(y.value)) + x.err + y.err
    return _elementwise(p, x.err + y.err + _folded(x, y, p) + _folded(y, x, p), computed)


def _folded(x, y, p):
    """A port may fold y (a bias) into x's n-term accumulation (a ones column in an im2col
    GEMM, a bias-initialised accumulator): then x + y is one (n + 1)-term sum, whose bound
    gamma_{n+1} (S + |y^|) exceeds x's gamma_n S by at most
    (gamma_{n+1} - gamma_n) S + gamma_{n+1} |y^|: added when x comes straight from a sum of products.
    """
    folded = x.folded
    if folded is None:
        return 0.0
    n, s = folded
    return (gamma(n + 1, p.u) - gamma(n, p.u)) * s + gamma(n + 1, p.u) * y.upper


def bias_add(node, ins, out, p):
    """BiasAdd: Add with the bias on the channel axis (last, or 1 for NCHW)."""
    x, b = ins
    fmt = node.attr["data_format"].s.decode() or "NHWC"
    if fmt.startswith("NC") and x.value.ndim > 2:
        shape = (-1,) + (1,) * (x.value.ndim - 2)
        b = Operand(*(np.reshape(a, shape) if np.ndim(a) else a
                      for a in (b.value, b.mag, b.lo, b.err)))
    return add(node, [x, b], out, p)


def mul(node, ins, out, p):
    """Mul: x^ y^ - x y = dx y + x dy + dx dy:  e = e_x m_y + m_x e_y + e_x e_y + u (m_x+e_x)(m_y+e_y) + t."""
    x, y = ins
    return _elementwise(p, x.err * y.mag + x.mag * y.err + x.err * y.err, x.upper * y.upper)


def real_div(node, ins, out, p):
    """RealDiv: with d = lo_y - e_y (a lower bound of |y^|, unbounded unless d > t):

    x^/y^ - x/y = (dx y - x dy) / (y^ y):  e = e_x / d + m_x e_y / (d lo_y) + u (m_x + e_x) / d + t.
    """
    x, y = ins
    d = y.lo - y.err
    with np.errstate(all="ignore"):
        prop = x.err / d + x.mag * y.err / (d * y.lo)
        computed = x.upper / d
        err, peak = _elementwise(p, np.where(y.err > 0, prop, x.err / y.lo), computed)
    bad = ~(d > p.t)
    return np.where(bad, np.inf, err), np.where(bad, np.inf, peak)


def sub(node, ins, out, p):
    """Sub: as Add, with y negated."""
    return add(node, ins, out, p, sign=-1.0)


def square(node, ins, out, p):
    """Square: x^2 - x^2 = dx (x^ + x):  e = e_x (2 m_x + e_x) + u (m_x + e_x)^2 + t."""
    (x,) = ins
    return _elementwise(p, x.err * (2 * x.mag + x.err), x.upper ** 2)


def relu(node, ins, out, p):
    """Relu, Relu6: 1-Lipschitz, no rounding:  e = e_x."""
    return ins[0].err, ins[0].upper


def leaky_relu(node, ins, out, p):
    """LeakyRelu: max(1, |alpha|)-Lipschitz; alpha x rounds:  e = max(1,|a|) e_x + u |a| (m_x + e_x) + t."""
    alpha = abs(float(node.attr["alpha"].f))
    x = ins[0]
    return _elementwise(p, max(1.0, alpha) * x.err, alpha * x.upper)


def cast(node, ins, out, p):
    """Cast float -> float: exact when widening; narrowing rounds once:  e = e_x + u_dst (m_x + e_x) + t_dst.

    In the shadow every float type is float64, so the shadow pass rounds nowhere here.
    """
    x = ins[0]
    dst = node.attr["DstT"].type
    src = node.attr["SrcT"].type
    widths = {19: 11, 14: 8, 1: 24, 2: 53}  # DataType -> significand bits
    if not x.is_float:  # an exact integer (or bool): rounds only beyond 2**bits (not in the shadow)
        v = np.abs(np.asarray(x.value, np.float64))
        bits = widths[dst] if p.u != FLOAT64_UNIT_ROUNDOFF else 53
        return np.where(v <= 2.0**bits, 0.0, v * 2.0**-bits * _SAFETY), v * (1 + 2.0**-bits)
    if widths[dst] >= widths[src] or p.u == FLOAT64_UNIT_ROUNDOFF:
        return x.err, x.upper
    u_dst = 2.0 ** -widths[dst]
    limits = {19: (6.103515625e-05, 65504.0), 14: (1.1754943508222875e-38, 3.3895313892515355e+38),
              1: (1.1754943508222875e-38, 3.4028234663852886e+38)}
    t_dst, top = limits[dst]
    err = (x.err + u_dst * x.upper) * _SAFETY + t_dst
    return np.where(x.upper < top * (1 - u_dst), err, np.inf), x.upper


def mover(node, ins, out, p):
    """Exact data movers (Reshape, Transpose, Squeeze, ExpandDims, ConcatV2, Pad, Slice,
    StridedSlice, Identity, ReadVariableOp, ...): the op itself moves the errors,
    e = op(e_x) (padding with exact zeros adds none)."""
    arrays = [o.err if o.is_float else o.value for o in ins]
    return p.evaluate(node, arrays), None


#: Rules by op type. `ARITHMETIC` ops compute (their subnormal inputs may be flushed); the
#: others only move values.
RULES = {
    "Conv2D": conv2d, "DepthwiseConv2dNative": depthwise_conv2d,
    "Conv2DBackpropInput": conv2d_backprop_input, "MatMul": matmul, "BatchMatMulV2": batch_matmul,
    "BiasAdd": bias_add, "Add": add, "AddV2": add, "Sub": sub, "Mul": mul, "RealDiv": real_div,
    "Square": square, "Relu": relu, "Relu6": relu, "LeakyRelu": leaky_relu, "Cast": cast,
}
for _op in ("Reshape", "Transpose", "Squeeze", "ExpandDims", "Pad", "Slice", "StridedSlice",
            "Identity", "ReadVariableOp", "PlaceholderWithDefault", "StopGradient", "Tile",
            "GatherV2", "ConcatV2"):
    RULES[_op] = mover
ARITHMETIC = {"Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "MatMul", "BatchMatMulV2",
              "BiasAdd", "Add", "AddV2", "Sub", "Mul", "RealDiv", "Square", "Relu", "Relu6",
              "LeakyRelu", "Cast"}
