"""The same image file through `python -m legacy_tf1` and `python -m tf2`.

Both command lines read the file with the same Pillow loader, so they feed
the very same `image` array (a JPEG included: `tf.io.decode_jpeg` would
not, MIGRATION.md pitfall 1), and with the same `--weights` they dump the
same `conv1`, `pool` and `output`, bit for bit (TF1 session vs TF2
`tf.function`, the same oneDNN kernels). The kernels come from a weights
file because the same `--seed` draws differently in the two ports.
"""

import numpy as np
import pytest
from PIL import Image

from deconv_io import DUMP_NAMES, default_image_path, save_weights
from legacy_tf1.cli import main as tf1_main
from tf2.cli import main as tf2_main


def _jpeg(folder):
    rng = np.random.default_rng(5)
    # Smooth content, so the JPEG's DCT coefficients are not all clipped.
    y, x = np.mgrid[0:37, 0:23]
    pixels = np.stack([(x * 11) % 256, (y * 7) % 256, (x + y) * 3 % 256], axis=-1)
    pixels = (pixels + rng.integers(0, 20, pixels.shape)).clip(0, 255).astype(np.uint8)
    path = folder / "odd.jpg"
    Image.fromarray(pixels).save(path, quality=85)
    return path


@pytest.fixture
def weights(tmp_path):
    rng = np.random.default_rng(6)
    path = tmp_path / "w.npz"
    save_weights(path, rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32),
                 rng.uniform(-0.5, 0.5, (3, 3, 3, 64)).astype(np.float32))
    return path


@pytest.mark.parametrize("which", ["odd_jpeg", "rgba_png", "packaged"])
def test_both_command_lines_feed_and_compute_the_same_arrays(tmp_path, weights, which, capsys):
    if which == "odd_jpeg":
        image = _jpeg(tmp_path)
    elif which == "rgba_png":
        image = tmp_path / "in.png"
        rgba = np.random.default_rng(7).integers(0, 256, (9, 14, 4), dtype=np.uint8)
        Image.fromarray(rgba, mode="RGBA").save(image)
    else:
        image = default_image_path()
    dumps = {}
    for name, main in (("tf1", tf1_main), ("tf2", tf2_main)):
        dumps[name] = tmp_path / f"{name}.npz"
        assert main([str(image), "--weights", str(weights), "--dump", str(dumps[name]),
                     "--no-show"]) == 0
    capsys.readouterr()
    with np.load(dumps["tf1"]) as tf1, np.load(dumps["tf2"]) as tf2:
        assert sorted(tf1.files) == sorted(tf2.files) == sorted(DUMP_NAMES)
        for name in DUMP_NAMES:
            assert tf1[name].dtype == tf2[name].dtype == np.float32
            np.testing.assert_array_equal(tf1[name], tf2[name], err_msg=name)
