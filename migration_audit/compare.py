"""One comparison of the audit: two arrays of one stage, and its figures.

No TensorFlow here: the figures are plain NumPy, computed in float64.

The error measure is the project's: max |actual - expected| / max |expected|
(a relative error of the whole stage, so that near-zero entries of a
float32 convolution do not blow it up). The verdict is that error against
`RTOL`; bit identity is reported beside it, never required.
"""

import dataclasses

import numpy as np

__all__ = ["RTOL", "Comparison", "compare_arrays"]

#: The audit's tolerance, as a fraction of max |expected|, for every
#: comparison (TF1 vs TF2 variants, and each against the float64 reference).
#: Every stage is a float32 computation of float32 inputs: conv1 sums 27
#: products and the transposed convolution at most 4 x 64 = 256, so float32
#: rounding (eps 6e-8) stays within ~1.5e-6 and ~1.5e-5 of the sum of |terms|
#: in the worst case and measures at most 7.1e-7 (XLA, the fast path, oneDNN
#: vs Eigen, float32 vs float64); any wrong tap, padding offset or channel is
#: an O(1) error.
RTOL = 1e-5


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
        max_rel_diff: `max_abs_diff / max |expected|`.
        bit_identical: the same dtype, shape and bytes; `None` when the
            dtypes differ (float32 against the float64 reference).
        rtol: the tolerance the verdict uses.
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
    rtol: float

    @property
    def passed(self):
        """Within tolerance: same shape and `max_rel_diff <= rtol` (NaN fails)."""
        if self.shape != self.expected_shape:
            return False
        return bool(self.bit_identical) or bool(self.max_rel_diff <= self.rtol)

    @property
    def name(self):
        """`"<actual> vs <expected>"`."""
        return f"{self.actual} vs {self.expected}"

    def as_dict(self):
        """A JSON-ready dict of every figure, plus `passed`."""
        record = dataclasses.asdict(self)
        record["shape"] = list(self.shape)
        record["expected_shape"] = list(self.expected_shape)
        for key in ("max_abs_diff", "max_rel_diff"):
            # JSON has no inf/NaN: they become strings a reader cannot mistake.
            value = record[key]
            record[key] = value if np.isfinite(value) else str(value)
        record["passed"] = self.passed
        return record


def compare_arrays(stage, actual_name, actual, expected_name, expected, rtol=RTOL):
    """Compares two arrays of one stage.

    Args:
        stage: the stage's name.
        actual_name: the witness under test.
        actual: its array.
        expected_name: the witness it is held against.
        expected: that witness's array.
        rtol: tolerance as a fraction of max |expected|.

    Returns:
        A `Comparison`.

    Raises:
        ValueError: `rtol` is negative or not finite.

    Example:
    >>> c = compare_arrays("output", "b", np.float32([1, 2.5]), "a", np.float32([1, 2]))
    >>> c.max_abs_diff, c.max_rel_diff, c.bit_identical, c.passed
    (0.5, 0.25, False, False)
    """
    if not (np.isfinite(rtol) and rtol >= 0):
        raise ValueError(
            f"Invalid value for argument `rtol`. Expected a finite float >= 0. Received: rtol={rtol}"
        )
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    same_dtype = actual.dtype == expected.dtype
    dtype = str(actual.dtype) if same_dtype else f"{actual.dtype} vs {expected.dtype}"
    bit_identical = None
    if actual.shape != expected.shape:
        max_abs = max_rel = float("inf")
        bit_identical = False if same_dtype else None
    else:
        if same_dtype:
            bit_identical = (np.ascontiguousarray(actual).tobytes()
                             == np.ascontiguousarray(expected).tobytes())
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
            max_abs = float(diff.max()) if diff.size else 0.0
            if diff.size and np.isnan(diff).any():
                max_abs = float("nan")
            scale = float(np.abs(expected.astype(np.float64)).max()) if expected.size else 0.0
        max_rel = max_abs / max(scale, np.finfo(np.float64).tiny)
    return Comparison(stage=stage, actual=actual_name, expected=expected_name,
                      shape=tuple(actual.shape), expected_shape=tuple(expected.shape),
                      dtype=dtype, max_abs_diff=max_abs, max_rel_diff=max_rel,
                      bit_identical=bit_identical, rtol=float(rtol))
