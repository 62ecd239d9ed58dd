"""Folder mode's `--outputs` (picture, output, stages), its pipeline, and its benchmark.

The picture is proved equal to what matplotlib's `imshow` shows at 1:1
(matplotlib's own rendering, compared byte for byte); the `output` array
against the float64 reference within the derived bound (the fast path orders
its sums differently from `stages`), and against the dump's `output`
bit for bit where both come from one `stages` run.
"""

import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from deconv_io import load_image, outputs as outputs_module, picture as picture_module
from deconv_io.display import normalize_for_display
from deconv_io.outputs import DEFAULT_OUTPUTS, output_is_complete, parse_outputs
from deconv_io.picture import picture_pixels
from tests.conftest import REPO, assert_matches_reference
from tests.conftest import write_image as _write_image
from tf2 import batch
from tf2 import batch_paths
from tf2.cli import build_parser, main
from tf2.demo import DeconvDemo


def _imshow_pixels(hwc):
    """What matplotlib draws for `plt.imshow(hwc)` at one array element per pixel."""
    import logging

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    logging.getLogger("matplotlib.image").setLevel(logging.ERROR)  # the clipping notice
    height, width = hwc.shape[:2]
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    try:
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        ax.imshow(hwc)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)


# --- the flag ------------------------------------------------------------------

def test_outputs_flag_default_and_order():
    parser = build_parser()
    assert parser.parse_args([]).outputs == DEFAULT_OUTPUTS == ("picture", "output")
    assert parser.parse_args(["--outputs", "stages,picture"]).outputs == ("picture", "stages")
    assert parser.parse_args(["--outputs", " Output "]).outputs == ("output",)
    with pytest.raises(ValueError, match=r"^expected a comma-separated list of picture, "
                                         r"output, stages, got 'npz'$"):
        parse_outputs("npz")


def test_help_tells_how_to_get_the_old_dump(capsys):
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--outputs stages does that" in text and "default: picture,output" in text


def test_bad_outputs_value_exits_2_with_one_line(tmp_path, subprocess_env):
    proc = subprocess.run([sys.executable, "-m", "tf2", str(tmp_path), "--output-dir",
                           str(tmp_path / "o"), "--outputs", "picture,dump"], cwd=REPO,
                          env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "tf2: error: argument --outputs: expected a comma-separated list of picture, output, "
        "stages, got 'picture,dump' (see --help)"]


# --- the picture -----------------------------------------------------------------

def _hostile_floats():
    """Out of range, exact k/255, the float32 next to each, NaN-free."""
    k = (np.arange(256) / 255).astype(np.float32)
    values = np.concatenate([k, np.nextafter(k, np.float32(-1)), np.nextafter(k, np.float32(2)),
                             np.float32([-3.0, -0.0, 1.5, 255.0, 1e-30])])
    rng = np.random.default_rng(0)
    values = np.concatenate([values, rng.uniform(-0.5, 1.5, 2000).astype(np.float32)])
    return rng.permutation(np.resize(values, 31 * 29 * 3)).reshape(31, 29, 3)


def test_picture_pixels_are_what_imshow_shows():
    hwc = _hostile_floats()
    np.testing.assert_array_equal(picture_pixels(hwc), _imshow_pixels(hwc))


def test_normalized_picture_pixels_are_what_imshow_shows_of_the_normalized_array():
    hwc = _hostile_floats() * 40 - 7
    np.testing.assert_array_equal(picture_pixels(hwc, normalize=True),
                                  _imshow_pixels(normalize_for_display(hwc)))


def test_picture_pixels_hand_worked():
    # imshow truncates: 0.999 * 255 = 254.7 shows as 254; only 1.0 gives 255.
    hwc = np.float32([[[0.0, 0.999, 1.0], [-2.0, 3.0, 128 / 255]]])
    assert picture_pixels(hwc).tolist() == [[[0, 254, 255], [0, 255, 128]]]


@pytest.mark.parametrize("level", range(10))
def test_png_bytes_decode_to_the_pixels_at_every_level(level):
    pixels = np.random.default_rng(level).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    pixels[2:5] = 255  # runs that deflate shortens
    data = picture_module.png_bytes(pixels, level)
    assert len(data) <= picture_module.picture_bytes(7, 5)
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (5, 7))
        im.verify()  # every chunk's CRC
    with Image.open(io.BytesIO(data)) as im:
        np.testing.assert_array_equal(np.asarray(im), pixels)


