"""Every implementation of the demo as a runner, in one registry.

A runner has a `name`, is called as `runner(inputs, variables)` and returns
named NumPy arrays. For the demo, `inputs = {"image": (N, H, W, 3) float32}`
and `variables = {"conv_kernel", "deconv_kernel"}` (float32 [3, 3, 3, 64]);
the arrays are the stages `conv1`, `pool`, `output` (the fast path:
`output` alone), and `display` (the original's picture) where a runner
draws it. `runner.prepare(variables)` does the setup once and returns the
callable of the inputs that `runner(inputs, variables)` calls, so that the
benchmark times exactly what the audit runs. A runner that cannot run on
given inputs says why (`cannot_run`).

Each runner states its claims against other runners (`Claim`):
`bit-identical` by construction (the reason is in the entry), or `bound`:
within the pair bound of `migration_audit.bounds`, from each side's
per-element bound against the exact result (float32 or float64).

`RUNNERS` is the registry; the audit, `matrix`, the benchmarks and the
tests iterate it. TensorFlow is imported when a runner is prepared.

Example:
>>> [name for name, r in RUNNERS.items() if r.gives == ("output",)]
['tf2_fast', 'tf2_fast_window', 'tf2_fast_parity']
"""

import contextlib
import io
from typing import NamedTuple

import numpy as np

from deconv_io.dumps import STAGES
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, demo_bounds, pair_bound

__all__ = ["BIT_IDENTICAL", "BOUND", "Claim", "CannotRun", "IMAGE", "KERNELS", "REFERENCE",
           "RUNNERS", "Runner", "TF1", "claim_bound", "compared_arrays", "precision_bounds"]

BIT_IDENTICAL, BOUND = "bit-identical", "bound"
TF1, REFERENCE = "tf1_session", "float64_reference"
#: The demo's one input, and its two variables.
IMAGE = "image"
KERNELS = ("conv_kernel", "deconv_kernel")


class CannotRun(ValueError):
    """A runner was called on inputs it cannot run on (the message says why)."""


class Claim(NamedTuple):
    """What a runner promises against another one.

    Attributes:
        against: the other runner's name.
        kind: `BIT_IDENTICAL` or `BOUND`.
        why: the reason (for a bit-identical claim, why it holds by construction).
    """

    against: str
    kind: str
    why: str


class Runner:
    """One implementation of the demo: `runner(inputs, variables) -> {name: array}`.

    Args:
        name: the registry key.
        gives: the names of the arrays it returns (`display` only for a
            batch of one, where it is listed).
        claims: its `Claim`s against other runners.
        prepare: `(variables, names) -> Prepared`, the setup.
        precision: `"float32"` or `"float64"` (which bound its arrays keep).
        audited: whether the demo's audit runs it (the fast path's two forms
            are timed and tested; the audit runs `tf2_fast`, which runs one).
        cannot_run: `inputs -> reason or None`.
    """

    def __init__(self, name, gives, claims, prepare, precision="float32", audited=True,
                 cannot_run=None):
        self.name, self.gives, self.claims = name, tuple(gives), tuple(claims)
        self.precision, self.audited = precision, audited
        self._prepare, self._cannot_run = prepare, cannot_run

    def cannot_run(self, inputs):
        """Why this runner cannot run on `inputs`, or None when it can."""
        return None if self._cannot_run is None else self._cannot_run(inputs)

    def prepare(self, variables, names=None, **options):
        """The setup: returns `prepared(inputs) -> {name: array}` with a `close()`.

        Args:
            variables: `{"conv_kernel", "deconv_kernel"}`.
            names: the arrays wanted (default: all it gives).
            **options: runner-specific (`tf1_session`: `seed=`).
        """
        return self._prepare(dict(variables or {}), None if names is None else tuple(names),
                             **options)

    def __call__(self, inputs, variables, names=None):
        """Prepares, runs once on `inputs`, closes; the named arrays.

        Raises:
            CannotRun: the runner cannot run on these inputs.
        """
        why = self.cannot_run(inputs)
        if why is not None:
            raise CannotRun(f"{self.name}: {why}")
        prepared = self.prepare(variables, names)
        try:
            return prepared(inputs)
        finally:
            prepared.close()

    def __repr__(self):
        return f"Runner({self.name!r})"


