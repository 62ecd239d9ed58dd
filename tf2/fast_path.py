"""Which implementation computes the `output` stage alone, chosen by measurement.

The output-only path has two implementations that compute the same sums
(within the derived rounding bound of `migration_audit.bounds`):

- `"window"`: `tf2._window.demo_output`, TensorFlow's conv ops (a stride-2
  window conv for conv + max pool, a depthwise transposed conv), traced
  once for every shape;
- `"parity"`: `tf2._parity.demo_output_xla`, three XLA kernels on
  parity-split planes, compiled once per input shape.

(`"xla"`, the parity implementation's former name, is still accepted by
`DECONV_FAST_PATH`, `--fast-path` and `forced=`: "xla" otherwise names the
execution mode of `DeconvDemo.stages` / `.output`.)

Which one is faster depends on the machine: TensorFlow's conv ops run on
oneDNN where it is on (CPUs with AVX-512 VNNI/BF16, AVX-VNNI or AMX) and on
Eigen elsewhere, at very different speeds for 3 -> 12 channel convs, while
XLA emits its own code either way. So, like cuDNN's autotuner, the choice
is measured where it runs, once per input shape, and cached:

- the first call with a shape runs `"window"` (nothing to compile: a
  one-off shape, such as a single image or an edge tile, never pays an
  XLA compile);
- the second call with the same shape (a repeated shape: batches, tiles,
  folders) runs `"parity"` once untimed (its compile), then times both in
  interleaved rounds, the order alternating from round to round, so that a
  burst of load on a shared machine falls on both rather than on one; it
  keeps the one with the smaller median. It runs `MIN_ROUNDS` to
  `MAX_ROUNDS` rounds: it stops early once the timings do not overlap
  (every call of one faster than every call of the other), or once no
  remaining round could change which median is smaller;
- later calls use the kept choice.

`FastPath(forced="window" | "parity")`, or the environment variable
`DECONV_FAST_PATH`, skips the measurement.
"""

import os
import statistics
import time

__all__ = ["ALIASES", "ENVIRONMENT_VARIABLE", "FastPath", "IMPLEMENTATIONS", "MAX_ROUNDS",
           "MIN_ROUNDS", "choose", "forced_from_environment", "implementation_name"]

#: The implementations, in the order a tie is broken.
IMPLEMENTATIONS = ("window", "parity")
#: Former names still accepted: {alias: implementation}.
ALIASES = {"xla": "parity"}
#: `window` or `parity` forces one everywhere; `auto` (or unset) measures.
ENVIRONMENT_VARIABLE = "DECONV_FAST_PATH"
#: Timed rounds of a choice (one call of each implementation per round):
#: at least `MIN_ROUNDS`, at most `MAX_ROUNDS` (odd: one middle timing).
MIN_ROUNDS = 3
MAX_ROUNDS = 7


def implementation_name(name):
    """The implementation `name` (or its alias) means, or None if none.

    Example:
    >>> implementation_name("xla"), implementation_name("window"), implementation_name("gpu")
    ('parity', 'window', None)
    """
    name = ALIASES.get(name, name)
    return name if name in IMPLEMENTATIONS else None


def forced_from_environment(environ=None):
    """The implementation `DECONV_FAST_PATH` forces, or None for `auto`/unset.

    Raises:
        ValueError: the variable names no implementation.

    Example:
    >>> forced_from_environment({"DECONV_FAST_PATH": "xla"}), forced_from_environment({})
    ('parity', None)
    """
    value = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "auto")
    value = value.strip().lower() or "auto"
    if value == "auto":
        return None
    if implementation_name(value) is None:
        raise ValueError(f"Invalid value for {ENVIRONMENT_VARIABLE}. Expected one of "
                         f"{('auto',) + IMPLEMENTATIONS}. Received: {value!r}")
    return implementation_name(value)


def choose(samples):
    """The implementation with the smallest median time (ties: `IMPLEMENTATIONS`' order).

    Args:
        samples: `{name: [seconds, ...]}` for the names in `IMPLEMENTATIONS`.

    Example:
    >>> choose({"window": [0.010, 0.031, 0.030], "parity": [0.026, 0.025, 0.027]})
    'parity'
    """
    return min(IMPLEMENTATIONS, key=lambda name: statistics.median(samples[name]))


