"""migration_audit.bounds: the derived rounding bounds, by hand and against sums in other orders.

The bound is the project's only tolerance, so it is tested three ways:
worked by hand (gamma_n, one-pixel stages, the pool passing conv1's bound
on), tight (a float32 sum that loses almost exactly gamma_n * sum |terms|),
and sound (float32 sums in deliberately different orders, and with inputs
flushed to zero as TensorFlow's CPU kernels do, all stay inside it, while a
perturbation of a few bounds does not).
"""

import numpy as np
import pytest

from migration_audit import reference
from migration_audit.bounds import (FLOAT32_UNIT_ROUNDOFF, FLOAT64_UNIT_ROUNDOFF, FLUSH_LIMIT,
                                    demo_bounds, error_over_bound, gamma, pair_bound, sum_bound,
                                    ulp_distance)

U = FLOAT32_UNIT_ROUNDOFF
REL = 1 + 1e-9  # the bound's own float64 safety factor is far below this


def test_gamma_worked_by_hand():
    assert gamma(0) == 0.0
    assert gamma(27) == 27 * U / (1 - 27 * U)
    assert gamma(256, FLOAT64_UNIT_ROUNDOFF) == 256 * 2.0**-53 / (1 - 256 * 2.0**-53)
    with pytest.raises(ValueError, match="gamma_n needs 0 <= n \\* u < 1"):
        gamma(2**24)
    with pytest.raises(ValueError):
        gamma(-1)


@pytest.mark.parametrize("n", [2, 27, 256])
def test_the_bound_is_tight_for_a_sum_that_loses_every_small_term(n):
    # 1 + 2**-24 rounds back to 1 (ties to even), n - 1 times in a row: the
    # float32 sum is 1, the exact one 1 + (n - 1) 2**-24. The error is
    # (n - 1) u and the bound gamma_n (1 + (n - 1) u) ~ n u: ratio (n - 1) / n.
    terms = np.array([1.0] + [U] * (n - 1))
    computed = np.float32(0)
    for term in terms.astype(np.float32):
        computed = np.float32(computed + term)
    exact = 1.0 + (n - 1) * U
    error = abs(float(computed) - exact)
    assert error == (n - 1) * U
    ratio = error / float(sum_bound(terms))
    # (n - 1) u / (gamma_n (1 + (n - 1) u)) = (n - 1) / n * (1 - n u) / (1 + (n - 1) u)
    assert (n - 1) / n * (1 - 2 * n * U) / REL <= ratio <= 1


def _conv1_float32(images, kernel, order):
    """conv1 of the demo in float32, summing the 27 products per pixel in `order`."""
    n, h, w, c = images.shape
    padded = np.zeros((n, h + 2, w + 2, c), np.float32)
    padded[:, 1:-1, 1:-1] = images
    products = np.stack([padded[:, di:di + h, dj:dj + w, ch, None] * kernel[di, dj, ch]
                         for di in range(3) for dj in range(3) for ch in range(c)])
    if order == "forward":
        steps = range(len(products))
    elif order == "reverse":
        steps = reversed(range(len(products)))
    else:  # largest magnitude first, element by element: the worst of the usual orders
        index = np.argsort(-np.abs(products), axis=0)
        products = np.take_along_axis(products, index, axis=0)
        steps = range(len(products))
    total = np.zeros(products.shape[1:], np.float32)
    for step in steps:
        total = (total + products[step]).astype(np.float32)
    return total


def _pool(x):
    return reference.max_pool_same(x).astype(np.float32)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (1, 13, 9, 3)).astype(np.float32)
    conv = rng.uniform(-0.3, 0.3, (3, 3, 3, 8)).astype(np.float32)
    deconv = rng.uniform(-1, 1, (3, 3, 3, 8)).astype(np.float32)
    return images, conv, deconv


def test_conv1_summed_in_other_orders_stays_inside(case):
    images, conv, deconv = case
    single = demo_bounds(images, conv, deconv)
    double = demo_bounds(images, conv, deconv, FLOAT64_UNIT_ROUNDOFF)
    exact = reference.conv2d_same(images, conv)
    sums = {order: _conv1_float32(images, conv, order)
            for order in ("forward", "reverse", "largest-first")}
    assert not np.array_equal(sums["forward"], sums["largest-first"])  # the orders differ
    for order, conv1 in sums.items():
        ratio, unbounded = error_over_bound(conv1, exact, single["conv1"] + double["conv1"])
        assert 0 < ratio <= 1 and unbounded == 0, order
        ratio, _ = error_over_bound(conv1, sums["forward"], pair_bound(single["conv1"]))
        assert ratio <= 1, order
        # The pool passes the error on: a max of values each within its bound.
        ratio, _ = error_over_bound(_pool(conv1), reference.max_pool_same(exact),
                                    single["pool"] + double["pool"])
        assert ratio <= 1, order


