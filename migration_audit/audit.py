"""Runs both ports on the same image and kernels and compares them stage by stage.

Witnesses (each gives `conv1`, `pool` and `output`, 4-D, batch first):

- `tf1_session`: the faithful port, `legacy_tf1.graph.run_session` (a fresh
  graph and session; it also gives the original's `display` picture for a
  batch of one). Its kernels (drawn with the seed, or the given weights)
  are the ones every other witness uses.
- `tf2_eager`, `tf2_function`, `tf2_xla`: `tf2.DeconvDemo` op by op, as a
  traced `tf.function`, and compiled with XLA.
- `tf2_fast`: `DeconvDemo.output(images)`, the output-only path
  (only the conv channels the deconv kernel reads); `output` alone.
- `original_script`: the published script file itself, run unchanged by
  `legacy_tf1.original` with the same kernels (`display` only; it
  hard-codes a 750x500 8-bit RGB image, so it runs only on such an image,
  and is otherwise listed as skipped).
- `keras_model`: `tf2.keras_model.build_keras_demo`, the demo as a Keras 3
  model of standard layers, with the same kernels (every stage).
- `float64_reference`: `migration_audit.reference`, an independent float64
  NumPy implementation of the three ops, written from their definitions.

Each row carries one of two claims (`migration_audit.compare`):

- `bit-identical`: `tf2_eager` and `tf2_function` against `tf1_session`, and
  the original's displayed picture against `tf2_function`'s `output[0]`,
  `keras_model` against `tf1_session` (Keras's TensorFlow backend issues the
  session's ops with the same attributes) and `original_script`'s
  `display` against `tf1_session`'s `output[0]` (the same graph ops):
  the same TensorFlow kernels on the same shapes, in one process and one
  configuration, so the same bytes by construction;
- `bound`: every other row (XLA and the fast path order their sums
  differently; the float64 reference rounds differently): |difference| <=
  the per-element bound of `migration_audit.bounds`.

The audit passes when every row's claim holds.
"""

import contextlib
import dataclasses
import io
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from migration_audit import reference
from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, demo_bounds, pair_bound
from migration_audit.compare import compare_arrays

__all__ = [
    "AuditResult",
    "FAST",
    "REFERENCE",
    "STAGES",
    "TF1",
    "TF2_EXECUTIONS",
    "compare_witnesses",
    "run_keras_model",
    "run_original_script",
    "witness_bounds",
    "run_audit",
    "run_tf1_session",
    "run_tf2",
]

TF1 = "tf1_session"
FAST = "tf2_fast"
REFERENCE = "float64_reference"
ORIGINAL = "original_script"
KERAS = "keras_model"
#: The one image shape the original script accepts (its reshape is hard-coded).
ORIGINAL_SHAPE = (1, 750, 500, 3)
#: TF2 witness name -> `DeconvDemo.__call__` mode (every stage).
TF2_EXECUTIONS = {"tf2_eager": "eager", "tf2_function": "function", "tf2_xla": "xla"}
#: The witnesses that run the session's very kernels on the same shapes, in
#: one process and configuration: bit-identical to `tf1_session` by
#: construction. (XLA compiles its own kernels; the fast path computes other
#: sums; neither is in this set.)
SAME_KERNELS = ("tf2_eager", "tf2_function")
STAGES = ("conv1", "pool", "output")


@dataclasses.dataclass
class AuditResult:
    """What one audit ran and found.

    Attributes:
        images: the float32 `(N, H, W, 3)` input every witness was given.
        kernels: `{"conv_kernel", "deconv_kernel"}` as every witness used them.
        witnesses: witness name -> {stage: array} (`tf1_session` also has
            `display` for a batch of one; `tf2_fast` has `output` only).
        comparisons: the `Comparison`s, in table order.
        seconds: witness name -> wall time of its run (first calls include
            tracing and XLA compilation; information, not a benchmark).
        skipped: witness name -> why it did not run on this image.
    """

    images: np.ndarray
    kernels: dict
    witnesses: dict
    comparisons: list
    seconds: dict
    skipped: dict = dataclasses.field(default_factory=dict)

    @property
    def passed(self):
        """Every comparison within tolerance."""
        return all(c.passed for c in self.comparisons)


