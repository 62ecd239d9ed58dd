"""Per-op rounding rules: transcendental functions, softmax, pooling, reductions, batch norm.

Notation as in `op_rules` (m, lo, e, u, t, gamma_n). Transcendental functions are not correctly
rounded in Eigen or oneDNN (polynomial and rational approximations): each is allowed
`TRANSCENDENTAL_ULPS` ulps relative, eps = 2 K u (an ulp of y is at most 2 u |y|), and sigmoid
and tanh also an absolute K u (approximations that keep only absolute accuracy near their
small outputs). The tests sweep TensorFlow's kernels, both oneDNN settings, to keep K honest.
Lipschitz constants bound how input errors pass through: the largest derivative over the
interval the computed input can lie in.
"""

import numpy as np

from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, _SAFETY, gamma
from migration_audit.op_rules import ARITHMETIC, RULES, TINY64, relu, safety

__all__ = ["CONDITIONS", "TRANSCENDENTAL_ULPS"]

#: Ulps allowed to exp, log, rsqrt, sigmoid and tanh (Eigen's and oneDNN's approximations).
TRANSCENDENTAL_ULPS = 8
#: Relative error of the float64 NumPy evaluation of a magnitude used in a bound.
_NP_REL = 64 * FLOAT64_UNIT_ROUNDOFF


def _eps(p):
    return 2 * TRANSCENDENTAL_ULPS * p.u


def _row_max(a):
    return np.max(a, axis=-1, keepdims=True) if np.ndim(a) else a


def sigmoid(node, ins, out, p):
    """Sigmoid: L = s'(max(0, lo_x - e_x)) (s' peaks at 0, falls with |x|), |s(x^)| <= s(m_x + e_x):

    e = L e_x + eps s(m_x + e_x) + K u + t.
    """
    x = ins[0]
    near = np.maximum(x.lo - x.err, 0.0)
    s_near = 1 / (1 + np.exp(-near))
    lip = s_near * (1 - s_near) * (1 + _NP_REL) + FLOAT64_UNIT_ROUNDOFF
    top = (1 / (1 + np.exp(-(x.mag + x.err)))) * (1 + _NP_REL)
    err = (lip * x.err + _eps(p) * top + TRANSCENDENTAL_ULPS * p.u) * _SAFETY + p.t
    return err, top


def tanh(node, ins, out, p):
    """Tanh: L = 1 - tanh(max(0, lo_x - e_x))^2, |tanh(x^)| <= tanh(m_x + e_x):

    e = L e_x + eps tanh(m_x + e_x) + K u + t.
    """
    x = ins[0]
    near = np.maximum(x.lo - x.err, 0.0)
    lip = (1 - np.tanh(near) ** 2) * (1 + _NP_REL) + 4 * FLOAT64_UNIT_ROUNDOFF
    top = np.tanh(x.mag + x.err) * (1 + _NP_REL)
    err = (lip * x.err + _eps(p) * top + TRANSCENDENTAL_ULPS * p.u) * _SAFETY + p.t
    return err, top


def elu(node, ins, out, p):
    """Elu (x > 0: x; else exp(x) - 1): 1-Lipschitz; exact where x^ > 0 surely, elsewhere
    exp rounds (eps exp(x^) <= eps) and the subtraction u |f| <= u:  e = e_x + (eps + u)(1 + eps) + t."""
    x = ins[0]
    maybe_negative = x.value - x.err - (x.mag - np.abs(x.value)) <= 0
    rounding = np.where(maybe_negative, (_eps(p) + p.u) * (1 + _eps(p)) + p.t, 0.0)
    return (x.err + rounding) * _SAFETY, x.upper


def _softmax_parts(x, p):
    """(E + D, the bound of exact y from the shadow, n): E = row max of e_x, D = u 2 max |x^|."""
    e = _row_max(x.err) + 2 * p.u * _row_max(x.upper)
    e64 = _row_max(x.mag - np.abs(x.value))
    v = x.value - _row_max(x.value)
    y = np.exp(v) / np.sum(np.exp(v), axis=-1, keepdims=True)
    y_up = np.minimum(1.0, y * np.exp(2 * e64) * (1 + _NP_REL) + TINY64)
    return e, y_up, x.value.shape[-1], v, e64


