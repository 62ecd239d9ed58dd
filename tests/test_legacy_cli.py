"""legacy_tf1.cli: the command line end to end, and every bad input.

Most runs call `main([...])` in-process on a 7x5 image; two run
`python -m legacy_tf1` in a subprocess for the exit status and the absence
of a traceback.
"""

import doctest
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deconv_io import DUMP_NAMES, save_weights
from legacy_tf1 import cli
from legacy_tf1.cli import main
from legacy_tf1.graph import run_session
from tests.conftest import PNG_MAGIC, REPO



@pytest.fixture
def weights(tmp_path):
    rng = np.random.default_rng(1)
    kernels = {name: rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)
               for name in ("conv_kernel", "deconv_kernel")}
    path = tmp_path / "w.npz"
    save_weights(path, **kernels)
    return path, kernels


def test_dump_and_picture(image_path, tmp_path, capsys):
    dump, picture = tmp_path / "out.npz", tmp_path / "out.png"
    argv = [str(image_path), "--seed", "0", "--no-show", "--dump", str(dump),
            "--save", str(picture)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # The original's informational lines: image shape and pool shape.
    assert out.splitlines() == ["(7, 5, 3)", "[1, 4, 3, 64]", "pool: (1, 4, 3, 64)"]
    with np.load(dump, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    assert list(arrays) == list(DUMP_NAMES)
    shapes = {"image": (1, 7, 5, 3), "conv_kernel": (3, 3, 3, 64),
              "deconv_kernel": (3, 3, 3, 64), "conv1": (1, 7, 5, 64),
              "pool": (1, 4, 3, 64), "output": (1, 8, 6, 3)}
    assert {name: a.shape for name, a in arrays.items()} == shapes
    assert all(a.dtype == np.float32 for a in arrays.values())
    # The same seed through the library gives bit-identical stages.
    expected = run_session(np.asarray(Image.open(image_path), np.float32), seed=0)
    for name in DUMP_NAMES:
        np.testing.assert_array_equal(expected[name], arrays[name])
    assert picture.read_bytes()[:8] == PNG_MAGIC
    with Image.open(picture) as im:
        im.verify()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.npz", "out.png"]


def test_weights_are_used(image_path, weights, tmp_path):
    path, kernels = weights
    dump = tmp_path / "out.npz"
    assert main([str(image_path), "--no-show", "--weights", str(path), "--dump", str(dump)]) == 0
    with np.load(dump) as archive:
        for name, value in kernels.items():
            np.testing.assert_array_equal(value, archive[name])


def test_help_lists_every_flag(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("IMAGE", "--seed", "--weights", "--dump", "--save", "--show", "--no-show",
                 "--max-pixels", "--verbose"):
        assert flag in text


def _write_truncated(path):
    pixels = np.random.default_rng(2).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _weights_file(path, **arrays):
    np.savez(path, **arrays)


def _good(**overrides):
    kernels = {n: np.zeros((3, 3, 3, 64), np.float32) for n in ("conv_kernel", "deconv_kernel")}
    kernels.update(overrides)
    return kernels


# Each case: (id, how to make the bad file, whether it is the image or the
# weights, the message expected on stderr).
BAD_INPUTS = [
    ("missing-image", None, "image", r"Image not found"),
    ("empty-image", lambda p: p.write_bytes(b""), "image", r"Image file is empty"),
    ("truncated-image", _write_truncated, "image", r"Corrupt or truncated image"),
    ("not-an-image", lambda p: p.write_text("hello\n"), "image",
     r"Not an image file Pillow can read"),
    ("missing-weights", None, "weights", r"Weights file not found"),
    ("pickle-file-weights", lambda p: p.write_bytes(pickle.dumps(_good())), "weights",
     r"Not an \.npz weights file"),
    ("pickled-array-weights",
     lambda p: _weights_file(p, conv_kernel=np.array([{}], dtype=object),
                             deconv_kernel=np.zeros((3, 3, 3, 64), np.float32)),
     "weights", r"holds pickled objects"),
    ("wrong-names-weights", lambda p: _weights_file(p, a=np.zeros((3, 3, 3, 64), np.float32)),
     "weights", r"must hold exactly \['conv_kernel', 'deconv_kernel'\]"),
    ("wrong-shape-weights",
     lambda p: _weights_file(p, **_good(conv_kernel=np.zeros((3, 3, 3, 3), np.float32))),
     "weights", r"`conv_kernel` must have shape \(3, 3, 3, 64\)"),
    ("wrong-dtype-weights",
     lambda p: _weights_file(p, **_good(deconv_kernel=np.zeros((3, 3, 3, 64)))),
     "weights", r"`deconv_kernel` must be float32. Received: dtype=float64"),
    ("non-finite-weights",
     lambda p: _weights_file(p, **_good(conv_kernel=np.full((3, 3, 3, 64), np.inf,
                                                            np.float32))),
     "weights", r"`conv_kernel` contains NaN or Inf"),
]


@pytest.mark.parametrize("make,role,match", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_exits_2_and_leaves_outputs_untouched(make, role, match, image_path,
                                                        tmp_path, capsys):
    bad = tmp_path / ("bad.png" if role == "image" else "bad.npz")
    if make is not None:
        make(bad)
    dump, picture = tmp_path / "out.npz", tmp_path / "out.png"
    dump.write_bytes(b"old dump")
    picture.write_bytes(b"old picture")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [str(bad if role == "image" else image_path), "--no-show",
            "--dump", str(dump), "--save", str(picture)]
    if role == "weights":
        argv += ["--weights", str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("legacy_tf1: error: ")
    assert re.search(match, err), err
    assert "Traceback" not in err
    assert dump.read_bytes() == b"old dump" and picture.read_bytes() == b"old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("flag", ["--dump", "--save"])
def test_missing_output_folder_exits_2_before_any_work(flag, tmp_path, capsys):
    target = tmp_path / "nowhere" / "out.file"
    # The image is missing too: the output check comes first, before any work.
    assert main([str(tmp_path / "missing.png"), "--no-show", flag, str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert f"{flag} {target}: folder {target.parent} does not exist" in err
    assert list(tmp_path.iterdir()) == []


def test_dump_and_save_on_the_same_file_exits_2(image_path, tmp_path, capsys):
    same = tmp_path / "out.bin"
    assert main([str(image_path), "--no-show", "--dump", str(same), "--save", str(same)]) == 2
    assert "--dump and --save name the same file" in capsys.readouterr().err
    assert not same.exists()


def test_usage_error_exits_2_with_one_line(capsys):
    assert main(["--no-such-flag"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("legacy_tf1: error: unrecognized arguments")


@pytest.mark.e2e
def test_python_m_saves_the_packaged_picture(tmp_path, subprocess_env):
    picture = tmp_path / "out.png"
    proc = subprocess.run([sys.executable, "-m", "legacy_tf1", "--no-show", "--save",
                           str(picture)], cwd=REPO, env=subprocess_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "(750, 500, 3)"
    assert "pool: (1, 375, 250, 64)" in proc.stdout
    # TensorFlow's start-up lines are hidden without --verbose: stderr is empty.
    assert proc.stderr == ""
    with Image.open(picture) as im:
        assert im.format == "PNG"
        im.verify()


def test_python_m_bad_input_one_line_no_traceback(tmp_path, subprocess_env):
    proc = subprocess.run([sys.executable, "-m", "legacy_tf1", str(tmp_path / "none.jpg"),
                           "--no-show"], cwd=REPO, env=subprocess_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"legacy_tf1: error: Image not found: {tmp_path / 'none.jpg'}"]


def test_docstring_examples():
    import legacy_tf1

    for module in (cli, legacy_tf1):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted >= 1, module.__name__
