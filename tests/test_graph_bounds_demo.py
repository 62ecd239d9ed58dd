"""The demo's hand-derived bounds (`bounds.demo_bounds`) come out of the graph rules.

The graph is the shipped TF1 port's (`legacy_tf1.graph.build_graph`), analysed as any script's
graph would be. Where the two derivations coincide term by term (positive inputs: every conv1
value is far from zero and |max pool(conv1)| = max pool(|conv1|)), the rules give demo_bounds'
numbers up to the float64 evaluation of the bounds themselves: relative differences of the
order of gamma_27 in float64 (the rules' `safety(n)`) and 2 n t gamma_n absolute (the rules' flush
term), both far below `REL`. With signed inputs the rules are tighter for the output stage:
demo_bounds takes max pool(|conv1|) where the rules take |max pool(conv1)| + its float64 bound,
and the inequality rules <= demo_bounds holds.
"""

import numpy as np
import pytest

from legacy_tf1.graph import build_graph
from migration_audit import reference
from migration_audit.bounds import demo_bounds
from migration_audit.graph_bounds import analyse_graph, pair_bound_of

REL = 1e-9
TARGETS = {"conv1": None, "pool": None, "output": None}


def _analyse(image, conv, deconv):
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        stages = build_graph(image)
        names = {"conv1": stages.conv1.name, "pool": stages.pool.name,
                 "output": stages.output.name}
        variables = {stages.image.op.name: image, "a": conv, "a1": deconv}
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer(), stages.init_feed)
            sess.run([stages.conv_kernel.assign(conv), stages.deconv_kernel.assign(deconv)])
            computed = dict(zip(names, sess.run([stages.conv1, stages.pool, stages.output])))
    analyses = analyse_graph(graph.as_graph_def(), list(names.values()), {}, variables)
    return {stage: analyses[name] for stage, name in names.items()}, computed


@pytest.fixture(scope="module")
def positive():
    rng = np.random.default_rng(1)
    image = rng.uniform(0.5, 255, (1, 9, 7, 3)).astype(np.float32)
    conv = rng.uniform(0.01, 0.3, (3, 3, 3, 64)).astype(np.float32)
    deconv = rng.uniform(0.01, 1, (3, 3, 3, 64)).astype(np.float32)
    return image, conv, deconv


def test_the_rules_give_demo_bounds_on_positive_inputs(positive):
    analyses, computed = _analyse(*positive)
    expected = demo_bounds(*positive)
    expected64 = demo_bounds(*positive, unit_roundoff=2.0**-53)
    for stage in ("conv1", "pool", "output"):
        a = analyses[stage]
        assert a.unsupported == () and np.isfinite(a.bound).all(), stage
        np.testing.assert_allclose(a.bound, expected[stage], rtol=REL, atol=0, err_msg=stage)
        # The shadow's bound: the same rules with u = 2**-53, plus float64's own flush
        # (TensorFlow flushes float64 subnormals too), which demo_bounds leaves out.
        np.testing.assert_allclose(a.shadow_bound, expected64[stage], rtol=1e-6, err_msg=stage)
        assert (np.abs(computed[stage] - a.shadow) <= a.bound + a.shadow_bound).all(), stage
        # The independent NumPy float64 reference is another float64 evaluation.
        ref = reference.demo_stages(*positive)[stage]
        assert (np.abs(ref - a.shadow) <= 2 * a.shadow_bound).all(), stage


def test_the_rules_are_at_most_demo_bounds_on_signed_inputs():
    rng = np.random.default_rng(2)
    image = rng.uniform(-255, 255, (2, 7, 5, 3)).astype(np.float32)
    conv = rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32)
    deconv = rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
    analyses, computed = _analyse(image, conv, deconv)
    expected = demo_bounds(image, conv, deconv)
    for stage in ("conv1", "pool"):
        np.testing.assert_allclose(analyses[stage].bound, expected[stage], rtol=REL, atol=1e-30)
    out = analyses["output"]
    assert (out.bound <= expected["output"] * (1 + REL)).all()
    assert (out.bound < expected["output"]).any()  # strictly tighter somewhere
    assert (np.abs(computed["output"] - out.shadow) <= out.bound + out.shadow_bound).all()


def test_a_flipped_deconv_kernel_is_far_outside_the_pair_bound(positive):
    # The size of a real migration bug: the bound must not hide it.
    image, conv, deconv = positive
    analyses, computed = _analyse(image, conv, deconv)
    _, flipped = _analyse(image, conv, deconv[::-1, ::-1].copy())
    pair = pair_bound_of(analyses["output"])
    assert (np.abs(flipped["output"] - computed["output"]) > pair).any()
    assert (pair <= 1e-4 * np.abs(analyses["output"].shadow).max()).all()
