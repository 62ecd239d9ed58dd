"""One comparison of the audit: two arrays of one stage, and its figures.

No TensorFlow here: the figures are plain NumPy, computed in float64.

Two kinds of claim, nothing in between (DESIGN.md, "Tolerances"):

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

from migration_audit.bounds import error_over_bound, ulp_distance

__all__ = ["CLAIMS", "Comparison", "compare_arrays", "relative_error"]

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
        claim: `"bound"` (the verdict is `error_over_bound <= 1`) or
            `"bit-identical"` (the pair runs the same kernels on the same
            shapes in one process and configuration, so the verdict asks
            for the same bytes).
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

    @property
    def passed(self):
        """Same shape, and the claim holds: bit-identical, or `error_over_bound <= 1`."""
        if self.shape != self.expected_shape:
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
        record["shape"] = list(self.shape)
        record["expected_shape"] = list(self.expected_shape)
        for key in ("max_abs_diff", "max_rel_diff", "bound", "error_over_bound"):
            # JSON has no inf/NaN: they become strings a reader cannot mistake.
            value = record[key]
            record[key] = value if np.isfinite(value) else str(value)
        record["passed"] = self.passed
        return record


CLAIMS = ("bound", "bit-identical")


def compare_arrays(stage, actual_name, actual, expected_name, expected, bound, claim="bound"):
    """Compares two arrays of one stage against a per-element bound.

    Args:
        stage: the stage's name.
        actual_name: the witness under test.
        actual: its array.
        expected_name: the witness it is held against.
        expected: that witness's array.
        bound: the bound of |actual - expected|, per element (float64 array
            of the expected shape, or a scalar): `migration_audit.bounds`.
        claim: `"bound"`, or `"bit-identical"` where the pair holds by
            construction (see `Comparison.claim`).

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
    if actual.shape != expected.shape:
        max_abs = max_rel = ratio = float("inf")
        bit_identical = False if same_dtype else None
        ulps, unbounded = -1, 0
        largest = float(bound.max()) if bound.size else 0.0
    else:
        if same_dtype:
            bit_identical = (np.ascontiguousarray(actual).tobytes()
                             == np.ascontiguousarray(expected).tobytes())
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
            diff = np.where(actual == expected, 0.0, diff)  # inf == inf is no difference
            max_abs = float(diff.max()) if diff.size else 0.0
            if diff.size and np.isnan(diff).any():
                max_abs = float("nan")
        max_rel = relative_error(np.where(actual == expected, expected, actual), expected)
        ratio, unbounded = error_over_bound(actual, expected, bound)
        ulps = ulp_distance(actual, expected)
        finite = bound[np.isfinite(bound)]
        largest = float(finite.max()) if finite.size else float("inf")
    return Comparison(stage=stage, actual=actual_name, expected=expected_name,
                      shape=tuple(actual.shape), expected_shape=tuple(expected.shape),
                      dtype=dtype, max_abs_diff=max_abs, max_rel_diff=max_rel,
                      bit_identical=bit_identical, bound=largest, error_over_bound=ratio,
                      ulps=ulps, unbounded=unbounded, claim=claim)