def run_tf1_session(images, seed=None, weights=None):
    """The `tf1_session` witness: `legacy_tf1.graph.run_session`'s dict."""
    from legacy_tf1.graph import run_session

    return run_session(images, seed=seed, weights=weights)


def run_tf2(images, conv_kernel, deconv_kernel):
    """The TF2 witnesses: every `TF2_EXECUTIONS` execution, then the fast path.

    Returns:
        `(witnesses, seconds)`: witness name -> {stage: array}, and the
        wall time of each.
    """
    from tf2.demo import DeconvDemo

    demo = DeconvDemo(conv_kernel=conv_kernel, deconv_kernel=deconv_kernel)
    witnesses, seconds = {}, {}
    for name, execution in TF2_EXECUTIONS.items():
        start = time.perf_counter()
        witnesses[name] = {k: v.numpy() for k, v in demo.stages(images, execution=execution).items()}
        seconds[name] = time.perf_counter() - start
    start = time.perf_counter()
    witnesses[FAST] = {"output": demo.output(images).numpy()}
    seconds[FAST] = time.perf_counter() - start
    return witnesses, seconds


def run_original_script(images, conv_kernel, deconv_kernel):
    """The `original_script` witness: the published script, unchanged, same kernels.

    The script reads `timg.jpg` from its folder and reshapes it to
    `[1, 750, 500, 3]`; it is copied to a temporary folder beside the audit's
    image, written losslessly (PNG bytes under the name `timg.jpg`: Pillow
    opens a file by its content), so it reads exactly the pixels every other
    witness is given. Its standard output (the filter slices) is captured.

    Returns:
        `(stages, None)` with `stages = {"display", "conv_kernel",
        "deconv_kernel"}`, or `(None, reason)` when the image is not one the
        script can read (another shape, or pixels that are not 8-bit).
    """
    from PIL import Image

    from legacy_tf1.original import SHIPPED_SCRIPT, run_script

    if images.shape != ORIGINAL_SHAPE:
        return None, (f"the script reshapes its image to {list(ORIGINAL_SHAPE)}; this input is "
                      f"{list(images.shape)}")
    pixels = images[0]
    if not (np.array_equal(pixels, np.round(pixels)) and pixels.min() >= 0
            and pixels.max() <= 255):
        return None, "the script reads 8-bit pixels; this image's values are not integers 0..255"
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / SHIPPED_SCRIPT.name
        shutil.copyfile(SHIPPED_SCRIPT, script)
        Image.fromarray(pixels.astype(np.uint8)).save(script.parent / "timg.jpg", format="PNG")
        logger.setLevel("ERROR")  # the script's own TF1 deprecation notices
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = run_script(script, weights={"conv_kernel": conv_kernel,
                                                     "deconv_kernel": deconv_kernel})
        finally:
            logger.setLevel(level)
    return {"display": result.display, **result.kernels}, None


def run_keras_model(images, conv_kernel, deconv_kernel):
    """The `keras_model` witness: `tf2.keras_model.build_keras_demo`, same kernels."""
    from tf2.keras_model import build_keras_demo

    model = build_keras_demo(conv_kernel=conv_kernel, deconv_kernel=deconv_kernel)
    return {name: np.asarray(value) for name, value in model(images).items()}


def witness_bounds(images, conv_kernel, deconv_kernel, exact_conv1=None):
    """The per-element bounds of each float32 and float64 witness, per stage.

    Returns:
        `{"float32": {stage: bound}, "float64": {stage: bound}}`: each
        witness's bound against the exact result (`bounds.demo_bounds`).
    """
    return {"float32": demo_bounds(images, conv_kernel, deconv_kernel, exact_conv1=exact_conv1),
            "float64": demo_bounds(images, conv_kernel, deconv_kernel, FLOAT64_UNIT_ROUNDOFF,
                                   exact_conv1=exact_conv1)}


