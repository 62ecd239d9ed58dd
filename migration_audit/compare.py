"""One comparison of the audit: two arrays of one stage, and its figures.

No TensorFlow here: the figures are plain NumPy, computed in float64.

Two kinds of claim, nothing in between (docs/equivalence.md):

- *bit-identical*: the same dtype, shape and bytes; reported for every
  pair, and expected only where it holds by construction (the same kernels
  on the same shapes in one process and configuration);
- *within the derived bound*: |actual - expected| <= bound element by
  element, where the bound comes from the computation itself
  (`migration_audit.bounds`: gamma_n times the sum of |products|,
  propagated conv2d -> max pool -> conv2d_transpose). The verdict is
  `error_over_bound` = max |actual - expected| / bound <= 1.

Beside them the row reports max |difference|, the project's relative error
max |actual - expected| / max |expected| (`relative_error`) and the largest
difference in float32 ULPs: figures to read, not verdicts.
"""

import dataclasses

import numpy as np

from migration_audit.bounds import ulp_distance

__all__ = ["CLAIMS", "Comparison", "compare_arrays", "missing_comparison", "nonfinite_summary",
           "relative_error"]

#: How many points a row keeps of its error/bound profile (for report.png).
PROFILE_POINTS = 512

def relative_error(actual, expected):
    """max |actual - expected| / max |expected|, in float64 (the project's error measure).

    A whole-stage relative error, so that near-zero entries of a float32
    convolution do not blow it up. NaN when a difference is NaN; an all-zero
    `expected` divides by the smallest float64 instead of zero.

    Example:
    >>> relative_error(np.float32([1, 2.5]), np.float32([1, 2]))
    0.25
    """
    with np.errstate(invalid="ignore", over="ignore"):
        actual = np.asarray(actual, np.float64)
        expected = np.asarray(expected, np.float64)
        if not expected.size:
            return 0.0
        diff = np.abs(actual - expected)
        max_abs = float("nan") if np.isnan(diff).any() else float(diff.max())
        scale = float(np.abs(expected).max())
    return max_abs / max(scale, np.finfo(np.float64).tiny)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The figures of one comparison: `actual` against `expected`, one stage.

    Attributes:
        stage: `conv1`, `pool`, `output` or `display`.
        actual: the witness under test (e.g. `tf2_eager`).
        expected: the witness it is held against (e.g. `tf1_session`).
        shape: the actual array's shape.
        expected_shape: the expected array's shape.
        dtype: the actual dtype, or `"float32 vs float64"` when they differ.
        max_abs_diff: max |actual - expected| (inf on a shape mismatch, NaN
            when a non-finite value makes it undefined).
        max_rel_diff: `relative_error(actual, expected)`.
        bit_identical: the same dtype, shape and bytes; `None` when the
            dtypes differ (float32 against the float64 reference).
        bound: the largest per-element bound of the stage (the verdict is
            per element: `error_over_bound`).
        error_over_bound: max over elements of |actual - expected| / bound
            (inf on a shape mismatch; NaN where a difference is NaN).
        ulps: the largest difference in float32 ULPs (-1 with NaN).
        unbounded: elements left out because the exact value may leave
            float32's range (their bound is infinite).
        claim: `"bound"` (the verdict is `error_over_bound <= 1`),
            `"bit-identical"` (the pair runs the same kernels on the same
            shapes in one process and configuration, so the verdict asks
            for the same bytes) or `"empirical"` (no rounding rule covers
            the computation: `bound` is the yardstick of
            `migration_audit.script_audit.empirical_bound`).
        tf1_tensor: the TF1 graph tensor the row compares (script audits).
        worst_index: the index of the element with the largest
            |difference| / bound (None on a shape mismatch).
        nonfinite: `nonfinite_summary(actual, expected)`, or None on a shape
            mismatch: where either side is inf or NaN, and whether they
            agree there. A NaN `actual` where `expected` is finite fails the
            row, and so does an inf there unless the bound is infinite.
        missing: the actual side is missing (a port that did not return
            the key): the row fails.
        profile: error/bound along the flattened elements, max over
            `PROFILE_POINTS` equal bins (for report.png; not in `as_dict`).
    """

    stage: str
    actual: str
    expected: str
    shape: tuple
    expected_shape: tuple
    dtype: str
    max_abs_diff: float
    max_rel_diff: float
    bit_identical: object
    bound: float
    error_over_bound: float
    ulps: int
    unbounded: int = 0
    claim: str = "bound"
    tf1_tensor: str = None
    worst_index: tuple = None
    nonfinite: dict = None
    missing: bool = False
    profile: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def passed(self):
        """Same shape, and the claim holds: bit-identical, or `error_over_bound <= 1`.

        A missing side, or a non-finite value where the expected side is
        finite, fails whatever the claim.
        """
        if self.missing or self.shape != self.expected_shape:
            return False
        if self.nonfinite and self.nonfinite["failing"]:
            return False
        if self.claim == "bit-identical":
            return bool(self.bit_identical)
        return bool(self.bit_identical) or bool(self.error_over_bound <= 1.0)

    @property
    def name(self):
        """`"<actual> vs <expected>"`."""
        return f"{self.actual} vs {self.expected}"

    def as_dict(self):
        """A JSON-ready dict of every figure, plus `passed`."""
        record = dataclasses.asdict(self)
        del record["profile"]
        record["shape"] = list(self.shape)
        record["expected_shape"] = list(self.expected_shape)
        if self.worst_index is not None:
            record["worst_index"] = list(self.worst_index)
        for key in ("max_abs_diff", "max_rel_diff", "bound", "error_over_bound"):
            # JSON has no inf/NaN: they become strings a reader cannot mistake.
            value = record[key]
            record[key] = value if np.isfinite(value) else str(value)
        record["passed"] = self.passed
        return record


CLAIMS = ("bound", "bit-identical", "empirical")


def compare_arrays(stage, actual_name, actual, expected_name, expected, bound, claim="bound",
                   tf1_tensor=None):
    """Compares two arrays of one stage against a per-element bound.

    Args:
        stage: the stage's name.
        actual_name: the witness under test.
        actual: its array.
        expected_name: the witness it is held against.
        expected: that witness's array.
        bound: the bound of |actual - expected|, per element (float64 array
            of the expected shape, or a scalar): `migration_audit.bounds`.
        claim: `"bound"`, `"empirical"`, or `"bit-identical"` where the
            pair holds by construction (see `Comparison.claim`).
        tf1_tensor: the TF1 graph tensor compared, if any (report only).

    Returns:
        A `Comparison`.

    Raises:
        ValueError: `bound` has a negative or NaN element, or `claim` is
            not one of `CLAIMS`.

    Example:
    >>> c = compare_arrays("output", "b", np.float32([1, 2.5]), "a", np.float32([1, 2]),
    ...                    bound=np.float64([0.1, 1.0]))
    >>> c.max_abs_diff, c.max_rel_diff, c.bit_identical, c.error_over_bound, c.passed
    (0.5, 0.25, False, 0.5, True)
    """
    if claim not in CLAIMS:
        raise ValueError(f"Invalid value for argument `claim`. Expected one of {CLAIMS}. "
                         f"Received: claim={claim!r}")
    bound = np.asarray(bound, np.float64)
    if bound.size and not bool(np.all(bound >= 0)):
        raise ValueError("Invalid value for argument `bound`. Expected every element >= 0 "
                         "(inf allowed, no NaN).")
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    same_dtype = actual.dtype == expected.dtype
    dtype = str(actual.dtype) if same_dtype else f"{actual.dtype} vs {expected.dtype}"
    bit_identical = None
    worst = nonfinite = profile = None
    if actual.shape != expected.shape:
        max_abs = max_rel = ratio = float("inf")
        bit_identical = False if same_dtype else None
        ulps, unbounded = -1, 0
        largest = float(bound.max()) if bound.size else 0.0
    else:
        if same_dtype:
            bit_identical = (np.ascontiguousarray(actual).tobytes()
                             == np.ascontiguousarray(expected).tobytes())
        with np.errstate(all="ignore"):
            diff = _differences(actual, expected)
            max_abs = float(diff.max()) if diff.size else 0.0
            if diff.size and np.isnan(diff).any():
                max_abs = float("nan")
            agree = _agree(actual, expected)
            max_rel = relative_error(np.where(agree, expected, actual), expected)
        ratio, unbounded, worst, profile = _ratios(diff, bound)
        ulps = ulp_distance(actual, expected)
        nonfinite = nonfinite_summary(actual, expected, bound)
        finite = bound[np.isfinite(bound)]
        largest = float(finite.max()) if finite.size else float("inf")
    return Comparison(stage=stage, actual=actual_name, expected=expected_name,
                      shape=tuple(actual.shape), expected_shape=tuple(expected.shape),
                      dtype=dtype, max_abs_diff=max_abs, max_rel_diff=max_rel,
                      bit_identical=bit_identical, bound=largest, error_over_bound=ratio,
                      ulps=ulps, unbounded=unbounded, claim=claim, tf1_tensor=tf1_tensor,
                      worst_index=worst, nonfinite=nonfinite, profile=profile)


def missing_comparison(stage, actual_name, expected_name, expected, claim="bound",
                       tf1_tensor=None):
    """The failing row of a key the actual side (the port) did not return."""
    expected = np.asarray(expected)
    return Comparison(stage=stage, actual=actual_name, expected=expected_name, shape=(),
                      expected_shape=tuple(expected.shape), dtype="missing",
                      max_abs_diff=float("inf"), max_rel_diff=float("inf"),
                      bit_identical=None, bound=float("nan"), error_over_bound=float("inf"),
                      ulps=-1, claim=claim, tf1_tensor=tf1_tensor, missing=True)


def _agree(actual, expected):
    """Elements equal on both sides, NaN against NaN and inf against inf included."""
    with np.errstate(all="ignore"):
        both_nan = np.isnan(actual) & np.isnan(expected) if actual.dtype.kind in "fc" \
            and expected.dtype.kind in "fc" else False
        return (actual == expected) | both_nan


def _differences(actual, expected):
    """|actual - expected| in float64, 0 where both sides agree exactly (`_agree`)."""
    with np.errstate(all="ignore"):
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        return np.where(_agree(actual, expected), 0.0, diff)


def _ratios(diff, bound):
    """(max error/bound, unbounded count, worst element's index, binned profile).

    Elements whose bound is infinite are left out (counted as unbounded);
    a zero bound allows only an exact match; a NaN difference is the worst.
    """
    with np.errstate(all="ignore"):
        bound = np.broadcast_to(bound, diff.shape)
        bounded = np.isfinite(bound)
        ratio = np.where(diff == 0, 0.0, diff / bound)
        ratio = np.where(bounded, ratio, 0.0)
        unbounded = int(bound.size - np.count_nonzero(bounded))
        if not diff.size:
            return 0.0, unbounded, None, np.zeros(0)
        ranked = np.where(np.isnan(ratio), np.inf, ratio)
        flat = int(np.argmax(ranked))
        worst = tuple(int(i) for i in np.unravel_index(flat, diff.shape))
        largest = float("nan") if np.isnan(ratio).any() else float(ranked.max())
        bins = np.array_split(ranked.ravel(), min(PROFILE_POINTS, ranked.size))
        profile = np.array([b.max() for b in bins])
    return largest, unbounded, worst, profile


def nonfinite_summary(actual, expected, bound=None):
    """Where either array is inf or NaN, and whether both sides agree exactly there.

    An inf is the correct float32 rounding of a value beyond its range, so
    an inf where the expected side is finite fails only where the bound is
    finite (the exact value is known to stay in range); a NaN where the
    expected side is finite always fails.

    Returns:
        `{"actual": count, "expected": count, "where_expected_finite": count
        of non-finite actual elements whose expected one is finite,
        "failing": those of them that fail the row, "agree": both sides
        non-finite at the same elements with the same values (NaN as NaN,
        inf of the same sign), "first_index": the first such element or
        None}`.

    Example:
    >>> nonfinite_summary(np.float32([1, np.inf]), np.float32([1, np.inf]))["agree"]
    True
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    bad_a = ~np.isfinite(actual) if actual.dtype.kind in "fc" else np.zeros(actual.shape, bool)
    bad_e = ~np.isfinite(expected) if expected.dtype.kind in "fc" \
        else np.zeros(expected.shape, bool)
    either = bad_a | bad_e
    first = None
    if either.any():
        first = [int(i) for i in np.unravel_index(int(np.argmax(either)), either.shape)]
    agree = bool(np.array_equal(bad_a, bad_e) and np.all(_agree(actual[either], expected[either])))
    with np.errstate(all="ignore"):
        bounded = np.ones(actual.shape, bool) if bound is None \
            else np.isfinite(np.broadcast_to(np.asarray(bound, np.float64), actual.shape))
        nan_a = np.isnan(actual) if actual.dtype.kind in "fc" else np.zeros(actual.shape, bool)
    failing = (bad_a & ~bad_e) & (nan_a | bounded)
    return {"actual": int(bad_a.sum()), "expected": int(bad_e.sum()),
            "where_expected_finite": int((bad_a & ~bad_e).sum()),
            "failing": int(failing.sum()), "agree": agree, "first_index": first}