def softmax(node, ins, out, p):
    """Softmax (last axis): the max-shift's rounding d_j <= u |x^_j - max| is an input
    perturbation (softmax is shift invariant), so D = 2 u max|x^| joins the input error E.
    The Jacobian's infinity-norm row sum is 2 y_i (1 - y_i), and y_i moves by at most a factor
    exp(2 (E + D)):  Lip = 2 (E + D) min(1/4, y_up exp(2 (E + D))). The form covered is
    exp(x - c) / sum exp(x - c) for any shift c with |c| <= max |x^| (none, or the row max), the
    division done directly or as a product with a rounded reciprocal.
    exp, sum (n terms), divide: rho = (1 + eps)(1 + 2u) / ((1 - gamma_n)(1 - eps)) - 1;
    flushes: numerator and result t each, the sum >= 1 loses n t:
    e = Lip + rho y_up exp(2 (E + D)) + 2 (n + 2) t.
    """
    x = ins[0]
    e, y_up, n, _, _ = _softmax_parts(x, p)
    eps = _eps(p)
    moved = np.minimum(1.0, y_up * np.exp(2 * e))
    lip = 2 * e * np.minimum(0.25, moved)
    rho = (1 + eps) * (1 + 2 * p.u) / ((1 - gamma(n, p.u)) * (1 - eps)) - 1
    return (lip + rho * moved) * _SAFETY + 2 * (n + 2) * p.t, moved


def log_softmax(node, ins, out, p):
    """LogSoftmax (last axis): Jacobian row sum 2 (1 - p_i) <= 2:  Lip = 2 (E + D).
    y = z_i - log S, z = x' - max exact (the shift rounding is in D), S in [1, n]:
    S^ = S (1 + rho_S), rho_S = (1 + eps)(1 + gamma_n) - 1 + n t; log adds eps |log S^|;
    the subtraction u |y^|:
    e = Lip + (-log(1 - rho_S)) + eps (log n + rho_S) + u (M + Lip + lse) + 2 t,
    M = |v - lse(v)| + 2 E64 + NumPy's own rounding.
    """
    x = ins[0]
    e, _, n, v, e64 = _softmax_parts(x, p)
    eps = _eps(p)
    lse = np.log(np.sum(np.exp(v), axis=-1, keepdims=True))
    mag = np.abs(v - lse) + 2 * e64 + _NP_REL * (np.abs(v) + lse) + TINY64
    rho_s = (1 + eps) * (1 + gamma(n, p.u)) - 1 + n * p.t
    lse_err = -np.log1p(-rho_s) * (1 + _NP_REL) + eps * (np.log(n) + rho_s)
    lip = 2 * e
    err = (lip + lse_err + p.u * (mag + lip + lse_err)) * _SAFETY + 2 * p.t
    return err, mag + err


def max_pool(node, ins, out, p):
    """MaxPool: exact; each computed input within e, so the computed max is within the
    window's largest e of the exact max:  e = maxpool(e_x)."""
    return p.evaluate(node, [ins[0].err]), None


def _window(node):
    k = list(node.attr["ksize"].list.i)
    return int(np.prod(k))


def avg_pool(node, ins, out, p):
    """AvgPool (n-element windows, padding not counted): a sum (gamma_{n-1}) then a division or a
    multiplication by a rounded 1/count (u each):  e = avg(e_x) + gamma_{n+2} avg(m_x + e_x) + 2(n+2) t."""
    x = ins[0]
    n = _window(node)
    s = p.evaluate(node, [x.upper])
    prop = p.evaluate(node, [x.err])
    g = gamma(n + 2, p.u)
    return (prop + g * s) * safety(n) + 2 * (n + 2) * p.t + n * TINY64, s * (1 + g) * n


def _reduce(node, ins):
    x, axes = ins
    axes = tuple(int(a) % max(x.value.ndim, 1) for a in np.ravel(axes.value))
    keep = bool(node.attr["keep_dims"].b)
    n = int(np.prod([x.value.shape[a] for a in axes])) if axes else 1
    return x, axes, keep, n


