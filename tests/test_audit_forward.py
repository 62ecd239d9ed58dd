"""Forward parity: the TF1 port and the TF2 module on the same image and kernels.

Witnesses, every stage (`conv1`, `pool`, `output`, and the original's
displayed HWC picture against TF2's `output[0]`):

- `tf1`: `legacy_tf1.graph.run_session` (graph + session; it draws the conv
  kernel with a graph seed, and the deconv kernel is the FCN bilinear one
  unless a random one is given). Its kernels are fed to TF2.
- `eager`, `function`, `xla`, `fast`: `tf2.DeconvDemo(...)(images, mode=...)`
  and `(images, stages="output")` (the output-only path).
- `reference`: the independent float64 NumPy reference, the third witness
  of every comparison.

Tolerances:
- eager and `tf.function` against the session: bit-identical
  (`assert_array_equal` plus the bytes). The same TF kernels run on the same
  float32 inputs in the same order; measured identical on this CPU with
  oneDNN on and off.
- XLA and the fast path against the session: RTOL = 1e-5 of max |session|.
  XLA's CPU convolution is Eigen's, and under oneDNN the session's
  transposed convolution is oneDNN's: the two sum the same 4 x 64 products
  per output in another order (measured <= 7.1e-7 relative; bit-identical
  with TF_ENABLE_ONEDNN_OPTS=0, see the oneDNN test). The fast path sums the
  3 channels a bilinear kernel reads instead of 64 (same bound). A dense
  (random) deconv kernel reads all 64 channels: the fast path is then the
  full computation and bit-identical.
- every witness against the float64 reference: RTOL = 1e-5 of max
  |reference| (float32 rounding of sums of 27 and <= 256 products: measured
  <= 4.4e-7; a wrong tap, offset or channel is an O(1) error).
"""

import numpy as np
import pytest
import tensorflow as tf

from deconv_io import default_image_path, load_image
from legacy_tf1.graph import run_session
from migration_audit import onednn
from migration_audit import reference
from tf2.demo import DeconvDemo

RTOL = 1e-5
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
    for mode in ("eager", "function", "xla"):
        found[mode] = {k: v.numpy() for k, v in demo(x, mode=mode).items()}
    found["fast"] = {"output": demo(x, stages="output").numpy()}
    found["reference"] = reference.demo_stages(images, tf1["conv_kernel"], tf1["deconv_kernel"])
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

    for stage in STAGES:
        assert tf1[stage].shape == expected_shapes[stage], stage
        assert tf1[stage].dtype == np.float32, stage
        # Eager and tf.function: the same kernels in the same order.
        assert_bit_identical(tf1[stage], found["eager"][stage])
        assert_bit_identical(tf1[stage], found["function"][stage])
        # XLA: Eigen's convolution vs the session's (oneDNN) one; see above.
        assert reference.max_relative_error(tf1[stage], found["xla"][stage]) <= RTOL, stage
        for name in ("tf1", "eager", "function", "xla"):
            error = reference.max_relative_error(found["reference"][stage], found[name][stage])
            assert error <= RTOL, (name, stage, error)

    fast = found["fast"]["output"]
    assert reference.max_relative_error(tf1["output"], fast) <= RTOL
    assert reference.max_relative_error(found["reference"]["output"], fast) <= RTOL
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


@pytest.mark.slow
def test_onednn_and_eigen_agree_within_tolerance(tmp_path):
    # TF_ENABLE_ONEDNN_OPTS is read once at import: one subprocess per
    # setting, the same image and kernels (a random deconv kernel, so all 64
    # channels count). Measured on this CPU: conv1 and pool identical, the
    # transposed conv (output) differs by <= 7.1e-7 relative; XLA, which
    # uses Eigen's convolution either way, equals the session bit for bit
    # once the session uses Eigen too.
    images = _random_image((1, 33, 17, 3), 10)
    runs = onednn.compare_settings(images, **onednn.random_kernels(10), workdir=tmp_path)
    assert runs["eigen"]["onednn_enabled"] is False
    assert runs["onednn"]["onednn_enabled"] is True
    for setting, run in runs.items():
        assert run["passed"], setting
        for stage in STAGES:
            # The pairs shown bit-identical above hold under both settings.
            assert f"{stage} tf2_eager vs tf1_session" in run["bit_identical"], setting
            assert f"{stage} tf2_function vs tf1_session" in run["bit_identical"], setting
    for stage in STAGES:
        assert f"{stage} tf2_xla vs tf1_session" in runs["eigen"]["bit_identical"]
    eigen, onednn_arrays = runs["eigen"]["arrays"], runs["onednn"]["arrays"]
    assert set(eigen) == set(onednn_arrays) and "tf1_session/output" in eigen
    for key in eigen:
        # The same float32 math in another summation order (see the module
        # docstring's RTOL).
        assert reference.max_relative_error(eigen[key], onednn_arrays[key]) <= RTOL, key


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
    assert reference.max_relative_error(*outputs) > 100 * RTOL
