"""Forward parity: the TF1 port and the TF2 module on the same image and kernels.

Witnesses, every stage (`conv1`, `pool`, `output`, and the original's
displayed HWC picture against TF2's `output[0]`):

- `tf1`: `legacy_tf1.graph.run_session` (graph + session; it draws the conv
  kernel with a graph seed, and the deconv kernel is the FCN bilinear one
  unless a random one is given). Its kernels are fed to TF2.
- `eager`, `function`, `xla`, `fast`: `tf2.DeconvDemo(...).stages(images,
  execution=...)` and `.output(images)` (the output-only path).
- `reference`: the independent float64 NumPy reference, the third witness
  of every comparison.

Two kinds of claim (docs/equivalence.md):
- bit-identical by construction (`assert_array_equal` plus the bytes):
  eager and `tf.function` against the session, the display picture against
  `output[0]`, and the fast path with a dense (random) deconv kernel, which
  reads all 64 channels and so falls back to the full path's ops: the same
  TF kernels on the same float32 inputs and shapes, in one process and one
  configuration;
- within the derived bound (`migration_audit.bounds`): XLA and the fast
  path against the session (other kernels, other orders of the same sums:
  twice the float32 bound), every witness against the float64 reference
  (the float32 plus the float64 bound). A wrong tap, offset or channel is
  an O(1) error, far outside it.
"""

import numpy as np
import pytest
import tensorflow as tf

from deconv_io import default_image_path, load_image
from legacy_tf1.graph import run_session
from migration_audit import reference
from migration_audit.bounds import error_over_bound
from tests.conftest import assert_within, float32_bounds, reference_with_bounds
from tf2.demo import DeconvDemo

STAGES = ("conv1", "pool", "output")


def _random_image(shape, seed):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _random_deconv(seed):
    return np.random.default_rng(seed + 100).uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)


def assert_bit_identical(expected, actual):
    """Equal values (NumPy's view) and equal bytes (signed zeros, NaN payloads)."""
    np.testing.assert_array_equal(expected, actual)
    assert expected.dtype == actual.dtype
    assert np.ascontiguousarray(expected).tobytes() == np.ascontiguousarray(actual).tobytes()


def _witnesses(images, seed, deconv):
    """Runs every witness on `images`; the TF1 port draws the conv kernel."""
    weights = None if deconv is None else {"deconv_kernel": deconv}
    tf1 = run_session(images, seed=seed, weights=weights)
    demo = DeconvDemo(conv_kernel=tf1["conv_kernel"], deconv_kernel=tf1["deconv_kernel"])
    x = tf.constant(images)
    found = {"tf1": tf1}
    for execution in ("eager", "function", "xla"):
        found[execution] = {k: v.numpy() for k, v in demo.stages(x, execution=execution).items()}
    found["fast"] = {"output": demo.output(x).numpy()}
    return found


