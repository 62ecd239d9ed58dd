"""Per-element rounding bounds of the demo's float32 stages, derived, not measured.

Any two float32 implementations of the pipeline (the TF1 session, TF2 eager,
`tf.function`, XLA, the fast path, a tiled or batch-split run, oneDNN or
Eigen, any instruction set or thread count) compute the same sums of
products in orders of their own. None of them promises an order, so
agreement between two of them is claimed only within a bound that holds
for every order. This module computes that bound, per element, in float64:

- *conv2d* (each element a sum of n = kh * kw * C products of float32
  values): for any order of summation, with or without fused multiply-add,
  the computed value is within gamma_n * S of the exact one, where
  S = sum |x| |w| over the same terms and gamma_n = n u / (1 - n u),
  u = 2**-24 (Higham, *Accuracy and Stability of Numerical Algorithms*,
  eq. 3.5). Terms whose product is exactly zero (padding, zero taps of the
  fast path's window kernel) add nothing and do not change the bound.
- *max pool* is exact, but it passes its input's error on: if every input
  of a window is within e of its exact value, the computed max is within
  max(e) of the exact max. So the pool's bound is the max of conv1's bounds
  over the window.
- *conv2d_transpose* (each element a sum of at most n = ceil(kh / s) *
  ceil(kw / s) * C products) of an input that is itself off by the pool's
  bound B_p: its error is the rounding of its own sum, gamma_n * T(|p| +
  B_p, |w|), plus the propagated input error, T(B_p, |w|), where T is the
  transposed convolution of those nonnegative arrays.
- TensorFlow runs its CPU kernels with denormals flushed to zero (inputs
  and results), so each operation can also lose up to the smallest normal
  float32, 2**-126, in absolute terms; the bound adds 2 n of those per
  element, and the full products of any subnormal input.

Those are bounds of each witness against the exact result of its float32
inputs; two float32 witnesses differ by at most twice the bound, and a
float32 witness differs from the float64 reference by at most the float32
bound plus the float64 one (the same formula with u = 2**-53).

Where the exact result leaves float32's range (|value| near 3.4e38 or
beyond), float32 has no answer to be close to: the bound is infinite there
and the element is left out of the verdict (`unbounded`).
"""

import math

import numpy as np

from migration_audit import reference

__all__ = [
    "FLOAT32_UNIT_ROUNDOFF",
    "conv2d_transpose_bound",
    "FLOAT64_UNIT_ROUNDOFF",
    "FLUSH_LIMIT",
    "demo_bounds",
    "error_over_bound",
    "gamma",
    "pair_bound",
    "sum_bound",
    "ulp_distance",
]

#: Unit roundoff of float32 (round to nearest): half the gap above 1.0.
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
#: Unit roundoff of float64.
FLOAT64_UNIT_ROUNDOFF = 2.0**-53
#: The smallest normal float32: what flushing a subnormal to zero can lose.
FLUSH_LIMIT = float(np.finfo(np.float32).tiny)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The float64 arithmetic that evaluates a bound rounds too: this factor
#: covers its relative error (a few hundred float64 roundings at most).
_SAFETY = 1.0 + 2.0**-40


def gamma(n, unit_roundoff=FLOAT32_UNIT_ROUNDOFF):
    """Higham's gamma_n = n u / (1 - n u): the relative error bound of an n-term sum.

    Args:
        n: the number of products in the sum (int >= 0).
        unit_roundoff: u of the arithmetic (`FLOAT32_UNIT_ROUNDOFF` default).

    Returns:
        gamma_n as a float.

    Raises:
        ValueError: `n` is negative or `n * u >= 1` (no bound exists).

    Example:
    >>> gamma(1) == 2.0**-24 / (1 - 2.0**-24)
    True
    >>> round(gamma(27) / 2.0**-24, 4)
    27.0
    """
    if n < 0 or n * unit_roundoff >= 1:
        raise ValueError(f"gamma_n needs 0 <= n * u < 1. Received: n={n}, u={unit_roundoff}")
    return n * unit_roundoff / (1.0 - n * unit_roundoff)


def sum_bound(terms, unit_roundoff=FLOAT32_UNIT_ROUNDOFF):
    """The bound of a sum of products, in any order: gamma_n * sum |terms|.

    Args:
        terms: the products (float64 array, exact), summed over the last axis.
        unit_roundoff: u of the arithmetic that sums them.

    Returns:
        float64 array: the bound of each sum.

    Example:
    >>> round(float(sum_bound([1.0, -2.0, 3.0])) / (gamma(3) * 6.0), 9)
    1.0
    """
    terms = np.asarray(terms, np.float64)
    n = terms.shape[-1]
    return gamma(n, unit_roundoff) * np.abs(terms).sum(axis=-1) * _SAFETY