def _decided(samples):
    """Whether more rounds (up to `MAX_ROUNDS`) need not, or could not, change `choose`.

    Need not: after `MIN_ROUNDS` rounds, every timing of one implementation
    is below every timing of the other. Could not: whatever the remaining
    rounds time, each median after `MAX_ROUNDS` rounds stays between two of
    the timings so far, and these two ranges do not overlap.
    """
    first, second = (sorted(samples[name]) for name in IMPLEMENTATIONS)
    rounds = len(first)
    if rounds < MIN_ROUNDS:
        return False
    if first[-1] < second[0] or second[-1] < first[0]:
        return True
    left, middle = MAX_ROUNDS - rounds, MAX_ROUNDS // 2
    if middle >= rounds or middle < left:  # a median not yet bounded on both sides
        return False
    return first[middle] < second[middle - left] or second[middle] < first[middle - left]


class FastPath:
    """Runs the `output` stage by the implementation measured fastest for each shape.

    Args:
        implementations: `{name: callable(images) -> output}` for the names
            in `IMPLEMENTATIONS`.
        forced: a name (or alias) to use always (no measurement), or None
            for `auto`.
        log: called with one line each time a choice is made (or None).
        clock: the timer (`time.perf_counter`; tests pass a fake one).

    Attributes:
        choices: `{input shape: name}` of the choices made so far.
        timings: `{input shape: {name: [seconds, ...]}}`, each choice's
            timed calls in the order they ran.

    Example:
    >>> import numpy as np
    >>> calls = []
    >>> path = FastPath({"window": lambda x: calls.append("w") or x,
    ...                  "parity": lambda x: calls.append("p") or x}, forced="parity")
    >>> x = np.ones((1, 2, 2, 3))
    >>> path(x) is x, calls, path.choice_for(x.shape)
    (True, ['p'], 'parity')
    """

    def __init__(self, implementations, forced=None, log=None, clock=time.perf_counter):
        if set(implementations) != set(IMPLEMENTATIONS):
            raise ValueError(f"Expected implementations {IMPLEMENTATIONS}. Received: "
                             f"{sorted(implementations)}")
        if forced is not None and implementation_name(forced) is None:
            raise ValueError(f"Invalid value for argument `forced`. Expected one of "
                             f"{IMPLEMENTATIONS} or None. Received: forced={forced!r}")
        self._implementations = dict(implementations)
        self.forced = None if forced is None else implementation_name(forced)
        self.log = log
        self._clock = clock
        self._seen = set()
        self.choices = {}
        self.timings = {}

    def choice_for(self, shape):
        """The implementation a call with this input shape runs next."""
        shape = tuple(shape)
        if self.forced is not None:
            return self.forced
        return self.choices.get(shape, IMPLEMENTATIONS[0])

    def __call__(self, images):
        shape = tuple(images.shape)
        if self.forced is None and shape not in self.choices:
            if shape in self._seen:
                return self._measure(images, shape)
            self._seen.add(shape)
        return self._implementations[self.choice_for(shape)](images)

    def _measure(self, images, shape):
        # "window" ran untimed on this shape's first call; "parity" compiles now.
        self._implementations["parity"](images)
        samples = {name: [] for name in IMPLEMENTATIONS}
        for round_ in range(MAX_ROUNDS):
            if _decided(samples):
                break
            # Alternate which runs first: the second call of a pair may find
            # the caches warmer, or a burst of load begun during the first.
            for name in IMPLEMENTATIONS[::-1] if round_ % 2 else IMPLEMENTATIONS:
                start = self._clock()
                self._implementations[name](images)
                samples[name].append(self._clock() - start)
        choice = choose(samples)
        self.choices[shape] = choice
        self.timings[shape] = samples
        if self.log is not None:
            figures = ", ".join(f"{name} {statistics.median(samples[name]) * 1e3:.1f} ms"
                                for name in IMPLEMENTATIONS)
            self.log(f"fast path for input {shape}: {choice} (median of "
                     f"{len(samples[choice])} interleaved runs: {figures})")
        return self._implementations[choice](images)
