"""tf2.cli and tf2.batch: the command line end to end, batches, every bad input.

Most runs call `main([...])` in-process on small images; two run
`python -m tf2` in a subprocess for the exit status and the absence of a
traceback. Numbers are checked against the float64 reference (within the
derived bound of `migration_audit.bounds`) and against `DeconvDemo` itself
(bit-identical: the same ops on the same inputs and shapes, one process).
"""

import doctest
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import tf2
from deconv_io import DUMP_NAMES, load_image, save_weights
from tests.conftest import REPO, assert_matches_reference
from tests.conftest import write_image as _write_image
from tf2 import batch, batch_paths, cli, demo, export
from tf2.cli import main
from tf2.demo import DeconvDemo



def _load(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _assert_dump_is_the_demo_on(arrays, image):
    """The dump holds the fed image and what the demo computes from it."""
    assert list(arrays) == list(DUMP_NAMES)
    n, h, w, _ = image.shape
    oh, ow = -(-h // 2), -(-w // 2)
    assert {k: v.shape for k, v in arrays.items()} == {
        "image": image.shape, "conv_kernel": (3, 3, 3, 64), "deconv_kernel": (3, 3, 3, 64),
        "conv1": (n, h, w, 64), "pool": (n, oh, ow, 64), "output": (n, 2 * oh, 2 * ow, 3)}
    assert all(v.dtype == np.float32 for v in arrays.values())
    np.testing.assert_array_equal(image, arrays["image"])
    assert_matches_reference(image, arrays["conv_kernel"], arrays["deconv_kernel"], arrays,
                             ("conv1", "pool", "output"))


@pytest.fixture
def image_path(tmp_path):
    return _write_image(tmp_path / "in.png")


# --- one image ----------------------------------------------------------------

def test_dump_and_picture(image_path, tmp_path, capsys):
    dump, picture = tmp_path / "out.npz", tmp_path / "out.png"
    assert main([str(image_path), "--seed", "0", "--no-show", "--dump", str(dump),
                 "--save", str(picture)]) == 0
    assert capsys.readouterr().out == f"{image_path}: image (1, 7, 5, 3) -> output (1, 8, 6, 3)\n"
    arrays = _load(dump)
    _assert_dump_is_the_demo_on(arrays, load_image(image_path)[None])
    demo = DeconvDemo(conv_kernel=arrays["conv_kernel"])
    np.testing.assert_array_equal(demo.stages(arrays["image"])["output"], arrays["output"])
    with Image.open(picture) as im:
        assert im.format == "PNG"


def test_jpeg_dump_image_is_pillows_decode(tmp_path):
    # The CLI feeds Pillow's decode (as the original and legacy_tf1), not
    # tf.io.decode_jpeg's default DCT, which differs by up to 10 levels.
    photo = tmp_path / "photo.jpg"
    smooth = np.add.outer(np.arange(17), np.arange(33))[:, :, None] * [7, 5, 3] % 256
    Image.fromarray(smooth.astype(np.uint8)).save(photo, quality=75)
    dump = tmp_path / "out.npz"
    assert main([str(photo), "--no-show", "--dump", str(dump)]) == 0
    with Image.open(photo) as im:
        pillow = np.asarray(im.convert("RGB"), dtype=np.float32)
    np.testing.assert_array_equal(pillow[None], _load(dump)["image"])


def test_seed_reproduces_the_conv_kernel(image_path, tmp_path):
    dumps = [tmp_path / f"{i}.npz" for i in range(3)]
    for dump, seed in zip(dumps, ["3", "3", "4"]):
        assert main([str(image_path), "--no-show", "--seed", seed, "--dump", str(dump)]) == 0
    first, again, other = (_load(d)["conv_kernel"] for d in dumps)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_weights_are_used(image_path, tmp_path):
    rng = np.random.default_rng(1)
    kernels = {n: rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
               for n in ("conv_kernel", "deconv_kernel")}
    save_weights(tmp_path / "w.npz", **kernels)
    dump = tmp_path / "out.npz"
    assert main([str(image_path), "--no-show", "--weights", str(tmp_path / "w.npz"),
                 "--dump", str(dump)]) == 0
    arrays = _load(dump)
    for name, value in kernels.items():
        np.testing.assert_array_equal(value, arrays[name])
    _assert_dump_is_the_demo_on(arrays, load_image(image_path)[None])


def test_normalize_draws_a_different_picture(tmp_path):
    # Bright pixels push the raw output far above 1, where imshow clips to
    # white (the original's saturated picture); --normalize rescales first.
    image = _write_image(tmp_path / "in.png", shape=(16, 16, 3))
    raw, scaled = tmp_path / "raw.png", tmp_path / "scaled.png"
    assert main([str(image), "--seed", "1", "--no-show", "--save", str(raw)]) == 0
    assert main([str(image), "--seed", "1", "--no-show", "--save", str(scaled), "--normalize"]) == 0
    with Image.open(raw) as a, Image.open(scaled) as b:
        assert a.size == b.size
        assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_help_lists_every_flag(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--seed", "--weights", "--dump", "--save", "--show", "--no-show", "--output-dir",
                 "--skip-existing", "--outputs", "--io-threads", "--normalize", "--max-pixels",
                 "--verbose"):
        assert flag in text


# --- batches ------------------------------------------------------------------

def test_folder_with_a_bad_file_writes_the_good_ones_and_exits_1(folder, tmp_path, capsys):
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    assert main([str(folder), "--seed", "0", "--output-dir", str(out), "--outputs", "stages"]) == 1
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz"]
    assert f"skipped {folder / 'bad.png'}" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == f"tf2: 2 written, 0 skipped (existing), 1 failed, in {out}\n"
    a, b = _load(out / "a.npz"), _load(out / "b.npz")
    _assert_dump_is_the_demo_on(a, load_image(folder / "a.png")[None])
    _assert_dump_is_the_demo_on(b, load_image(folder / "b.jpg")[None])
    np.testing.assert_array_equal(a["conv_kernel"], b["conv_kernel"])


def test_batch_matches_single_image_dump_bit_for_bit(folder, tmp_path):
    single, out = tmp_path / "single.npz", tmp_path / "out"
    assert main([str(folder / "b.jpg"), "--seed", "5", "--no-show", "--dump", str(single)]) == 0
    assert main([str(folder / "a.png"), str(folder / "b.jpg"), "--seed", "5",
                 "--output-dir", str(out), "--outputs", "stages"]) == 0
    expected, actual = _load(single), _load(out / "b.npz")
    for name in DUMP_NAMES:
        np.testing.assert_array_equal(expected[name], actual[name])


def test_skip_existing_leaves_existing_dumps_alone(folder, tmp_path, capsys):
    out, stages = tmp_path / "out", ["--outputs", "stages"]
    assert main([str(folder), "--output-dir", str(out), *stages]) == 0
    mine = (out / "a.npz").read_bytes()
    (out / "b.npz").unlink()
    # Without --seed each run draws other kernels: a rewritten a.npz would differ.
    assert main([str(folder), "--output-dir", str(out), "--skip-existing", *stages]) == 0
    assert (out / "a.npz").read_bytes() == mine
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz"]
    assert "1 written, 1 skipped (existing), 0 failed" in capsys.readouterr().out
    assert main([str(folder), "--output-dir", str(out), *stages]) == 0  # without: rewritten
    assert (out / "a.npz").read_bytes() != mine
    assert list(_load(out / "a.npz")) == list(DUMP_NAMES)


@pytest.mark.parametrize("damage", [lambda b: b[:100], lambda b: b"mine",
                                    lambda b: b[:len(b) // 2]])
def test_skip_existing_redoes_a_truncated_or_foreign_dump(damage, folder, tmp_path, capsys):
    out, stages = tmp_path / "out", ["--outputs", "stages"]
    assert main([str(folder), "--output-dir", str(out), *stages]) == 0
    (out / "a.npz").write_bytes(damage((out / "a.npz").read_bytes()))
    assert main([str(folder), "--output-dir", str(out), "--skip-existing", *stages]) == 0
    assert "1 written, 1 skipped (existing), 0 failed" in capsys.readouterr().out
    assert list(_load(out / "a.npz")) == list(DUMP_NAMES)


def test_one_image_with_output_dir_is_a_batch_of_one(image_path, tmp_path):
    out = tmp_path / "new"  # created: its parent exists
    assert main([str(image_path), "--output-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["in.npy", "in.png"]


def test_run_batch_counts_and_reports(folder, tmp_path, capsys):
    (folder / "empty.gif").write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    paths = batch_paths.expand_inputs([folder])
    assert [p.name for p in paths] == ["a.png", "b.jpg", "empty.gif"]
    result = batch.run_batch(DeconvDemo(seed=1), paths, out, progress=False)
    assert result == batch.BatchResult(written=2, skipped=0, failed=(folder / "empty.gif",))
    assert result.exit_status == 1
    assert capsys.readouterr().err == (
        f"tf2: skipped {folder / 'empty.gif'}: Image file is empty: {folder / 'empty.gif'}\n")


# --- bad input: exit 2, one line, nothing written ---------------------------

def _bad_cases(tmp_path, image_path):
    """(argv, message start) for each user mistake."""
    missing = tmp_path / "none.png"
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    bad_weights = tmp_path / "w.npz"
    np.savez(bad_weights, conv_kernel=np.zeros((3, 3, 3, 64), np.float32),
             deconv_kernel=np.zeros((3, 3, 64, 3), np.float32))
    same_stem = tmp_path / "other"
    same_stem.mkdir()
    _write_image(same_stem / "in.jpg")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    img = str(image_path)
    return {
        "missing image": ([str(missing)], f"Image not found: {missing}"),
        "corrupt image": ([str(corrupt)], f"Corrupt or truncated image {corrupt}"),
        "bad weights": ([img, "--weights", str(bad_weights)], "Weights array `deconv_kernel` must"),
        "dump is a folder": ([img, "--dump", str(tmp_path)], f"--dump {tmp_path}: is a directory"),
        "save folder missing": ([img, "--save", str(tmp_path / "no" / "p.png")],
                                "--save"),
        "same dump and save": ([img, "--dump", str(tmp_path / "x"), "--save",
                                str(tmp_path / "x")], "--dump and --save name the same file"),
        "too many pixels": ([img, "--max-pixels", "10"], f"Image {image_path} is 7x5 = 35 pixels"),
        "max pixels zero": ([img, "--max-pixels", "0"],
                            "argument --max-pixels: expected an int >= 1, got '0'"),
        "skip without dir": ([img, "--skip-existing"], "--skip-existing applies only with"),
        "outputs without dir": ([img, "--outputs", "stages"], "--outputs applies only with"),
        "io threads without dir": ([img, "--io-threads", "2"], "--io-threads applies only with"),
        "io threads zero": ([img, "--output-dir", str(tmp_path / "o"), "--io-threads", "0"],
                            "argument --io-threads: expected an int >= 1, got '0'"),
        "outputs unknown": ([img, "--output-dir", str(tmp_path / "o"), "--outputs", "png"],
                            "argument --outputs: expected a comma-separated list of picture, "
                            "output, stages, got 'png'"),
        "outputs empty": ([img, "--output-dir", str(tmp_path / "o"), "--outputs", ","],
                          "argument --outputs: expected a comma-separated list"),
        "normalize without picture": ([img, "--output-dir", str(tmp_path / "o"), "--outputs",
                                       "output", "--normalize"],
                                      "--normalize changes only the picture"),
        "png level without picture": ([img, "--output-dir", str(tmp_path / "o"), "--outputs",
                                       "output", "--png-level", "1"],
                                      "--png-level changes only the picture"),
        "png level without dir": ([img, "--png-level", "1"], "--png-level applies only with"),
        "png level out of range": ([img, "--output-dir", str(tmp_path / "o"), "--png-level",
                                    "10"], "argument --png-level: expected a zlib level from "
                                           "0 to 9, got '10'"),
        "picture over an input": ([img, "--output-dir", str(tmp_path)],
                                  f"--output-dir: {tmp_path / 'in.png'} is an input of this run"),
        "several without dir": ([img, img], "several images or a folder need --output-dir"),
        "folder without dir": ([str(same_stem)], "several images or a folder need --output-dir"),
        "dump in batch": ([img, "--output-dir", str(tmp_path / "o"), "--dump",
                           str(tmp_path / "d.npz")], "--dump: only for a single image"),
        "duplicate stems": ([img, str(same_stem / "in.jpg"), "--output-dir", str(tmp_path / "o")],
                            f"{image_path} and {same_stem / 'in.jpg'} would both be written"),
        "output dir is a file": ([img, "--output-dir", str(a_file)], "--output-dir"),
        "output dir parent missing": ([img, "--output-dir", str(tmp_path / "no" / "o")],
                                      "--output-dir"),
        "batch item missing": ([img, str(missing), "--output-dir", str(tmp_path / "o")],
                               f"Image or folder not found: {missing}"),
        "empty folder": ([str(tmp_path / "empty"), "--output-dir", str(tmp_path / "o")],
                         "Folder"),
        "unknown flag": ([img, "--bogus"], "unrecognized arguments: --bogus"),
    }


@pytest.mark.parametrize("case", [
    "missing image", "corrupt image", "bad weights", "dump is a folder", "save folder missing",
    "same dump and save", "too many pixels", "max pixels zero",
    "skip without dir", "outputs without dir", "io threads without dir", "io threads zero",
    "outputs unknown", "outputs empty", "normalize without picture", "png level without picture",
    "png level without dir", "png level out of range", "picture over an input",
    "several without dir", "folder without dir", "dump in batch",
    "duplicate stems", "output dir is a file", "output dir parent missing",
    "batch item missing", "empty folder", "unknown flag"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, image_path, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv, message = _bad_cases(tmp_path, image_path)[case]
    keep = tmp_path / "keep.npz"
    keep.write_bytes(b"keep")
    if "--dump" not in argv and "--output-dir" not in argv:
        argv = argv + ["--dump", str(keep)]  # a run that went through would overwrite it
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("tf2: error: ") and message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert keep.read_bytes() == b"keep"


# --- python -m tf2 ------------------------------------------------------------

@pytest.mark.e2e
def test_python_m_saves_the_packaged_picture(tmp_path, subprocess_env):
    picture = tmp_path / "out.png"
    proc = subprocess.run([sys.executable, "-m", "tf2", "--no-show", "--save", str(picture)],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("timg.jpg: image (1, 750, 500, 3) -> output (1, 750, 500, 3)\n")
    # TensorFlow's start-up lines are hidden without --verbose: stderr is empty.
    assert proc.stderr == ""
    with Image.open(picture) as im:
        assert im.format == "PNG"
        im.verify()


def test_python_m_bad_input_one_line_no_traceback(tmp_path, subprocess_env):
    # TensorFlow is never imported for a bad input, so not even its start-up
    # log lines appear.
    proc = subprocess.run([sys.executable, "-m", "tf2", str(tmp_path / "none.jpg"), "--no-show"],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"tf2: error: Image not found: {tmp_path / 'none.jpg'}"]


def test_docstring_examples():
    for module in (tf2, demo, export, batch_paths, cli):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted >= 1, module.__name__


def test_package_exports_resolve():
    assert tf2.__all__ == sorted(tf2.__all__)
    for name in tf2.__all__:
        assert getattr(tf2, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tf2.nope  # noqa: B018


def test_run_batch_progress_bar_goes_to_stderr(folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    result = batch.run_batch(DeconvDemo(seed=1), batch_paths.expand_inputs([folder]), out,
                             progress=True)
    assert result.written == 2
    captured = capsys.readouterr()
    assert "0/2 [" in captured.err and captured.out == ""  # drawn, then cleared