def sum_(node, ins, out, p):
    """Sum over n elements, any order:  e = sum(e_x) + gamma_n sum(m_x + e_x) + 2 n t."""
    x, axes, keep, n = _reduce(node, ins)
    s = np.sum(x.upper, axis=axes, keepdims=keep)
    prop = np.sum(x.err, axis=axes, keepdims=keep)
    g = gamma(n, p.u)
    return (prop + g * s) * safety(n) + 2 * n * p.t, s * (1 + g)


def mean(node, ins, out, p):
    """Mean over n elements: a sum then /n (or each term times a rounded 1/n):
    e = mean(e_x) + gamma_{n+2} mean(m_x + e_x) + 2 (n + 2) t; n = 0 is unbounded (NaN)."""
    x, axes, keep, n = _reduce(node, ins)
    if n == 0:
        return np.inf, None
    s = np.sum(x.upper, axis=axes, keepdims=keep)
    prop = np.sum(x.err, axis=axes, keepdims=keep) / n
    g = gamma(n + 2, p.u)
    return (prop + g * s / n) * safety(n) + 2 * (n + 2) * p.t, s * (1 + g)


def fused_batch_norm(node, ins, out, p):
    """FusedBatchNormV3, inference: y = (x - mean) s + offset, s = scale / sqrt(var + eps).

    Any of the usual forms (x s^ + (offset - mean s^), (x - mean) s^ + offset, a division by
    sqrt) rounds s^ = s (1 + sigma), |sigma| <= rho_s = (1 + u)^2 (1 + eps) - 1, then at most
    three more operations:  e = |s| e_x + ((1 + rho_s)(1 + u)^3 - 1)(|x^| |s| + |mean| |s| +
    |offset|) + 4 t. Parameters that carry rounding error themselves: unbounded.
    """
    x, scale, offset, mean_, var = ins[:5]
    epsilon = float(node.attr["epsilon"].f)
    channels_first = node.attr["data_format"].s.decode() in ("NCHW", "NCDHW")
    shape = (-1,) + (1,) * (x.value.ndim - 2) if channels_first else (-1,)
    with np.errstate(all="ignore"):
        s = np.abs(scale.value) / np.sqrt(var.value + np.float64(np.float32(epsilon)))
    s = np.reshape(s * (1 + _NP_REL), shape)
    m, o = np.reshape(np.abs(mean_.value), shape), np.reshape(np.abs(offset.value), shape)
    rho_s = (1 + p.u) ** 2 * (1 + _eps(p)) - 1
    rel = (1 + rho_s) * (1 + p.u) ** 3 - 1
    err = (s * x.err + rel * (x.upper * s + m * s + o)) * _SAFETY + 4 * p.t
    if any(np.any(a.err) for a in (scale, offset, mean_, var)) or np.any(var.value + epsilon <= 0):
        err = np.full(np.shape(err), np.inf)
    return err, x.upper * s + m * s + o + err


def maximum(node, ins, out, p):
    """Maximum/Minimum: exact, 1-Lipschitz in each argument:  e = max(e_x, e_y)."""
    return np.maximum(ins[0].err, ins[1].err), None


#: Ops whose rule covers only some attribute values: {op: (predicate(node), what is missing)}.
CONDITIONS = {"FusedBatchNormV3": (lambda node: not node.attr["is_training"].b,
                                   "FusedBatchNormV3(is_training)")}

RULES.update({"Sigmoid": sigmoid, "Tanh": tanh, "Elu": elu, "Softmax": softmax,
              "LogSoftmax": log_softmax, "MaxPool": max_pool, "AvgPool": avg_pool,
              "Sum": sum_, "Mean": mean, "FusedBatchNormV3": fused_batch_norm,
              "Neg": relu, "Abs": relu, "Maximum": maximum, "Minimum": maximum})
ARITHMETIC.update({"Sigmoid", "Tanh", "Elu", "Softmax", "LogSoftmax", "MaxPool", "AvgPool", "Sum",
                   "Mean", "FusedBatchNormV3", "Maximum", "Minimum"})