def compare_witnesses(witnesses, bounds):
    """Builds the comparison table from the witnesses' arrays.

    Per stage: each TF2 mode against `tf1_session`, then `tf1_session` and
    each TF2 mode against the float64 reference; for `output`, the fast path
    against both too; last, the original's `display` picture against
    `tf2_function`'s `output[0]` (batch of one). `keras_model` (every
    stage) and `original_script` (`display`) are held against `tf1_session`
    where they ran.

    Args:
        witnesses: witness name -> {stage: array}.
        bounds: `witness_bounds(...)` of the same inputs.

    Returns:
        A list of `Comparison`.
    """
    rows = []
    tf1 = witnesses[TF1]
    ref = witnesses[REFERENCE]
    single, double = bounds["float32"], bounds["float64"]
    for stage in STAGES:
        tested = list(TF2_EXECUTIONS) + ([FAST] if stage in witnesses[FAST] else [])
        for name in tested:
            claim = "bit-identical" if name in SAME_KERNELS else "bound"
            rows.append(compare_arrays(stage, name, witnesses[name][stage], TF1, tf1[stage],
                                       pair_bound(single[stage]), claim))
        if KERAS in witnesses:
            # Keras's TF backend runs the session's ops (Conv2D, MaxPool,
            # Conv2DBackpropInput) with the same attributes on the same shapes:
            # the same bytes by construction (tests/test_tf2_keras_model.py).
            rows.append(compare_arrays(stage, KERAS, witnesses[KERAS][stage], TF1, tf1[stage],
                                       pair_bound(single[stage]), "bit-identical"))
        for name in [TF1] + tested:
            rows.append(compare_arrays(stage, name, witnesses[name][stage], REFERENCE,
                                       ref[stage], pair_bound(single[stage], double[stage])))
    if tf1.get("display") is not None:
        # The original's squeeze/transpose chain only moves values: the same
        # bytes as output[0] of the same kernels (a bit-identical claim).
        rows.append(compare_arrays("display", "tf2_function output[0]",
                                   witnesses["tf2_function"]["output"][0],
                                   "tf1_session display", tf1["display"],
                                   pair_bound(single["output"][0]), "bit-identical"))
    if ORIGINAL in witnesses:
        # The published script builds the same graph ops on the same shapes,
        # pixels and kernels, in a session of this process; its chain only
        # moves values: the same bytes as output[0] by construction.
        rows.append(compare_arrays("display", "original_script display",
                                   witnesses[ORIGINAL]["display"], "tf1_session output[0]",
                                   tf1["output"][0], pair_bound(single["output"][0]),
                                   "bit-identical"))
    return rows


def run_audit(images, seed=None, weights=None):
    """Runs every witness on `images` and compares them.

    Args:
        images: `(H, W, 3)` or `(N, H, W, 3)` array, cast to float32.
        seed: graph-level seed of the TF1 port's Glorot draw of the conv
            kernel (`None`: drawn anew); ignored for kernels in `weights`.
        weights: optional `{"conv_kernel", "deconv_kernel"}` (either or
            both) to use instead of the TF1 port's initializers.

    Returns:
        An `AuditResult`.

    Example:
    >>> result = run_audit(np.ones((1, 3, 2, 3), np.float32), seed=0)
    >>> result.passed, result.witnesses["tf2_xla"]["output"].shape
    (True, (1, 4, 2, 3))
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[np.newaxis]
    start = time.perf_counter()
    tf1 = run_tf1_session(images, seed=seed, weights=weights)
    seconds = {TF1: time.perf_counter() - start}
    kernels = {name: tf1[name] for name in ("conv_kernel", "deconv_kernel")}
    witnesses, tf2_seconds = run_tf2(images, **kernels)
    witnesses[TF1] = tf1
    seconds.update(tf2_seconds)
    skipped = {}
    start = time.perf_counter()
    witnesses[KERAS] = run_keras_model(images, **kernels)
    seconds[KERAS] = time.perf_counter() - start
    start = time.perf_counter()
    original, why = run_original_script(images, **kernels)
    if original is None:
        skipped[ORIGINAL] = why
    else:
        witnesses[ORIGINAL] = original
        seconds[ORIGINAL] = time.perf_counter() - start
    start = time.perf_counter()
    witnesses[REFERENCE] = reference.demo_stages(images, **kernels)
    seconds[REFERENCE] = time.perf_counter() - start
    bounds = witness_bounds(images, **kernels, exact_conv1=witnesses[REFERENCE]["conv1"])
    return AuditResult(images=images, kernels=kernels, witnesses=witnesses,
                       comparisons=compare_witnesses(witnesses, bounds), seconds=seconds,
                       skipped=skipped)
