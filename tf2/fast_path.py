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
  folders) times both, after one untimed call each, and keeps the faster;
- later calls use the kept choice.

`FastPath(forced="window" | "parity")`, or the environment variable
`DECONV_FAST_PATH`, skips the measurement.
"""

import os
import time

__all__ = ["ALIASES", "ENVIRONMENT_VARIABLE", "FastPath", "IMPLEMENTATIONS",
           "forced_from_environment", "implementation_name"]

#: The implementations, in the order a tie is broken.
IMPLEMENTATIONS = ("window", "parity")
#: Former names still accepted: {alias: implementation}.
ALIASES = {"xla": "parity"}
#: `window` or `parity` forces one everywhere; `auto` (or unset) measures.
ENVIRONMENT_VARIABLE = "DECONV_FAST_PATH"
_TIMED_CALLS = 2


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
        best = {}
        for name in IMPLEMENTATIONS:
            self._implementations[name](images)  # compile or warm, untimed
        for _ in range(_TIMED_CALLS):
            for name in IMPLEMENTATIONS:
                start = self._clock()
                self._implementations[name](images)
                elapsed = self._clock() - start
                best[name] = min(best.get(name, elapsed), elapsed)
        choice = min(IMPLEMENTATIONS, key=lambda name: best[name])
        self.choices[shape] = choice
        self.timings[shape] = best
        if self.log is not None:
            figures = ", ".join(f"{name} {best[name] * 1e3:.1f} ms" for name in IMPLEMENTATIONS)
            self.log(f"fast path for input {shape}: {choice} (measured {figures})")
        return self._implementations[choice](images)