def test_output_from_a_perturbed_pool_stays_inside(case):
    # The transposed conv of a pool that is itself off by its bound (the
    # worst the pool can be), in float32: still inside the output's bound.
    images, conv, deconv = case
    single = demo_bounds(images, conv, deconv)
    exact = reference.demo_stages(images, conv, deconv)
    worst_pool = (exact["pool"] + np.sign(deconv.sum()) * single["pool"]).astype(np.float32)
    out_hw = exact["output"].shape[1:3]
    output = np.zeros(exact["output"].shape, np.float32)
    n, h, w, _ = worst_pool.shape
    big = np.zeros((n, 2 * h + 2, 2 * w + 2, deconv.shape[2]), np.float32)
    for di in range(3):
        for dj in range(3):
            contrib = np.einsum("nhwc,oc->nhwo", worst_pool, deconv[di, dj]).astype(np.float32)
            big[:, di:di + 2 * h:2, dj:dj + 2 * w:2] += contrib
    output[...] = big[:, :out_hw[0], :out_hw[1]]
    ratio, _ = error_over_bound(output, exact["output"], single["output"])
    assert 0 < ratio <= 1


def test_one_pixel_stages_worked_by_hand():
    # conv1 sums three products 1 * 1 (the other 24 meet padding): S = 3.
    # The pool of one value passes its bound on. The output's corner (0, 0)
    # is the pool times the deconv kernel's tap (0, 0), 2 (SAME padding puts
    # nothing before the first row and column here): S = 2 (3 + B_p),
    # plus the pool's own error carried, 2 B_p.
    image = np.ones((1, 1, 1, 3), np.float32)
    conv = np.zeros((3, 3, 3, 1), np.float32)
    conv[1, 1] = 1
    deconv = np.zeros((3, 3, 3, 1), np.float32)
    deconv[0, 0, 0, 0] = 2
    b = demo_bounds(image, conv, deconv)
    b1 = gamma(27) * 3 + 2 * 27 * FLUSH_LIMIT
    assert b["conv1"][0, 0, 0, 0] == pytest.approx(b1, rel=1e-9)
    assert b["pool"][0, 0, 0, 0] == b["conv1"][0, 0, 0, 0]
    bp = b["pool"][0, 0, 0, 0]
    b2 = gamma(4 * 1) * 2 * (3 + bp) + 2 * bp + 2 * 4 * FLUSH_LIMIT
    assert b["output"][0, 0, 0, 0] == pytest.approx(b2, rel=1e-9)
    # Output channels 1 and 2 read nothing: their bound is the flush term only.
    assert b["output"][0, 0, 0, 1] == pytest.approx(2 * 4 * FLUSH_LIMIT, rel=1e-9)


def test_the_pool_bound_is_the_max_over_the_window():
    image = np.zeros((1, 2, 2, 3), np.float32)
    image[0, 1, 1] = 100.0  # conv1 is large near that pixel only
    conv = np.ones((3, 3, 3, 1), np.float32)
    b = demo_bounds(image, conv, np.zeros((3, 3, 1, 1), np.float32))
    assert b["pool"][0, 0, 0, 0] == b["conv1"][0].max()


def test_a_few_bounds_off_fails(case):
    images, conv, deconv = case
    single = demo_bounds(images, conv, deconv)
    exact = reference.demo_stages(images, conv, deconv)
    off = exact["output"] + 3 * single["output"]
    assert error_over_bound(off, exact["output"], pair_bound(single["output"]))[0] >= 1.5


def test_flushed_subnormal_inputs_stay_inside():
    # TensorFlow's CPU kernels treat subnormal inputs as zero: the bound
    # counts their products. A kernel of subnormals computes as all zeros.
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (1, 5, 4, 3)).astype(np.float32)
    conv = (rng.uniform(0.5, 1, (3, 3, 3, 2)) * 1e-39).astype(np.float32)
    assert 0 < np.abs(conv).max() < FLUSH_LIMIT
    deconv = rng.uniform(-1, 1, (3, 3, 3, 2)).astype(np.float32)
    b = demo_bounds(images, conv, deconv)
    exact = reference.conv2d_same(images, conv)
    assert np.abs(exact).max() > 1e-37  # far from zero, yet what a flushing kernel gives
    assert error_over_bound(np.zeros_like(exact), exact, b["conv1"])[0] <= 1


def test_values_beyond_float32_are_unbounded_not_failed():
    images = np.full((1, 3, 3, 3), 255, np.float32)
    conv = np.full((3, 3, 3, 2), 1e37, np.float32)  # conv1 ~ 7e40: overflows float32
    deconv = np.ones((3, 3, 3, 2), np.float32)
    b = demo_bounds(images, conv, deconv)
    assert np.isinf(b["conv1"]).all() and np.isinf(b["output"]).all()
    with np.errstate(over="ignore"):
        computed = np.full(b["conv1"].shape, np.inf, np.float32)
    ratio, unbounded = error_over_bound(computed, reference.conv2d_same(images, conv),
                                        b["conv1"])
    assert (ratio, unbounded) == (0.0, computed.size)


def test_ulp_distance_worked_by_hand():
    one = np.float32(1)
    up = np.nextafter(one, np.float32(2))
    assert ulp_distance(np.float32([1, 2]), np.float32([1, 2])) == 0
    assert ulp_distance(np.float32([up]), np.float32([one])) == 1
    tiny = np.float32(1.4e-45)  # the smallest subnormal: one step from zero
    assert ulp_distance(np.float32([tiny]), np.float32([-tiny])) == 2
    assert ulp_distance(np.float32([np.nan]), np.float32([1])) == -1
    # A float64 reference counts as its nearest float32.
    assert ulp_distance(np.float32([0.1]), np.float64([0.1])) == 0
