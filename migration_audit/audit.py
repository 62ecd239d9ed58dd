"""Runs every implementation of the demo on the same image and kernels, and compares them.

The implementations are the runners of `migration_audit.runners.RUNNERS`
(the audited ones): `tf1_session` first, whose kernels (drawn with the
seed, or the given weights) every other runner then uses; the TF2 module
op by op, traced, compiled with XLA and by the fast path; the Keras model;
the published script itself (only on a 750x500 8-bit image, else listed as
skipped); and the float64 NumPy reference.

Each row carries the claim its runner states in the registry
(`migration_audit.compare`):

- `bit-identical`: the same TensorFlow kernels on the same shapes, in one
  process and one configuration, so the same bytes by construction (the
  reason is in the runner's entry);
- `bound`: |difference| <= the pair bound of `migration_audit.bounds`.

Per stage, each runner claimed against `tf1_session` is compared with it,
then `tf1_session` and each runner claimed against the float64 reference
with the reference; last, the original's `display` picture: the session's
against `tf2_function`'s `output[0]`, and the published script's against
the session's `output[0]`. The audit passes when every row's claim holds.
"""

import dataclasses
import time

import numpy as np

from deconv_io.dumps import STAGES
from migration_audit import runners
from migration_audit.compare import compare_arrays
from migration_audit.runners import IMAGE, REFERENCE, TF1, claim_bound, precision_bounds

__all__ = ["AuditResult", "compare_witnesses", "run_audit", "run_witnesses"]

#: The runner whose `output[0]` checks the session's own `display` chain.
DISPLAY_CHECK = "tf2_function"


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


def _claim(name, against):
    kinds = [c.kind for c in runners.RUNNERS[name].claims if c.against == against]
    if not kinds:
        raise KeyError(f"runner {name} states no claim against {against}")
    return kinds[0]


def compare_witnesses(witnesses, bounds):
    """Builds the comparison table from the runners' arrays (see the module's docstring).

    Args:
        witnesses: runner name -> {name: array}, in registry order.
        bounds: `runners.precision_bounds(...)` of the same inputs.

    Returns:
        A list of `Comparison`.
    """
    rows = []
    tf1 = witnesses[TF1]

    def row(stage, name, actual, against, expected, label=None, against_label=None):
        rows.append(compare_arrays(stage, label or name, actual, against_label or against,
                                   expected, claim_bound(name, against, bounds, stage),
                                   _claim(name, against)))

    claimed = {against: [name for name in witnesses if name != TF1
                         and any(c.against == against for c in runners.RUNNERS[name].claims)]
               for against in (TF1, REFERENCE)}
    for stage in STAGES:
        for name in claimed[TF1]:
            if stage in witnesses[name]:
                row(stage, name, witnesses[name][stage], TF1, tf1[stage])
        for name in [TF1] + claimed[REFERENCE]:
            if stage in witnesses[name]:
                row(stage, name, witnesses[name][stage], REFERENCE, witnesses[REFERENCE][stage])
    if tf1.get("display") is not None:
        row("display", DISPLAY_CHECK, witnesses[DISPLAY_CHECK]["output"][0], TF1,
            tf1["display"], f"{DISPLAY_CHECK} output[0]", f"{TF1} display")
    for name in claimed[TF1]:
        if "display" in witnesses[name]:
            row("display", name, witnesses[name]["display"], TF1, tf1["output"][0],
                f"{name} display", f"{TF1} output[0]")
    return rows


def run_witnesses(images, seed=None, weights=None, log=None):
    """Runs every audited runner on `images`; the first, `tf1_session`, sets the kernels.

    Args:
        images: float32 `(N, H, W, 3)`.
        seed, weights: see `run_audit`.
        log: called with one progress line per runner as it finishes.

    Returns:
        `(kernels, witnesses, seconds, skipped)`.
    """
    audited = [r for r in runners.RUNNERS.values() if r.audited]
    inputs = {IMAGE: images}
    witnesses, seconds, skipped = {}, {}, {}
    kernels = None
    for index, runner in enumerate(audited, 1):
        start = time.perf_counter()
        why = runner.cannot_run(inputs)
        if why is not None:
            skipped[runner.name] = why
            if log is not None:
                log(f"[{index}/{len(audited)}] {runner.name}: not run ({why})")
            continue
        if runner.name == TF1:
            prepared = runner.prepare(weights, seed=seed)
            try:
                witnesses[TF1] = prepared(inputs)
                kernels = prepared.variables()
            finally:
                prepared.close()
        else:
            witnesses[runner.name] = runner(inputs, kernels)
        seconds[runner.name] = time.perf_counter() - start
        if log is not None:
            log(f"[{index}/{len(audited)}] {runner.name}: "
                f"{', '.join(witnesses[runner.name])} in {seconds[runner.name]:.1f} s")
    return kernels, witnesses, seconds, skipped


def run_audit(images, seed=None, weights=None, log=None):
    """Runs every audited runner on `images` and compares them.

    Args:
        images: `(H, W, 3)` or `(N, H, W, 3)` array, cast to float32.
        seed: graph-level seed of the TF1 port's Glorot draw of the conv
            kernel (`None`: drawn anew); ignored for kernels in `weights`.
        weights: optional `{"conv_kernel", "deconv_kernel"}` (either or
            both) to use instead of the TF1 port's initializers.
        log: called with one progress line per runner as it finishes.

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
    kernels, witnesses, seconds, skipped = run_witnesses(images, seed, weights, log)
    bounds = precision_bounds(images, kernels, exact_conv1=witnesses[REFERENCE]["conv1"])
    return AuditResult(images=images, kernels=kernels, witnesses=witnesses,
                       comparisons=compare_witnesses(witnesses, bounds), seconds=seconds,
                       skipped=skipped)