def conv2d_transpose_bound(x, kernel, output_hw, stride, unit_roundoff=FLOAT32_UNIT_ROUNDOFF):
    """Per-element bound of one conv2d_transpose (SAME) of exact inputs, any order of sums.

    Each output element sums at most n = ceil(kh / s) * ceil(kw / s) * C
    products: gamma_n times the transposed convolution of |x| with |kernel|
    (flushed subnormals aside: `demo_bounds` adds them).

    Args:
        x: `(N, h, w, C)` input.
        kernel: `(kh, kw, O, C)`.
        output_hw: the output's (H, W).
        stride: the stride (both axes).
        unit_roundoff: u of the arithmetic.

    Returns:
        float64 `(N, H, W, O)`.

    Example:
    >>> b = conv2d_transpose_bound(np.ones((1, 1, 1, 1)), np.ones((3, 3, 1, 1)), (2, 2), 2)
    >>> bool(b[0, 0, 0, 0] >= gamma(4))
    True
    """
    kernel = np.asarray(kernel, np.float64)
    n = math.ceil(kernel.shape[0] / stride) * math.ceil(kernel.shape[1] / stride) * kernel.shape[3]
    with np.errstate(all="ignore"):
        total = reference.conv2d_transpose_same(np.abs(np.asarray(x, np.float64)), np.abs(kernel),
                                                output_hw, stride=stride)
    return gamma(n, unit_roundoff) * total * _SAFETY


def _subnormal(x):
    magnitude = np.abs(x)
    return np.where((magnitude > 0) & (magnitude < FLUSH_LIMIT), magnitude, 0.0)


def _transpose(x, w, out_hw):
    return reference.conv2d_transpose_same(x, w, out_hw)


def demo_bounds(images, conv_kernel, deconv_kernel, unit_roundoff=FLOAT32_UNIT_ROUNDOFF,
                exact_conv1=None):
    """Bounds of |computed - exact| for each stage of the demo, per element.

    The exact result is that of exact arithmetic on the given (float32)
    inputs; the computed one is any implementation of the three ops that
    rounds with unit roundoff `unit_roundoff` and sums in any order
    (module docstring).

    Args:
        images: `(N, H, W, C)` input of conv1.
        conv_kernel: `(kh, kw, C, K)`, conv2d SAME stride 1.
        deconv_kernel: `(kh, kw, O, K)`, conv2d_transpose SAME stride 2
            (max pool 2x2 stride 2 SAME in between).
        unit_roundoff: `FLOAT32_UNIT_ROUNDOFF` for float32 witnesses,
            `FLOAT64_UNIT_ROUNDOFF` for the float64 reference.
        exact_conv1: the float64 reference's `conv1` of these inputs, if
            already computed (it is computed here otherwise).

    Returns:
        `{"conv1", "pool", "output"}`: float64 arrays of the stages' shapes,
        each element's bound (`inf` where the exact value may leave
        float32's range).

    Example: a one-pixel image, the conv kernel's centre tap 1 on every
    channel: conv1 sums three products 1 * 1 (the other 24 meet padding).

    >>> image = np.ones((1, 1, 1, 3), np.float32)
    >>> kernel = np.zeros((3, 3, 3, 1), np.float32); kernel[1, 1] = 1
    >>> bounds = demo_bounds(image, kernel, np.zeros((3, 3, 3, 1), np.float32))
    >>> bool(bounds["conv1"][0, 0, 0, 0] > gamma(27) * 3)
    True
    >>> bool(bounds["conv1"][0, 0, 0, 0] < gamma(27) * 3 * 1.0001)
    True
    """
    x = np.asarray(images, np.float64)
    w1 = np.asarray(conv_kernel, np.float64)
    w2 = np.asarray(deconv_kernel, np.float64)
    n1 = w1.shape[0] * w1.shape[1] * w1.shape[2]
    n2 = math.ceil(w2.shape[0] / 2) * math.ceil(w2.shape[1] / 2) * w2.shape[3]
    flush = FLUSH_LIMIT if unit_roundoff == FLOAT32_UNIT_ROUNDOFF else 0.0
    with np.errstate(all="ignore"):
        abs_x, abs_w1, abs_w2 = np.abs(x), np.abs(w1), np.abs(w2)
        s1 = reference.conv2d_same(abs_x, abs_w1)
        b1 = gamma(n1, unit_roundoff) * s1 + 2 * n1 * flush
        if flush and (_subnormal(x).any() or _subnormal(w1).any()):
            b1 = b1 + (reference.conv2d_same(_subnormal(x), abs_w1)
                       + reference.conv2d_same(abs_x, _subnormal(w1)))
        b1 = np.where(s1 * _SAFETY < _FLOAT32_MAX, b1 * _SAFETY, np.inf)

        # The pool's exact values are the max of conv1's; |pool| <= max |conv1|.
        conv1 = reference.conv2d_same(x, w1) if exact_conv1 is None else exact_conv1
        pool_abs = reference.max_pool_same(np.abs(conv1))
        bp = reference.max_pool_same(b1)
        out_hw = (2 * bp.shape[1], 2 * bp.shape[2])
        finite = np.isfinite(bp)
        bp0 = np.where(finite, bp, 0.0)
        upper = pool_abs + bp0  # >= |computed pool| wherever the pool is bounded
        s2 = _transpose(upper, abs_w2, out_hw)
        b2 = gamma(n2, unit_roundoff) * s2 + _transpose(bp0, abs_w2, out_hw) + 2 * n2 * flush
        if flush:
            # A computed pool value below the smallest normal may be flushed.
            maybe_flushed = np.where(pool_abs - bp0 < FLUSH_LIMIT, FLUSH_LIMIT, 0.0)
            b2 = b2 + _transpose(maybe_flushed, abs_w2, out_hw)
            if _subnormal(w2).any():
                b2 = b2 + _transpose(upper, _subnormal(w2), out_hw)
        # An unbounded pool element makes every output it reaches unbounded.
        reach = _transpose((~finite).astype(np.float64), np.ones_like(abs_w2), out_hw) > 0
        unbounded = reach | ~(s2 * _SAFETY < _FLOAT32_MAX)
        b2 = np.where(unbounded, np.inf, b2 * _SAFETY)
    return {"conv1": b1, "pool": bp, "output": b2}


