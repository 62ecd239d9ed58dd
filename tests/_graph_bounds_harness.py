"""Shared check of the graph-bound tests: one TF1 graph, three other evaluations, one bound.

`check(builder, inputs)` builds `builder(**placeholders)` in a `tf.Graph`, runs it in float32 in
a Session, analyses it, and asserts that every evaluation lies within the derived bound of
the float64 shadow: the TF1 float32 run and an XLA-compiled float32 run (another
implementation, other orders) within `bound + shadow_bound`, an eager float64 run within
`2 shadow_bound`.
"""

import numpy as np

from migration_audit.graph_bounds import analyse_graph


def _dtype(tf, value, wide):
    if value.dtype.kind == "f" and wide:
        return tf.float64
    return tf.as_dtype(value.dtype)


def check(builder, inputs, frac=None, xla=True, variables=None, wide_builder=None, ports=()):
    """Asserts soundness (and, with `frac`, bound <= frac * max |value|); returns (analysis, f32).

    `wide_builder` replaces `builder` for the float64 run (an op with no float64 kernel);
    `ports` are other float32 formulas of the same function, run eagerly, held within
    `bound + shadow_bound` too.
    """
    import tensorflow as tf

    variables = variables or {}
    with tf.Graph().as_default() as graph:
        holders = {k: tf.compat.v1.placeholder(_dtype(tf, v, False), v.shape, name=k)
                   for k, v in inputs.items()}
        holders.update({k: tf.compat.v1.get_variable(k, initializer=tf.constant(v))
                        for k, v in variables.items()})
        out = tf.identity(builder(**holders), name="out")
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            f32 = sess.run(out, {holders[k]: v for k, v in inputs.items()})
    analysis = analyse_graph(graph.as_graph_def(), ["out"], inputs, variables)["out:0"]
    assert analysis.unsupported == (), analysis.unsupported
    shadow, bound, sbound = analysis.shadow, analysis.bound, analysis.shadow_bound
    assert shadow.dtype == np.float64 and shadow.shape == f32.shape
    within(f32, shadow, bound + sbound, "tf1 float32")
    args = {**inputs, **variables}
    wide = (wide_builder or builder)(**{k: tf.constant(v, _dtype(tf, v, True)) for k, v in args.items()})
    within(wide.numpy(), shadow, 2 * sbound, "eager float64")
    if xla:
        fn = tf.function(lambda a: builder(**a), jit_compile=True)
        compiled = fn({k: tf.constant(v) for k, v in args.items()}).numpy()
        within(compiled, shadow, bound + sbound, "xla float32")
    for port in ports:
        within(port(**{k: tf.constant(v) for k, v in args.items()}).numpy(), shadow,
               bound + sbound, "port")
    if frac is not None:
        scale = np.abs(shadow).max()
        assert np.isfinite(bound).all() and bound.max() <= frac * scale, (bound.max(), scale)
    return analysis, f32


def within(actual, expected, bound, what):
    """|actual - expected| <= bound elementwise, equal values (infinities too) always within."""
    actual = np.asarray(actual, np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.where(actual == expected, 0.0, np.abs(actual - expected))
    bad = ~(diff <= bound)
    assert not bad.any(), (what, actual[bad][:5], expected[bad][:5], bound[bad][:5])