def _pick(results, names):
    return results if names is None else {name: results[name] for name in names}


class _Prepared:
    """A prepared runner: `call(images) -> dict`, nothing to release."""

    def __init__(self, call, names):
        self.call, self.names = call, names

    def __call__(self, inputs):
        return _pick(self.call(inputs[IMAGE]), self.names)

    def close(self):
        pass


class _Tf1Prepared:
    """`legacy_tf1.graph.GraphSession`s, one per input shape, the image fed.

    The graph is built once for a shape; each call feeds the batch to the
    tensor through which `conv1` reads the image variable. Kernels missing
    from `variables` are drawn by the graph's initializers (`seed`: the
    graph-level seed, as `run_session`'s); `variables()` reads them back.
    """

    def __init__(self, variables, names, seed=None):
        self.weights, self.names, self.seed = variables, names, seed
        self.session = self.shape = None

    def _session(self, images):
        from legacy_tf1.graph import GraphSession

        if self.shape != images.shape:
            self.close()
            self.session = GraphSession(images, seed=self.seed, weights=self.weights,
                                        feed_image=True)
            self.shape = images.shape
        return self.session

    def __call__(self, inputs):
        images = np.asarray(inputs[IMAGE], np.float32)
        session = self._session(images)
        names = self.names or STAGES + (("display",) if session.stages.display is not None
                                        else ())
        return session.run(names, images)

    def variables(self):
        """The kernels the session holds (drawn or given), as NumPy arrays."""
        return self.session.run(KERNELS)

    def close(self):
        if self.session is not None:
            self.session.close()
            self.session = self.shape = None


def _tf1_session(variables, names, seed=None):
    return _Tf1Prepared(variables, names, seed)


class _Tf2Prepared:
    """A `tf2.DeconvDemo` with the kernels and the method a runner calls.

    The batch goes in through `tf2._convert.as_tensor` (no copy of an aligned array)
    and the results come back as `tf2._convert.as_numpy` views (no copy).
    """

    def __init__(self, variables, names, method):
        from tf2._convert import as_numpy, as_tensor
        from tf2.demo import DeconvDemo

        self.demo = DeconvDemo(**variables)
        self.method, self.names = method(self.demo), names
        self._as_tensor, self._as_numpy = as_tensor, as_numpy

    def __call__(self, inputs):
        results = self.method(self._as_tensor(inputs[IMAGE]))
        if not isinstance(results, dict):
            results = {"output": results}
        return {name: self._as_numpy(value) for name, value in _pick(results, self.names).items()}

    def close(self):
        pass


def _tf2(method):
    return lambda variables, names: _Tf2Prepared(variables, names, method)


def _keras_model(variables, names):
    from tf2.keras_model import build_keras_demo

    model = build_keras_demo(**variables)
    return _Prepared(lambda images: {k: np.asarray(v) for k, v in model(images).items()}, names)


def _reference(variables, names):
    from migration_audit.reference import demo_stages

    return _Prepared(lambda images: demo_stages(images, **variables), names)


def _original_cannot_run(inputs):
    from migration_audit.demo_engine import cannot_run

    return cannot_run(inputs[IMAGE])


def _run_original(images, variables):
    """The published script, unchanged, on `images` with `variables`.

    It runs on a copy beside the given pixels (`demo_engine.shipped_script_on`);
    its standard output (the filter slices) is captured.
    """
    import tensorflow as tf

    from legacy_tf1.original.shim import run_script
    from migration_audit.demo_engine import shipped_script_on

    logger = tf.get_logger()
    level = logger.level
    with shipped_script_on(images) as script:
        logger.setLevel("ERROR")  # the script's own TF1 deprecation notices
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = run_script(script, weights=variables)
        finally:
            logger.setLevel(level)
    return {"display": result.display, **result.kernels}


def _original_script(variables, names):
    return _Prepared(lambda images: _run_original(images, variables), names)


_SAME_OPS = ("the session's very kernels (Conv2D, MaxPool, Conv2DBackpropInput) with the same "
             "attributes on the same shapes, in one process and configuration")