@pytest.mark.parametrize("pixels", [np.zeros((2, 2, 3), np.float32), np.zeros((2, 2), np.uint8),
                                    np.zeros((0, 2, 3), np.uint8), np.zeros((2, 2, 4), np.uint8)])
def test_png_bytes_refuses_what_is_not_8_bit_rgb(pixels):
    with pytest.raises(ValueError, match=r"Invalid value for argument `pixels`\. Expected a "
                                         r"non-empty uint8 \(H, W, 3\) array\. Received: "):
        picture_module.png_bytes(pixels)


def test_picture_file_round_trips_and_is_checked(tmp_path):
    hwc = _hostile_floats()
    path = tmp_path / "p.png"
    picture_module.save_picture_atomic(path, hwc)
    with Image.open(path) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (29, 31))
        np.testing.assert_array_equal(np.asarray(im), picture_pixels(hwc))
    assert path.stat().st_size <= picture_module.picture_bytes(31, 29)
    assert picture_module.picture_is_complete(path, 31, 29)
    assert not picture_module.picture_is_complete(path, 31, 30)
    assert output_is_complete("picture", path)  # an (H, W) image's picture is 2ceil(H/2) high
    assert not output_is_complete("picture", path, 31, 29)
    path.write_bytes(path.read_bytes()[:-20])
    assert not output_is_complete("picture", path)


def test_output_file_checks(tmp_path):
    path = tmp_path / "o.npy"
    np.save(path, np.zeros((1, 8, 6, 3), np.float32))
    assert output_is_complete("output", path, 7, 5) and output_is_complete("output", path)
    assert not output_is_complete("output", path, 9, 5)
    assert path.stat().st_size <= outputs_module.output_bytes("output", 7, 5)
    for bad in (np.zeros((1, 8, 6, 3), np.float64), np.zeros((8, 6, 3), np.float32)):
        np.save(path, bad)
        assert not output_is_complete("output", path)
    np.save(path, np.zeros((1, 8, 6, 3), np.float32))
    path.write_bytes(path.read_bytes()[:-1])
    assert not output_is_complete("output", path, 7, 5)


# --- what folder mode writes -----------------------------------------------------------

def test_default_outputs_are_the_picture_and_the_output_array(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    demo = DeconvDemo(seed=1)
    result = batch.run_batch(demo, batch_paths.expand_inputs([folder]), out, progress=False)
    assert result == batch.BatchResult(written=2, skipped=0, failed=())
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "a.png", "b.npy", "b.png"]
    kernels = demo.conv_kernel.numpy(), demo.deconv_kernel.numpy()
    for stem, name in (("a", "a.png"), ("b", "b.jpg")):
        image = load_image(folder / name)[None]
        output = np.load(out / f"{stem}.npy", allow_pickle=False)
        assert output.dtype == np.float32 and output.shape[0] == 1
        assert_matches_reference(image, *kernels, {"output": output}, ("output",))
        with Image.open(out / f"{stem}.png") as im:
            np.testing.assert_array_equal(np.asarray(im), picture_pixels(output[0]))


def test_png_level_changes_the_file_not_the_pixels(folder, tmp_path):
    pictures = {}
    for level in ("0", "9"):
        out = tmp_path / level
        args = [str(folder), "--seed", "3", "--output-dir", str(out), "--outputs", "picture"]
        assert main(args + ([] if level == "0" else ["--png-level", level])) == 0
        with Image.open(out / "a.png") as im:
            pictures[level] = (np.asarray(im), (out / "a.png").stat().st_size)
    np.testing.assert_array_equal(pictures["0"][0], pictures["9"][0])
    stored = pictures["0"][0].size + pictures["0"][0].shape[0]  # the pixels and a filter byte a row
    assert pictures["0"][1] > stored > pictures["9"][1]  # the default stores, 9 compresses