CASES = {
    # id: (images factory, TF1 graph seed, random deconv kernel?)
    "750x500-packaged": (lambda: load_image(default_image_path())[np.newaxis], 0, False),
    "7x5-bilinear": (lambda: _random_image((1, 7, 5, 3), 1), 1, False),
    "7x5-random": (lambda: _random_image((1, 7, 5, 3), 2), 2, True),
    "33x17-bilinear": (lambda: _random_image((1, 33, 17, 3), 3), 3, False),
    "33x17-random": (lambda: _random_image((1, 33, 17, 3), 4), 4, True),
    "1x1-bilinear": (lambda: _random_image((1, 1, 1, 3), 5), 5, False),
    "1x1-random": (lambda: _random_image((1, 1, 1, 3), 6), 6, True),
    "batch3-9x6-bilinear": (lambda: _random_image((3, 9, 6, 3), 7), 7, False),
    "batch2-33x17-random": (lambda: _random_image((2, 33, 17, 3), 8), 8, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_forward_parity(case):
    make_images, seed, random_deconv = CASES[case]
    images = make_images()
    n, h, w, _ = images.shape
    found = _witnesses(images, seed, _random_deconv(seed) if random_deconv else None)
    tf1 = found["tf1"]
    # The input and the kernels the session used are what TF2 was given.
    assert_bit_identical(images, tf1["image"])
    expected_shapes = {"conv1": (n, h, w, 64), "pool": (n, -(-h // 2), -(-w // 2), 64),
                       "output": (n, 2 * -(-h // 2), 2 * -(-w // 2), 3)}

    bounds = float32_bounds(images, tf1["conv_kernel"], tf1["deconv_kernel"])
    expected, reference_bounds = reference_with_bounds(images, tf1["conv_kernel"],
                                                       tf1["deconv_kernel"])
    for stage in STAGES:
        assert tf1[stage].shape == expected_shapes[stage], stage
        assert tf1[stage].dtype == np.float32, stage
        # Eager and tf.function: the same kernels on the same shapes.
        assert_bit_identical(tf1[stage], found["eager"][stage])
        assert_bit_identical(tf1[stage], found["function"][stage])
        # XLA compiles its own kernels: another order of the same sums.
        assert_within(found["xla"][stage], tf1[stage], 2 * bounds[stage], f"xla {stage}")
        for name in ("tf1", "eager", "function", "xla"):
            assert_within(found[name][stage], expected[stage], reference_bounds[stage],
                          f"{name} {stage} vs float64 reference")

    fast = found["fast"]["output"]
    assert_within(fast, tf1["output"], 2 * bounds["output"], "fast output")
    assert_within(fast, expected["output"], reference_bounds["output"],
                  "fast output vs float64 reference")
    if random_deconv:
        # Every channel is read: the fast path is the full computation.
        assert_bit_identical(tf1["output"], fast)

    if n == 1:
        # The original's transpose/squeeze/transpose picture is output[0].
        assert tf1["display"].shape == (2 * -(-h // 2), 2 * -(-w // 2), 3)
        assert_bit_identical(tf1["display"], found["function"]["output"][0])
        assert_bit_identical(tf1["display"], tf1["output"][0])
    else:
        # The original's display chain breaks for a batch > 1: not built.
        assert tf1["display"] is None


def test_bilinear_output_reads_only_conv_channels_0_to_2():
    # Kept quirk, checked across the ports: with the bilinear deconv kernel
    # the output ignores conv channels 3..63, so scrambling them changes
    # nothing in TF1 or TF2 (bit for bit).
    images = _random_image((1, 7, 5, 3), 9)
    tf1 = run_session(images, seed=9)
    scrambled = tf1["conv_kernel"].copy()
    scrambled[..., 3:] = np.random.default_rng(9).uniform(-5, 5, scrambled[..., 3:].shape)
    tf1_scrambled = run_session(images, weights={"conv_kernel": scrambled})
    demo = DeconvDemo(conv_kernel=scrambled, deconv_kernel=tf1["deconv_kernel"])
    assert_bit_identical(tf1["output"], tf1_scrambled["output"])
    assert_bit_identical(tf1["output"], demo(images)["output"].numpy())


def test_jpeg_decoders_tf_default_dct_differs_from_pillow():
    # Pitfall: a TF2 rewrite that reads the JPEG with tf.io.decode_jpeg
    # (default dct_method "", i.e. libjpeg's fast integer DCT) feeds other
    # pixels than the original's Pillow decode: on the packaged image up to
    # 8 levels on ~85% of the pixels, far outside the audit's tolerance once
    # through the network. dct_method="INTEGER_ACCURATE" (Pillow's method)
    # gives Pillow's pixels exactly. The audit feeds both ports one decode.
    path = default_image_path()
    pillow = load_image(path)
    data = tf.io.read_file(str(path))
    default = tf.io.decode_jpeg(data, channels=3).numpy().astype(np.float32)
    accurate = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
    assert_bit_identical(pillow, accurate.numpy().astype(np.float32))
    levels = np.abs(default - pillow).max(axis=-1)
    assert 1 <= levels.max() <= 10 and (levels > 0).mean() > 0.5
    demo = DeconvDemo(seed=0)
    outputs = [demo(image[np.newaxis])["output"].numpy() for image in (pillow, default)]
    bound = 2 * float32_bounds(pillow[np.newaxis], demo.conv_kernel, demo.deconv_kernel)["output"]
    assert error_over_bound(outputs[1], outputs[0], bound)[0] > 100  # far outside rounding