_TO_REFERENCE = Claim(REFERENCE, BOUND, "float32 sums in some order against float64 ones")
_OTHER_SUMS = "sums in another order than the session's"

#: The registry: every implementation of the demo, in table order.
RUNNERS = {runner.name: runner for runner in [
    Runner(TF1, STAGES + ("display",), [_TO_REFERENCE], _tf1_session),
    Runner("tf2_eager", STAGES, [Claim(TF1, BIT_IDENTICAL, "op by op: " + _SAME_OPS),
                                 _TO_REFERENCE],
           _tf2(lambda demo: lambda x: demo.stages(x, execution="eager"))),
    Runner("tf2_function", STAGES, [Claim(TF1, BIT_IDENTICAL, "a traced graph of " + _SAME_OPS),
                                    _TO_REFERENCE],
           _tf2(lambda demo: lambda x: demo.stages(x, execution="function"))),
    Runner("tf2_xla", STAGES, [Claim(TF1, BOUND, "XLA compiles its own kernels: " + _OTHER_SUMS),
                               _TO_REFERENCE],
           _tf2(lambda demo: lambda x: demo.stages(x, execution="xla"))),
    Runner("tf2_fast", ("output",),
           [Claim(TF1, BOUND, "window or parity, whichever is measured faster: " + _OTHER_SUMS),
            _TO_REFERENCE], _tf2(lambda demo: demo.output)),
    Runner("tf2_fast_window", ("output",),
           [Claim(TF1, BOUND, "only the channels the deconv kernel reads: " + _OTHER_SUMS),
            _TO_REFERENCE], _tf2(lambda demo: demo.output_window), audited=False),
    Runner("tf2_fast_parity", ("output",),
           [Claim(TF1, BOUND, "three XLA kernels on parity-split planes: " + _OTHER_SUMS),
            _TO_REFERENCE], _tf2(lambda demo: demo.output_parity), audited=False),
    Runner("keras_model", STAGES,
           [Claim(TF1, BIT_IDENTICAL, "Keras's TensorFlow backend issues " + _SAME_OPS)],
           _keras_model),
    Runner("original_script", ("display", "conv_kernel", "deconv_kernel"),
           [Claim(TF1, BIT_IDENTICAL, "the published script builds the same graph ops on the "
                  "same shapes, pixels and kernels, in a session of this process; its "
                  "transpose/squeeze/transpose chain only moves values: output[0]")],
           _original_script, cannot_run=_original_cannot_run),
    Runner(REFERENCE, STAGES, [], _reference, precision="float64"),
]}


def precision_bounds(images, variables, exact_conv1=None):
    """Each precision's per-element bound against the exact result, per stage.

    Returns:
        `{"float32": {stage: bound}, "float64": {stage: bound}}`
        (`bounds.demo_bounds`).
    """
    return {"float32": demo_bounds(images, **variables, exact_conv1=exact_conv1),
            "float64": demo_bounds(images, **variables, unit_roundoff=FLOAT64_UNIT_ROUNDOFF,
                                   exact_conv1=exact_conv1)}


def claim_bound(name, against, bounds, stage):
    """The pair bound of runner `name` against runner `against` at `stage`.

    `display` (one picture) takes `output[0]`'s bound.
    """
    index = (0,) if stage == "display" else ()
    stage = "output" if stage == "display" else stage
    return pair_bound(bounds[RUNNERS[name].precision][stage][index],
                      bounds[RUNNERS[against].precision][stage][index])


def compared_arrays(results, against):
    """`(stage, actual, expected)` for every array two runners' results share.

    The stages both give; and a `display` picture that only one side gives
    against the other's `output[0]` (the original's chain is `output[0]`).
    """
    pairs = [(stage, results[stage], against[stage]) for stage in STAGES
             if stage in results and stage in against]
    if results.get("display") is not None and against.get("display") is not None:
        pairs.append(("display", results["display"], against["display"]))
    elif results.get("display") is not None and "output" in against:
        pairs.append(("display", results["display"], against["output"][0]))
    elif against.get("display") is not None and "output" in results:
        pairs.append(("display", results["output"][0], against["display"]))
    return pairs