def test_all_three_outputs_agree_bit_for_bit(folder, tmp_path):
    out = tmp_path / "out"
    assert main([str(folder), "--seed", "3", "--output-dir", str(out), "--outputs",
                 "picture,output,stages", "--normalize"]) == 0
    with np.load(out / "b.npz", allow_pickle=False) as dump:
        assert list(dump.files) == ["image", "conv_kernel", "deconv_kernel", "conv1", "pool",
                                    "output"]
        expected = dump["output"]
    # One `stages` run gives every file its output: the same bytes.
    np.testing.assert_array_equal(np.load(out / "b.npy"), expected)
    with Image.open(out / "b.png") as im:
        np.testing.assert_array_equal(np.asarray(im), picture_pixels(expected[0], normalize=True))


def test_skip_existing_needs_every_requested_output_whole(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(folder), "--output-dir", str(out)]) == 0
    kept = (out / "a.png").read_bytes(), (out / "a.npy").read_bytes()
    (out / "b.npy").write_bytes((out / "b.npy").read_bytes()[:-8])  # truncated
    capsys.readouterr()
    # Without --seed each run draws other kernels: a rewritten file would differ.
    assert main([str(folder), "--output-dir", str(out), "--skip-existing"]) == 0
    assert "1 written, 1 skipped (existing), 0 failed" in capsys.readouterr().out
    assert ((out / "a.png").read_bytes(), (out / "a.npy").read_bytes()) == kept
    assert output_is_complete("output", out / "b.npy", 33, 17)
    # Asking for more than exists: a's dump is missing, so a is redone.
    assert main([str(folder), "--output-dir", str(out), "--skip-existing", "--outputs",
                 "picture,stages"]) == 0
    assert "2 written, 0 skipped (existing), 0 failed" in capsys.readouterr().out
    (out / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    assert main([str(folder), "--output-dir", str(out), "--skip-existing", "--outputs",
                 "output"]) == 0  # the damaged picture is not asked for
    assert "0 written, 2 skipped (existing), 0 failed" in capsys.readouterr().out
    assert main([str(folder), "--output-dir", str(out), "--skip-existing"]) == 0
    assert "1 written, 1 skipped (existing), 0 failed" in capsys.readouterr().out
    assert output_is_complete("picture", out / "a.png", 7, 5)


def test_a_tiled_image_writes_its_picture_and_output(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    _write_image(images / "big.png", (130, 90, 3), seed=4)
    out = tmp_path / "out"
    # 1 GiB of runtime plus a little: the image is tiled (see tf2.memory_plan.plan_memory).
    assert main([str(images), "--output-dir", str(out), "--max-memory",
                 str(2**30 + 2**20), "--seed", "0", "--outputs", "picture,output,stages"]) == 0
    output = np.load(out / "big.npy")
    assert output.shape == (1, 130, 90, 3)
    with np.load(out / "big.npz") as dump:
        assert list(dump.files) == ["image", "conv_kernel", "deconv_kernel", "output"]
        np.testing.assert_array_equal(dump["output"], output)
        assert_matches_reference(dump["image"], dump["conv_kernel"], dump["deconv_kernel"],
                                 {"output": output}, ("output",))


def test_a_failed_write_fails_its_image_only(folder, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").mkdir()  # a folder where a picture goes: its rename fails
    real = batch._write

    def write(kind, path, *args):
        return "disk on fire" if path.name == "b.npy" else real(kind, path, *args)

    monkeypatch.setattr(batch, "_write", write)
    result = batch.run_batch(DeconvDemo(seed=1), batch_paths.expand_inputs([folder]), out,
                             progress=False)
    assert result.written == 1 and result.failed == (folder / "b.jpg",)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"skipped {folder / 'b.jpg'}: " in err
    assert "disk on fire" in err and "Cannot write" in err


# --- the pipeline stays bounded ----------------------------------------------------------

def test_images_in_flight_stay_bounded_however_many_there_are(tmp_path, monkeypatch):
    """Decoded-but-unwritten images never exceed what the queues allow (flat memory)."""
    images = tmp_path / "images"
    images.mkdir()
    source = _write_image(tmp_path / "src.png", (6, 4, 3), seed=5)
    count, threads = 40, 2
    for i in range(count):
        os.link(source, images / f"i{i:03d}.png")
    alive, peak, lock = [0], [0], threading.Lock()
    real_decode, real_write = batch._decode, batch._write

    def decode(*args):
        result = real_decode(*args)
        with lock:
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])
        return result

    def write(*args):
        time.sleep(0.01)  # a slow disk: the writes fall behind
        try:
            return real_write(*args)
        finally:
            with lock:
                alive[0] -= 1

    monkeypatch.setattr(batch, "_decode", decode)
    monkeypatch.setattr(batch, "_write", write)
    out = tmp_path / "out"
    out.mkdir()
    result = batch.run_batch(DeconvDemo(seed=1), batch_paths.expand_inputs([images]), out,
                             progress=False, outputs=("output",), threads=threads)
    assert result.written == count and alive[0] == 0
    # Decoded ahead (threads + 1), one computed, writes behind (threads).
    assert peak[0] <= 2 * threads + 2, peak[0]


def test_a_tiled_image_is_decoded_and_computed_alone(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for name, shape in (("a", (6, 4, 3)), ("b_big", (130, 90, 3)), ("c", (6, 4, 3)),
                        ("d", (6, 4, 3))):
        _write_image(images / f"{name}.png", shape, seed=6)
    decoded, seen = [], {}
    real_decode, real_compute = batch._decode, batch._compute

    def decode(path, *args):
        decoded.append(path.name)
        return real_decode(path, *args)

    def compute(demo, image, plan, all_stages):
        if plan is not None and plan.tiled:
            seen["before"] = list(decoded)
            result = real_compute(demo, image, plan, all_stages)
            seen["after"] = list(decoded)
            return result
        return real_compute(demo, image, plan, all_stages)

    monkeypatch.setattr(batch, "_decode", decode)
    monkeypatch.setattr(batch, "_compute", compute)
    out = tmp_path / "out"
    out.mkdir()
    # 1 GiB of runtime plus a little: only b_big is tiled (see tf2.memory_plan.plan_memory).
    result = batch.run_batch(DeconvDemo(seed=1), batch_paths.expand_inputs([images]), out,
                             progress=False, budget=2**30 + 2**20, threads=2)
    assert result.written == 4
    assert seen["before"] == seen["after"] == ["a.png", "b_big.png"]


def test_tensorflow_out_of_memory_skips_that_image(tmp_path, monkeypatch, capsys):
    class ResourceExhaustedError(RuntimeError):  # TensorFlow's, recognised by name
        pass

    images = tmp_path / "in"
    images.mkdir()
    for name in ("a", "b"):
        _write_image(images / f"{name}.png", (6, 4, 3), seed=7)
    real_compute = batch._compute

    def compute(demo, image, plan, all_stages):
        if image.shape[0] == 6 and not compute.raised:
            compute.raised = True
            raise ResourceExhaustedError("OOM when allocating tensor")
        return real_compute(demo, image, plan, all_stages)

    compute.raised = False
    monkeypatch.setattr(batch, "_compute", compute)
    out = tmp_path / "out"
    out.mkdir()
    result = batch.run_batch(DeconvDemo(seed=1), batch_paths.expand_inputs([images]), out,
                             progress=False, threads=1)
    assert (result.written, len(result.failed)) == (1, 1)
    assert (f"skipped {result.failed[0]}: TensorFlow ran out of memory for this image (see "
            f"--max-memory)") in capsys.readouterr().err


# --- the benchmark ---------------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.slow
def test_folder_benchmark_quick_writes_its_json(tmp_path, subprocess_env):
    report = tmp_path / "folder.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.folder", "--quick", "--json",
                           str(report)], cwd=REPO, env=subprocess_env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(report.read_text())
    assert {"machine", "images", "height", "width", "results", "ratios", "target",
            "memory"} <= set(doc)
    variants = {r["variant"] for r in doc["results"]}
    assert variants == {"compute_only", "folder_default_in_process",
                        "folder_default_in_process_warm", "folder_default_process",
                        "folder_stages_process", "legacy_tf1_per_image"}
    for r in doc["results"]:
        assert r["images_per_s"] > 0 and r["seconds"] > 0
    assert doc["ratios"]["default_over_compute_only"] > 0
    assert doc["target"]["ratio"] == 0.7 and isinstance(doc["target"]["met"], bool)
    assert doc["memory"]["rss_first_mb"] > 0 and doc["memory"]["rss_last_mb"] > 0

