"""Fixtures shared by the test files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

#: The repository root (where `python -m PKG` is run from in subprocess tests).
REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def image_path(tmp_path):
    """A small 7x5 random RGB PNG (odd sides on purpose)."""
    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = tmp_path / "in.png"
    Image.fromarray(pixels).save(path)
    return path


def write_image(path, shape=(7, 5, 3), seed=0):
    """Writes a random RGB image of `shape` (its format from the suffix); returns `path`."""
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    """A folder for batch runs: a 7x5 PNG, a 33x17 JPEG, and a text file (not an image)."""
    folder = tmp_path / "images"
    folder.mkdir()
    write_image(folder / "a.png", (7, 5, 3), seed=1)
    write_image(folder / "b.jpg", (33, 17, 3), seed=2)
    (folder / "notes.txt").write_text("not an image, not listed")
    return folder


def headless_env():
    """The environment for `python -m PKG` runs: headless, no display."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    return env


@pytest.fixture
def subprocess_env():
    """The environment for `python -m PKG` runs: headless, no display."""
    return headless_env()


def run_cli_batch(cases, env=None, timeout=600):
    """Runs several command lines in ONE child Python: one TensorFlow start for all.

    For tests that need a process apart from pytest's (a variable read when
    TensorFlow starts, a clean module state) but not one process per case.
    Each case calls a `main(argv)` in turn, with stdout and stderr (file
    descriptors 1 and 2) caught apart; state a case leaves in the process
    (imported modules, TensorFlow's settings) is seen by the next, so put
    only cases together that may share it. Whatever only a process of its
    own shows (exit by a signal, `os._exit`, TensorFlow's start-up lines)
    needs `subprocess.run` and `@pytest.mark.e2e`.

    Args:
        cases: `(target, argv)` pairs; `target` is "package" for
            `package.cli:main` or "module:function".
        env: the child's environment (default: `subprocess_env`'s).
        timeout: seconds for the whole batch.

    Returns:
        A `subprocess.CompletedProcess` per case (`args`, `returncode`,
        `stdout`, `stderr` as text).
    """
    cases = [(t if ":" in t else f"{t}.cli:main", [str(a) for a in argv]) for t, argv in cases]
    done = subprocess.run([sys.executable, "-m", "tests._cli_batch"],
                          input=json.dumps(cases) + "\n", cwd=REPO,
                          env=headless_env() if env is None else env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return [subprocess.CompletedProcess([t, *argv], status, out, err)
            for (t, argv), (status, out, err) in zip(cases, json.loads(done.stdout))]


def float32_bounds(images, conv_kernel, deconv_kernel):
    """Each float32 witness's per-element bound against the exact result, per stage."""
    from migration_audit.bounds import demo_bounds

    return demo_bounds(images, np.asarray(conv_kernel), np.asarray(deconv_kernel))


def assert_within(actual, expected, bound, what="arrays"):
    """|actual - expected| <= bound element by element (a derived bound, never a picked one)."""
    from migration_audit.bounds import error_over_bound

    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    ratio, unbounded = error_over_bound(actual, expected, bound)
    assert ratio <= 1, f"{what}: error/bound {ratio:.3g} (> 1: outside the rounding bound)"
    assert unbounded == 0, f"{what}: {unbounded} elements beyond float32's range"


def reference_with_bounds(images, conv_kernel, deconv_kernel):
    """The float64 reference's stages, and the bound of a float32 witness against each."""
    from migration_audit import reference
    from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, demo_bounds

    conv_kernel, deconv_kernel = np.asarray(conv_kernel), np.asarray(deconv_kernel)
    expected = reference.demo_stages(images, conv_kernel, deconv_kernel)
    single = demo_bounds(images, conv_kernel, deconv_kernel, exact_conv1=expected["conv1"])
    double = demo_bounds(images, conv_kernel, deconv_kernel, FLOAT64_UNIT_ROUNDOFF,
                         exact_conv1=expected["conv1"])
    return expected, {name: single[name] + double[name] for name in expected}


def assert_matches_reference(images, conv_kernel, deconv_kernel, stages, names=None):
    """Each float32 stage against the float64 reference, within float32 + float64 bounds."""
    expected, bounds = reference_with_bounds(images, conv_kernel, deconv_kernel)
    for name in names or stages:
        assert_within(stages[name], expected[name], bounds[name], f"{name} vs float64 reference")
    return expected


def resize_bound(x, factor, unit_roundoff=2.0**-24):
    """Bound of |float32 bilinear resize (any of TF's, JAX's, the layer's) - exact|, per image.

    Bilinear resizing by `factor` (half-pixel centres, edges clamped) is
    continuous and piecewise linear in each source coordinate, with slope at
    most the largest difference of two neighbouring pixels, <= 2 M (M =
    max |x|). A float32 implementation computes each coordinate as
    (j + 0.5) / f - 0.5 with at most 3 roundings of values <= n + 1 (n the
    input's length along that axis), and its weights from it, so the
    coordinate is off by at most gamma_3 (n + 1) on each axis (JAX's form
    normalises its weights too: gamma_6 is taken). The interpolation itself
    (a few products and sums of the 4 neighbours, weights summing to 1, or a
    depthwise conv with float32-rounded taps) errs by at most gamma_16 * 4 M.

    Returns:
        A scalar bound (float) for every element of the output.
    """
    magnitude = float(np.abs(np.asarray(x, np.float64)).max())
    h, w = np.asarray(x).shape[1:3]
    g = lambda n: n * unit_roundoff / (1 - n * unit_roundoff)  # noqa: E731
    coordinate = g(6) * ((h + 1) + (w + 1))
    return coordinate * 2 * magnitude + g(16) * 4 * magnitude


def run_tests_on_jax(test_file):
    """Runs `test_file`'s tests in a subprocess with `KERAS_BACKEND=jax`; returns its stdout.

    Fails (with the run's tail) unless every test there passed or skipped.
    """
    import subprocess
    import sys

    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", str(test_file)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout
