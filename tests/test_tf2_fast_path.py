"""tf2.fast_path: the output-only implementation, chosen by measurement per input shape.

The policy is tested with fake implementations and a fake clock (no timing
is asserted anywhere); the real implementations are held to the derived
rounding bound against each other in `test_bench_fast_path.py`.
"""

import numpy as np
import pytest

from tests.conftest import assert_within, float32_bounds
from tf2.demo import DeconvDemo
from tf2.fast_path import MAX_ROUNDS, MIN_ROUNDS, FastPath, choose, forced_from_environment


class _Fake:
    """Implementations that record their calls and advance a fake clock.

    `costs[name]` is the seconds each call of `name` takes: a number, or a
    list whose items its calls take in turn. `load` adds seconds to the
    calls at those positions among all calls (a burst of load on a shared
    machine, scripted).
    """

    def __init__(self, costs, load=None):
        self.now, self.calls, self.load = 0.0, [], dict(load or {})
        self.costs = {name: list(c) if isinstance(c, list) else c for name, c in costs.items()}

    def clock(self):
        return self.now

    def implementation(self, name):
        def run(images):
            cost = self.costs[name]
            self.now += (cost.pop(0) if isinstance(cost, list) else cost) + self.load.get(
                len(self.calls), 0.0)
            self.calls.append(name)
            return name
        return run


def _path(costs, load=None, **kwargs):
    fake = _Fake(costs, load)
    lines = []
    path = FastPath({name: fake.implementation(name) for name in costs}, clock=fake.clock,
                    log=lines.append, **kwargs)
    return path, fake, lines


class _Images:
    def __init__(self, shape):
        self.shape = shape


def _rounds(n):
    """The timed calls of `n` rounds: the order alternates, window first."""
    return [name for i in range(n) for name in (("parity", "window") if i % 2
                                                 else ("window", "parity"))]


@pytest.mark.parametrize("costs, winner", [({"window": 2.0, "parity": 1.0}, "parity"),
                                           ({"window": 1.0, "parity": 2.0}, "window")])
def test_first_call_runs_window_second_measures_then_the_choice_sticks(costs, winner):
    path, fake, lines = _path(costs)
    images = _Images((2, 8, 6, 3))
    assert path(images) == "window" and fake.calls == ["window"]  # a one-off pays no compile
    assert path.choices == {}
    assert path(images) == winner  # a repeated shape: measured
    # parity's compile (untimed; window ran untimed on the first call), then
    # MIN_ROUNDS interleaved rounds (the timings do not overlap), then the winner.
    assert fake.calls[1:] == ["parity"] + _rounds(MIN_ROUNDS) + [winner]
    assert path.choices == {(2, 8, 6, 3): winner}
    assert path.timings == {(2, 8, 6, 3): {name: [costs[name]] * MIN_ROUNDS for name in costs}}
    assert lines == [f"fast path for input (2, 8, 6, 3): {winner} (median of {MIN_ROUNDS} "
                     f"interleaved runs: window {costs['window'] * 1e3:.1f} ms, "
                     f"parity {costs['parity'] * 1e3:.1f} ms)"]
    fake.calls.clear()
    assert path(images) == winner and fake.calls == [winner]
    assert path(_Images((1, 4, 4, 3))) == "window"  # another shape: its own first call
    assert len(lines) == 1


def test_the_median_is_kept_where_the_fastest_call_would_mislead():
    # window: one lucky fast call among slower ones; parity steadily faster.
    # The fastest call (what a best-of-N timing keeps) says window, the
    # median says parity. After 5 rounds no further round could change that.
    window = [0.0309, 0.0101, 0.0312, 0.0308, 0.0311]
    parity = [0.0257, 0.0258, 0.0256, 0.0259, 0.0257]
    path, fake, lines = _path({"window": [0.05] + window, "parity": [1.0] + parity + [0.03]})
    images = _Images((16, 30, 30, 3))
    path(images)
    assert path(images) == "parity"
    assert fake.calls == ["window", "parity"] + _rounds(5) + ["parity"]
    # approx: the fake clock's running sum rounds each difference a little.
    assert path.timings[(16, 30, 30, 3)] == {"window": pytest.approx(window, rel=1e-12),
                                             "parity": pytest.approx(parity, rel=1e-12)}
    assert lines == ["fast path for input (16, 30, 30, 3): parity (median of 5 interleaved "
                     "runs: window 30.9 ms, parity 25.7 ms)"]


