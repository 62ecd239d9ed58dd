"""Property tests: the ports agree, and the shapes hold, for any size, mode and kernel.

Hypothesis draws an image size (1..64 per side), a batch of 1 or 2, a Pillow
mode written to a real file and read back through the loader both command
lines use, and a deconv kernel (the original's bilinear one, a dense random
one, or one reading a few scattered channels). For every draw:

- shapes: conv1 (N, H, W, 64), pool (N, ceil(H/2), ceil(W/2), 64), output
  (N, 2*ceil(H/2), 2*ceil(W/2), 3), on both ports;
- the TF1 session and TF2 `tf.function` are bit-identical at every stage
  (the same TensorFlow kernels on the same shapes, in one process and
  configuration: MIGRATION.md);
- both, and the TF2 fast path, are within the derived per-element bound of
  the float64 reference (`migration_audit.bounds`: float32 sums of at most
  27 and 4 * 64 products, the float32 plus the float64 bound).

Examples are few (each builds a TF1 graph), the property space is what the
per-size tests elsewhere cannot cover; `HYPOTHESIS_PROFILE=long` runs more.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from deconv_io import load_image
from legacy_tf1.graph import run_session
from tests.conftest import assert_matches_reference
from tf2.demo import DeconvDemo
from tf2.kernels import bilinear_kernel

STAGES = ("conv1", "pool", "output")
EXAMPLES = 200 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 20
MODES = ("RGB", "L", "RGBA", "P", "CMYK", "I;16")


@pytest.fixture(scope="module")
def demo():
    # One module for every example: set_kernels never re-traces, so the
    # examples cost a graph build on the TF1 side only.
    return DeconvDemo(seed=0)


def _kernel(kind, rng):
    if kind == "bilinear":
        return np.asarray(bilinear_kernel(3, 3, mode="fcn", in_channels=64))
    if kind == "dense":
        return rng.uniform(-0.5, 0.5, (3, 3, 3, 64)).astype(np.float32)
    kernel = np.zeros((3, 3, 3, 64), np.float32)
    read = rng.choice(64, size=4, replace=False)
    kernel[..., read] = rng.uniform(-0.5, 0.5, (3, 3, 3, 4))
    return kernel


def _image_file(folder, mode, height, width, rng):
    """Writes a real file of `mode` (PNG, or TIFF for CMYK) and returns its path."""
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    else:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(rgb).convert(mode)
    assert image.mode == mode
    path = folder / (f"in.{mode.replace(';', '_')}" + (".tif" if mode == "CMYK" else ".png"))
    image.save(path)
    return path


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(height=st.integers(1, 64), width=st.integers(1, 64), batch=st.integers(1, 2),
       mode=st.sampled_from(MODES), kind=st.sampled_from(["bilinear", "dense", "scattered"]),
       seed=st.integers(0, 2**32 - 1))
def test_ports_agree_for_any_size_mode_and_kernel(demo, tmp_path, height, width, batch, mode,
                                                  kind, seed):
    rng = np.random.default_rng(seed)
    path = _image_file(tmp_path, mode, height, width, rng)
    image = load_image(path)
    assert image.shape == (height, width, 3) and image.dtype == np.float32
    images = np.stack([image] * batch) if batch == 1 else np.stack(
        [image, rng.uniform(0, 255, image.shape).astype(np.float32)])
    conv = rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32)
    deconv = _kernel(kind, rng)

    tf1 = run_session(images, weights={"conv_kernel": conv, "deconv_kernel": deconv})
    demo.set_kernels(conv_kernel=conv, deconv_kernel=deconv)
    tf2 = {name: t.numpy() for name, t in demo(images).items()}
    fast = demo.output(images).numpy()

    p, q = -(-height // 2), -(-width // 2)
    shapes = {"conv1": (batch, height, width, 64), "pool": (batch, p, q, 64),
              "output": (batch, 2 * p, 2 * q, 3)}
    np.testing.assert_array_equal(images, tf1["image"])
    for stage in STAGES:
        assert tf1[stage].shape == tf2[stage].shape == shapes[stage]
        # The same TF kernels on the same shapes in one process and
        # configuration: bit-identical by construction.
        np.testing.assert_array_equal(tf1[stage], tf2[stage])
    assert_matches_reference(images, conv, deconv, tf1, STAGES)
    assert_matches_reference(images, conv, deconv, {"output": fast})
    if batch == 1:
        np.testing.assert_array_equal(tf1["output"][0], tf1["display"])