def pair_bound(bounds_a, bounds_b=None):
    """The bound of |a - b| from each witness's bound against the exact result.

    Args:
        bounds_a: witness a's per-element bound (array).
        bounds_b: witness b's; the same as a's when None (two float32
            witnesses of the same computation).

    Returns:
        `bounds_a + bounds_b` (triangle inequality), float64.

    Example:
    >>> pair_bound(np.array([1.0, 2.0])).tolist()
    [2.0, 4.0]
    """
    bounds_a = np.asarray(bounds_a, np.float64)
    return bounds_a + (bounds_a if bounds_b is None else np.asarray(bounds_b, np.float64))


def error_over_bound(actual, expected, bound):
    """max over elements of |actual - expected| / bound, and the unbounded count.

    Elements whose bound is infinite (the exact value may leave float32's
    range) are left out and counted. A zero bound allows only an exact
    match (|difference| 0 gives 0; anything else, inf).

    Args:
        actual, expected: arrays of one shape.
        bound: float64 array of that shape (or broadcastable).

    Returns:
        `(ratio, unbounded)`: the largest ratio (0.0 for no bounded
        element; NaN where a bounded difference is NaN), and how many
        elements were left out.

    Example:
    >>> error_over_bound(np.float32([1, 2]), np.float32([1, 2.5]), np.float64([1, 1]))
    (0.5, 0)
    """
    with np.errstate(all="ignore"):
        actual = np.asarray(actual, np.float64)
        expected = np.asarray(expected, np.float64)
        bound = np.broadcast_to(np.asarray(bound, np.float64), actual.shape)
        bounded = np.isfinite(bound)
        diff = np.abs(actual - expected)
        # Both exactly equal (inf == inf included) is no error at all.
        diff = np.where(actual == expected, 0.0, diff)
        ratio = np.where(diff == 0, 0.0, diff / bound)
        ratio = ratio[bounded]
        unbounded = int(bound.size - np.count_nonzero(bounded))
        if ratio.size == 0:
            return 0.0, unbounded
        if np.isnan(ratio).any():
            return float("nan"), unbounded
        return float(ratio.max()), unbounded


def _ordered_int(x):
    """float32 bits as integers ordered like the floats (-0.0 and 0.0 both 0)."""
    bits = np.ascontiguousarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def ulp_distance(actual, expected):
    """The largest distance in float32 ULPs between two arrays of one shape.

    The expected array is rounded to float32 first (so a float64 reference
    counts as its nearest float32). Counts representable float32 values
    between the two, across zero too; NaN anywhere gives -1.

    Example:
    >>> one = np.float32(1)
    >>> ulp_distance(np.float32([1, 0]), np.float32([np.nextafter(one, np.float32(2)), 0]))
    1
    >>> ulp_distance(np.float32([-0.0]), np.float32([0.0]))
    0
    """
    with np.errstate(all="ignore"):
        a = np.asarray(actual, np.float32)
        e = np.asarray(expected).astype(np.float32)
    if a.size == 0:
        return 0
    if np.isnan(a).any() or np.isnan(e).any():
        return -1
    return int(np.abs(_ordered_int(a) - _ordered_int(e)).max())