def test_a_burst_of_load_on_one_implementation_does_not_decide():
    # window takes 3 s a call, parity 2 s; a burst of load adds 10 s to the
    # 4th and 5th calls: parity's in the first timed round and its first in
    # the second round (the order alternates). The median of three rounds
    # would pick window; the timings overlap, so rounds go on until no
    # remaining round could change the medians' order.
    path, fake, _ = _path({"window": 3.0, "parity": 2.0}, load={3: 10.0, 4: 10.0})
    images = _Images((4, 8, 8, 3))
    path(images)
    assert path(images) == "parity"
    assert fake.calls == ["window", "parity"] + _rounds(6) + ["parity"]
    assert path.timings[(4, 8, 8, 3)] == {"window": [3.0] * 6, "parity": [12.0, 12.0] + [2.0] * 4}


def test_a_tie_keeps_window_after_the_most_rounds():
    window = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 2.0]
    parity = [2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    path, fake, _ = _path({"window": [1.0] + window + [1.0], "parity": [1.0] + parity})
    images = _Images((1, 6, 6, 3))
    path(images)
    assert path(images) == "window"  # equal medians: IMPLEMENTATIONS' order
    # The cost is bounded: parity's compile and MAX_ROUNDS rounds at most.
    assert fake.calls == ["window", "parity"] + _rounds(MAX_ROUNDS) + ["window"]


def test_stopping_early_never_changes_the_choice_of_all_rounds():
    # Random timings with many ties: where the first MIN_ROUNDS rounds do
    # not separate, the choice is the median of all MAX_ROUNDS rounds'.
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(2000):
        window, parity = (rng.integers(1, 6, MAX_ROUNDS).astype(float).tolist()
                          for _ in range(2))
        first = (window[:MIN_ROUNDS], parity[:MIN_ROUNDS])
        if max(first[0]) < min(first[1]) or max(first[1]) < min(first[0]):
            continue
        path, _, _ = _path({"window": [0.0] + window + [0.0], "parity": [0.0] + parity + [0.0]})
        path(_Images((1, 2, 2, 3)))
        assert path(_Images((1, 2, 2, 3))) == choose({"window": window, "parity": parity})
        checked += 1
    assert checked > 1000


def test_choose_is_by_median_in_implementations_order():
    assert choose({"window": [3, 1, 3], "parity": [2, 2, 9]}) == "parity"
    assert choose({"window": [2, 2], "parity": [1, 3]}) == "window"


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


def test_cli_verbose_prints_the_choice_and_a_bad_variable_is_one_line(tmp_path, capsys,
                                                                      monkeypatch):
    # In-process (`main`); a real process's exit status and one-line stderr
    # for a bad value are the hostile cases' (e2e).
    from PIL import Image

    from tf2.cli import main

    monkeypatch.delenv("DECONV_FAST_PATH", raising=False)
    image = tmp_path / "in.png"
    # 8x32 in 8x8 tiles: four tiles, the middle two of one input shape (measured once).
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (8, 32, 3), np.uint8)).save(image)
    assert main([str(image), "--no-show", "--tile", "8", "--verbose"]) == 0
    choices = [line for line in capsys.readouterr().out.splitlines()
               if "fast path for input" in line]
    assert len(choices) == 1 and choices[0].startswith("tf2: fast path for input (1, ")
    monkeypatch.setenv("DECONV_FAST_PATH", "fastest")
    assert main([str(image), "--no-show"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "DECONV_FAST_PATH" in err


@pytest.mark.parametrize("value", ["parity", "xla"])  # "xla": the former name, still accepted
def test_fast_path_flag_forces_the_parity_implementation(value):
    from tf2.cli import build_parser

    args = build_parser().parse_args(["--fast-path", value])
    assert DeconvDemo(seed=0, fast_path=args.fast_path).fast_path.forced == "parity"
