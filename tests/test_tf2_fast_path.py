"""tf2.fast_path: the output-only implementation, chosen by measurement per input shape.

The policy is tested with fake implementations and a fake clock (no timing
is asserted anywhere); the real implementations are held to the derived
rounding bound against each other in `test_bench_fast_path.py`.
"""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, assert_within, float32_bounds
from tf2.demo import DeconvDemo
from tf2.fast_path import FastPath, forced_from_environment


class _Fake:
    """Implementations that record their calls and advance a fake clock."""

    def __init__(self, costs):
        self.now, self.calls, self.costs = 0.0, [], costs

    def clock(self):
        return self.now

    def implementation(self, name):
        def run(images):
            self.calls.append(name)
            self.now += self.costs[name]
            return name
        return run


def _path(costs, **kwargs):
    fake = _Fake(costs)
    lines = []
    path = FastPath({name: fake.implementation(name) for name in costs}, clock=fake.clock,
                    log=lines.append, **kwargs)
    return path, fake, lines


class _Images:
    def __init__(self, shape):
        self.shape = shape


@pytest.mark.parametrize("costs, winner", [({"window": 2.0, "parity": 1.0}, "parity"),
                                           ({"window": 1.0, "parity": 2.0}, "window")])
def test_first_call_runs_window_second_measures_then_the_choice_sticks(costs, winner):
    path, fake, lines = _path(costs)
    images = _Images((2, 8, 6, 3))
    assert path(images) == "window" and fake.calls == ["window"]  # a one-off pays no compile
    assert path.choices == {}
    assert path(images) == winner  # a repeated shape: measured
    # One untimed call each, two timed calls each, then the winner.
    assert fake.calls[1:] == ["window", "parity"] * 3 + [winner]
    assert path.choices == {(2, 8, 6, 3): winner}
    assert lines == [f"fast path for input (2, 8, 6, 3): {winner} (measured window "
                     f"{costs['window'] * 1e3:.1f} ms, parity {costs['parity'] * 1e3:.1f} ms)"]
    fake.calls.clear()
    assert path(images) == winner and fake.calls == [winner]
    assert path(_Images((1, 4, 4, 3))) == "window"  # another shape: its own first call
    assert len(lines) == 1


@pytest.mark.parametrize("forced", ["parity", "xla"])  # "xla": the former name
def test_forced_never_measures(forced):
    path, fake, lines = _path({"window": 1.0, "parity": 2.0}, forced=forced)
    assert path.forced == "parity"
    for _ in range(3):
        assert path(_Images((1, 2, 2, 3))) == "parity"
    assert fake.calls == ["parity"] * 3 and lines == [] and path.choices == {}


def test_environment_variable():
    assert forced_from_environment({}) is None
    assert forced_from_environment({"DECONV_FAST_PATH": " AUTO "}) is None
    assert forced_from_environment({"DECONV_FAST_PATH": "window"}) == "window"
    assert forced_from_environment({"DECONV_FAST_PATH": "parity"}) == "parity"
    assert forced_from_environment({"DECONV_FAST_PATH": "xla"}) == "parity"  # former name
    with pytest.raises(ValueError, match="Invalid value for DECONV_FAST_PATH"):
        forced_from_environment({"DECONV_FAST_PATH": "fastest"})


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="Expected implementations"):
        FastPath({"window": len})
    with pytest.raises(ValueError, match="Invalid value for argument `forced`"):
        FastPath({"window": len, "parity": len}, forced="gpu")
    with pytest.raises(ValueError, match="Invalid value for argument `forced`"):
        DeconvDemo(seed=0, fast_path="gpu")


def test_the_module_measures_a_repeated_shape_and_stays_within_the_bound(monkeypatch):
    monkeypatch.delenv("DECONV_FAST_PATH", raising=False)
    demo = DeconvDemo(seed=3)
    images = np.random.default_rng(0).uniform(0, 255, (2, 9, 7, 3)).astype(np.float32)
    first = demo.output(images).numpy()
    second = demo.output(images).numpy()
    assert set(demo.fast_path.choices) == {(2, 9, 7, 3)}
    assert demo.fast_path.choices[(2, 9, 7, 3)] in ("window", "parity")
    bound = 2 * float32_bounds(images, demo.conv_kernel, demo.deconv_kernel)["output"]
    assert_within(second, first, bound, "chosen vs window implementation")
    for forced in ("window", "parity"):
        other = DeconvDemo(conv_kernel=demo.conv_kernel, deconv_kernel=demo.deconv_kernel,
                           fast_path=forced)
        assert other.fast_path.choice_for((2, 9, 7, 3)) == forced
        assert_within(other.output(images).numpy(), first, bound, forced)


def test_cli_verbose_prints_the_choice_and_a_bad_variable_is_one_line(tmp_path,
                                                                      subprocess_env):
    from PIL import Image

    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), np.uint8)).save(image)
    done = subprocess.run([sys.executable, "-m", "tf2", str(image), "--no-show", "--tile", "8",
                           "--verbose"], cwd=REPO, env=subprocess_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    choices = [line for line in done.stdout.splitlines() if "fast path for input" in line]
    assert len(choices) >= 1 and all(line.startswith("tf2: fast path") for line in choices)
    bad = subprocess.run([sys.executable, "-m", "tf2", str(image), "--no-show"], cwd=REPO,
                         env={**subprocess_env, "DECONV_FAST_PATH": "fastest"},
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "DECONV_FAST_PATH" in bad.stderr


@pytest.mark.parametrize("value", ["parity", "xla"])  # "xla": the former name, still accepted
def test_fast_path_flag_forces_the_parity_implementation(value):
    from tf2.cli import build_parser

    args = build_parser().parse_args(["--fast-path", value])
    assert DeconvDemo(seed=0, fast_path=args.fast_path).fast_path.forced == "parity"
