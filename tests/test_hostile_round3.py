"""Hostile use, round three (issue 21): each cause of the issue as a family of cases.

The families, and how each is run:

1. outputs that replace a file the script read (`legacy_tf1.original`:
   `open`, `PIL.Image.open`, `np.load`, `tf.io.gfile.GFile`, through a
   link, a hard link or `..`): in-process `main`;
2. a full disk under every writer (Keras `.weights.h5`, a TF1 checkpoint,
   `--dump`): simulated in-process, the write raising `OSError(ENOSPC)` as
   a full disk makes it (no root, so no small tmpfs);
3. silent tiled and folder runs (no retracing warning): in-process, with
   the parity path forced (the one that is compiled per shape);
5. bad folder entries (looping and dangling links, an entry gone between
   the listing and the read): in-process;
6. checkpoint state files (a Saver-written `modèle`, malformed escapes);
7. scripts that exit, raise unprintable exceptions or close stdout;
8. the environment (thread counts, `MPLBACKEND`, `PYTHONIOENCODING=ascii`,
   stdout on `/dev/full`): in-process where the check is in-process, whole
   processes (`e2e`) for what only a process shows;
9. late signals (whole processes);
10. stale temporary files of other outputs.

Every case asserts the contract: its exit status, exactly one stderr line
for a failure (none for a success), no traceback or library warning, every
file that existed unchanged (except the outputs a success writes), and no
temporary file left. `test_totals` reports tried, clean, tracebacks, damage
and temps over the cases run in this process.
"""

import contextlib
import errno
import fcntl
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from deconv_io import save_weights
from deconv_io.atomic import TEMP_PATTERN

from .conftest import REPO, write_image

FORBIDDEN = ("Traceback", "Warning", "WARNING", "warning:", "Exception ignored",
             "defined at", "[Errno", "Hint:", "retracing")
TOTALS = {"tried": 0, "clean": 0, "tracebacks": 0, "damage": 0, "temps": 0}
CASE_COUNT = {}


def _snapshot(folder):
    found = {}
    for path in pathlib.Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            found[path] = path.read_bytes()
    return found


def _temps(folder):
    return [p for p in pathlib.Path(folder).rglob("*") if TEMP_PATTERN.match(p.name)]


def check(family, status, err, expected, message="", before=None, folder=None,
          written=()):
    """Asserts the contract for one case and counts it in TOTALS."""
    CASE_COUNT[family] = CASE_COUNT.get(family, 0) + 1
    TOTALS["tried"] += 1
    traceback = any(word in err for word in FORBIDDEN)
    damage = False
    if before is not None:
        after = _snapshot(folder)
        damage = any(after.get(p) != v for p, v in before.items()
                     if pathlib.Path(p).name not in written)
    temps = bool(folder is not None and _temps(folder))
    TOTALS["tracebacks"] += traceback
    TOTALS["damage"] += damage
    TOTALS["temps"] += temps
    lines = err.splitlines()
    one_line = (len(lines) == 1 and message in err) if expected not in (0,) or message \
        else lines == []
    ok = status == expected and one_line and not traceback and not damage and not temps
    TOTALS["clean"] += ok
    assert status == expected, err
    assert one_line, err
    assert not traceback, err
    assert not damage and not temps


# --- 1. outputs over what the script read -------------------------------------------

SCRIPT_READS = {
    "open": "open('in.dat', 'rb').read()",
    "pil": "from PIL import Image\nImage.open('in.png').load()",
    "imread": "import matplotlib.pyplot as plt\nplt.imread('in.png')",
    "np-load": "import numpy as np\nnp.load('in.npy')",
    "gfile": "import tensorflow as tf\ntf.gfile.GFile('in.dat', 'rb').read()",
    "io-gfile": "import tensorflow as tf\ntf.io.gfile.GFile('in.dat', 'rb').read()",
}
READ_FILE = {"open": "in.dat", "pil": "in.png", "imread": "in.png", "np-load": "in.npy",
             "gfile": "in.dat", "io-gfile": "in.dat"}


def _original(argv, capfd):
    from legacy_tf1.original.cli import main

    capfd.readouterr()
    status = main(argv)
    out, err = capfd.readouterr()
    return status, out, err


def _reader_folder(d, how):
    (d / "in.dat").write_bytes(b"data")
    np.save(d / "in.npy", np.arange(3))
    write_image(d / "in.png")
    (d / "s.py").write_text(SCRIPT_READS[how] + "\nimport tensorflow as tf\n"
                            "import matplotlib.pyplot as plt\nplt.imshow([[0.5]])\n"
                            "with tf.Session() as s:\n    s.run(tf.constant(1.0))\n")
    (d / "sub").mkdir()
    os.symlink(d / READ_FILE[how], d / "link")
    os.link(d / READ_FILE[how], d / "sub" / "hard")


@pytest.mark.parametrize("how", sorted(SCRIPT_READS))
@pytest.mark.parametrize("via", ["name", "link", "hardlink", "dotdot"])
def test_output_over_a_file_the_script_read(how, via, tmp_path, capfd):
    _reader_folder(tmp_path, how)
    target = {"name": tmp_path / READ_FILE[how], "link": tmp_path / "link",
              "hardlink": tmp_path / "sub" / "hard",
              "dotdot": tmp_path / "sub" / ".." / READ_FILE[how]}[via]
    before = _snapshot(tmp_path)
    flag = "--dump" if via in ("name", "hardlink") else "--save"
    status, _, err = _original([str(tmp_path / "s.py"), flag, str(target), "--no-show"],
                               capfd)
    check("1 output over a read file", status, err, 2, "is a file the script read",
          before, tmp_path)


@pytest.mark.parametrize("target", ["legacy_tf1/original/script/timg.jpg", "data/timg.jpg"])
def test_the_shipped_script_never_overwrites_its_image(target, capfd, monkeypatch):
    monkeypatch.chdir(REPO)
    image = REPO / "data" / "timg.jpg"
    before = image.read_bytes()
    status, _, err = _original(["--save", target, "--no-show"], capfd)
    assert image.read_bytes() == before
    check("1 output over a read file", status, err, 2, "is a file the script read",
          {image: before}, REPO / "data")


# --- 7. scripts that exit or cannot be printed --------------------------------------

RUN = "import tensorflow as tf\nwith tf.Session() as s:\n    s.run(tf.constant([1.0, 2.0]))\n"
EXITS = {
    "exit-3": (RUN + "import sys\nsys.exit(3)\n", 2, "exited with status 3"),
    "exit-message": (RUN + "raise SystemExit('a\\nb')\n", 2, "exited: a b"),
    "exit-true": (RUN + "import sys\nsys.exit(True)\n", 2, "exited with status True"),
    "bad-str": ("class E(Exception):\n    def __str__(self):\n        raise RuntimeError\n"
                "raise E()\n", 2, "E: (its message cannot be printed)"),
    "bad-str-exit": ("class C:\n    def __str__(self):\n        raise RuntimeError\n"
                     "raise SystemExit(C())\n", 2, "a message that cannot be printed"),
}


@pytest.mark.parametrize("name", sorted(EXITS))
def test_script_exits_are_one_line(name, tmp_path, capfd):
    source, expected, message = EXITS[name]
    (tmp_path / "s.py").write_text(source)
    (tmp_path / "out.npz").write_bytes(b"old")
    before = _snapshot(tmp_path)
    status, _, err = _original([str(tmp_path / "s.py"), "--dump", str(tmp_path / "out.npz"),
                                "--no-show"], capfd)
    check("7 script exits", status, err, expected, message, before, tmp_path)


@pytest.mark.parametrize("code", ["", "0", "None"])
def test_script_exit_zero_still_writes_the_dump(code, tmp_path, capfd):
    (tmp_path / "s.py").write_text(RUN + f"import sys\nsys.exit({code})\nprint('never')\n")
    status, out, err = _original([str(tmp_path / "s.py"), "--dump", str(tmp_path / "o.npz"),
                                  "--no-show"], capfd)
    check("7 script exits", status, err, 0, folder=tmp_path)
    assert "never" not in out
    with np.load(tmp_path / "o.npz") as dump:
        np.testing.assert_array_equal(dump["run_0"], [1.0, 2.0])


# --- 2. a full disk under every writer ----------------------------------------------

def _disk_full_after_half(monkeypatch):
    """Path.write_bytes writes half, then fails as a full disk does (ENOSPC)."""
    real = pathlib.Path.write_bytes

    def half_then_full(self, data):
        real(self, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_bytes", half_then_full)


@pytest.fixture(scope="module")
def tf1_checkpoint(tmp_path_factory):
    from migration_audit.checkpoints import save_tf1_checkpoint

    folder = tmp_path_factory.mktemp("ck")
    save_tf1_checkpoint(folder / "model", np.ones((1, 5, 4, 3), np.float32), seed=0)
    return folder / "model"


def test_keras_weights_on_a_full_disk(tf1_checkpoint, tmp_path, capfd, monkeypatch):
    """The .weights.h5 is made in memory: the simulated full disk hits the atomic write."""
    from migration_audit.cli import main

    dst = tmp_path / "k.weights.h5"
    dst.write_bytes(b"old weights")
    before = _snapshot(tmp_path)
    _disk_full_after_half(monkeypatch)
    capfd.readouterr()
    status = main(["convert-checkpoint", str(tf1_checkpoint), str(dst)])
    err = capfd.readouterr().err
    check("2 disk full", status, err, 2, "No space left on device", before, tmp_path)


def test_keras_weights_in_memory_are_what_save_weights_writes(tmp_path):
    import h5py

    from migration_audit.keras_checkpoints import weights_h5_bytes
    from tf2.keras_model import build_keras_demo

    kernel = np.random.default_rng(0).standard_normal((3, 3, 3, 64)).astype(np.float32)
    model = build_keras_demo(conv_kernel=kernel, deconv_kernel=2 * kernel)
    (tmp_path / "mem.weights.h5").write_bytes(weights_h5_bytes(model))
    model.save_weights(str(tmp_path / "disk.weights.h5"))

    def tree(path):
        with h5py.File(path, "r") as f:
            items = [("", dict(f.attrs), None)]
            f.visititems(lambda n, o: items.append((n, dict(o.attrs), o[()].tobytes() if
                                                    isinstance(o, h5py.Dataset) else None)))
        return items

    assert tree(tmp_path / "mem.weights.h5") == tree(tmp_path / "disk.weights.h5")
    loaded = build_keras_demo()
    loaded.load_weights(str(tmp_path / "mem.weights.h5"))
    np.testing.assert_array_equal(loaded.get_weights()[0], kernel)


TF_FULL = ("tmp/ckpt.data-00000-of-00001.tempstate1; No space left on device\n\t "
           "[[node save/SaveV2 (defined at (most recent call last))]]\nHint: If you want to "
           "see a list of allocated tensors when OOM happens, add report_tensor_allocations")


@pytest.mark.parametrize("message", [TF_FULL, "Failed to write\nsecond line",
                                     "x; Disk quota exceeded"])
def test_tf1_checkpoint_on_a_full_disk(message, tmp_path, capfd, monkeypatch):
    """The Saver raises what TensorFlow raises on ENOSPC (its message, stack and hint)."""
    import tensorflow as tf

    from migration_audit.cli import main
    from migration_audit.keras_checkpoints import weights_h5_bytes
    from tf2.keras_model import build_keras_demo

    kernel = np.ones((3, 3, 3, 64), np.float32)
    src = tmp_path / "k.weights.h5"
    src.write_bytes(weights_h5_bytes(build_keras_demo(conv_kernel=kernel,
                                                      deconv_kernel=kernel)))
    (tmp_path / "out.index").write_bytes(b"old index")

    def full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, message)

    monkeypatch.setattr(tf.compat.v1.train.Saver, "save", full)
    before = _snapshot(tmp_path)
    capfd.readouterr()
    status = main(["convert-checkpoint", str(src), str(tmp_path / "out")])
    err = capfd.readouterr().err
    check("2 disk full", status, err, 2, "Cannot write checkpoint", before, tmp_path)


@pytest.mark.parametrize("program", ["legacy_tf1", "tf2"])
def test_dump_on_a_full_disk(program, tmp_path, capfd, monkeypatch, image_path):
    import importlib

    main = importlib.import_module(f"{program}.cli").main
    dump = tmp_path / "out.npz"
    dump.write_bytes(b"old dump")
    before = _snapshot(tmp_path)
    real_write = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")  # the flush of the temp

    monkeypatch.setattr(os, "fsync", full)
    capfd.readouterr()
    status = main([str(image_path), "--dump", str(dump), "--no-show"])
    monkeypatch.setattr(os, "fsync", real_write)
    err = capfd.readouterr().err
    check("2 disk full", status, err, 2, "No space left on device", before, tmp_path)


# --- 3. silent tiled and folder runs ------------------------------------------------

def test_tiled_and_folder_runs_print_nothing_on_stderr(tmp_path, capfd, monkeypatch):
    """The parity path compiles per shape: its traces are planned, never warned about."""
    from tf2.cli import main

    import logging

    import tensorflow as tf

    monkeypatch.setenv("DECONV_FAST_PATH", "parity")
    # TensorFlow's logger writes to the stderr of when it was made (in pytest
    # an old capture): its records are collected here, as a process shows them.
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    monkeypatch.setattr(tf.get_logger(), "level", logging.WARNING)
    tf.constant(0.0) + 1.0  # the runtime's own start-up lines, before the capture
    images = tmp_path / "images"
    images.mkdir()
    for i, shape in enumerate([(9, 7, 3), (11, 5, 3), (6, 13, 3), (8, 8, 3), (5, 9, 3),
                               (13, 11, 3)]):
        write_image(images / f"i{i}.png", shape, seed=i)
    capfd.readouterr()
    for tile in ("2", "4"):  # every crop shape of a tiled run is a new trace
        status = main([str(images / "i5.png"), "--tile", tile, "--dump",
                       str(tmp_path / f"t{tile}.npz")])
        err = capfd.readouterr().err
        # The one line a tiled dump prints by design (it lacks conv1 and pool).
        assert err.startswith("tf2: note: tiled run") and len(err.splitlines()) == 1, err
        check("3 silent runs", status, err.split("\n", 1)[1], 0, folder=tmp_path)
        status = main([str(images / "i5.png"), "--tile", tile, "--save",
                       str(tmp_path / f"t{tile}.png")])
        check("3 silent runs", status, capfd.readouterr().err, 0, folder=tmp_path)
    # Six sizes: six traces of each parity function in six calls.
    status = main([str(images), "--output-dir", str(tmp_path / "out")])
    tf.get_logger().removeHandler(handler)
    logged = "".join(record.getMessage() + "\n" for record in records)
    check("3 silent runs", status, capfd.readouterr().err + logged, 0, folder=tmp_path)


# --- 5. bad folder entries ----------------------------------------------------------

@pytest.mark.parametrize("bad", ["loop", "dangling", "vanished", "all"])
def test_a_bad_folder_entry_fails_alone(bad, tmp_path, capfd, monkeypatch):
    from tf2 import batch_paths
    from tf2.cli import main

    images = tmp_path / "images"
    images.mkdir()
    write_image(images / "a.png", seed=1)
    write_image(images / "z.png", seed=2)
    expected_bad = []
    if bad in ("loop", "all"):
        os.symlink("loop.png", images / "loop.png")
        expected_bad.append("loop.png")
    if bad in ("dangling", "all"):
        os.symlink("gone.png", images / "dangling.png")
        expected_bad.append("dangling.png")
    if bad in ("vanished", "all"):
        write_image(images / "v.png", seed=3)
        real = batch_paths.image_files

        def listed_then_gone(folder):
            found = real(folder)
            (images / "v.png").unlink()
            return found

        monkeypatch.setattr(batch_paths, "image_files", listed_then_gone)
        expected_bad.append("v.png")
    capfd.readouterr()
    status = main([str(images), "--output-dir", str(tmp_path / "out")])
    err = capfd.readouterr().err
    CASE_COUNT["5 bad folder entries"] = CASE_COUNT.get("5 bad folder entries", 0) + 1
    TOTALS["tried"] += 1
    lines = err.splitlines()
    ok = (status == 1 and len(lines) == len(expected_bad)
          and all(any(name in line for line in lines) for name in expected_bad)
          and not any(w in err for w in FORBIDDEN) and not _temps(tmp_path))
    TOTALS["clean"] += ok
    TOTALS["tracebacks"] += any(w in err for w in FORBIDDEN)
    assert ok, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.npy", "a.png",
                                                                    "z.npy", "z.png"]


# --- 6. checkpoint state files ------------------------------------------------------

def test_a_saver_written_non_ascii_prefix_is_found(tmp_path, capfd):
    import tensorflow as tf

    from migration_audit.cli import main

    kernel = np.ones((3, 3, 3, 64), np.float32)
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=kernel) for n in ("a", "a1")]
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(tmp_path / "ck" / "modèle"))
    assert "modèle".encode() in (tmp_path / "ck" / "checkpoint").read_bytes()
    capfd.readouterr()
    status = main(["convert-checkpoint", str(tmp_path / "ck"), str(tmp_path / "out")])
    check("6 state files", status, capfd.readouterr().err, 0, folder=tmp_path)
    assert (tmp_path / "out.index").is_file()


@pytest.mark.parametrize("line,path", [
    (b'model_checkpoint_path: "mod\\303\\250le"', "modèle"),
    (b"model_checkpoint_path: 'm\\x41'", "mA"),
    (b'model_checkpoint_path: "a\\\\b\\"c"', 'a\\b"c'),
])
def test_state_file_escapes_as_tensorflow_writes_them(line, path, tmp_path):
    from migration_audit.checkpoint_files import checkpoint_source

    (tmp_path / "checkpoint").write_bytes(line + b"\n")
    (tmp_path / f"{path}.index").write_bytes(b"x")
    assert checkpoint_source(tmp_path) == str(tmp_path / path)


@pytest.mark.parametrize("body", [b'"a\\x"', b'"a\\q"', b'"\\777"', b'"a\\000b"',
                                  b"\"unterminated", b'"\\u12"', b"\xff\xfe"])
def test_a_malformed_state_file_is_one_line(body, tmp_path, capfd):
    from migration_audit.cli import main

    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "checkpoint").write_bytes(b"model_checkpoint_path: " + body + b"\n")
    before = _snapshot(tmp_path)
    capfd.readouterr()
    status = main(["convert-checkpoint", str(tmp_path / "ck"), str(tmp_path / "out")])
    check("6 state files", status, capfd.readouterr().err, 2, "checkpoint", before, tmp_path)


# --- 8. the environment, in-process -------------------------------------------------

@pytest.mark.parametrize("name,value", [
    ("TF_NUM_INTRAOP_THREADS", "-3"), ("TF_NUM_INTRAOP_THREADS", "0"),
    ("TF_NUM_INTEROP_THREADS", "two"), ("TF_NUM_INTEROP_THREADS", "1.5"),
    ("OMP_NUM_THREADS", "-1"), ("OMP_NUM_THREADS", "4,x"), ("MPLBACKEND", "bogus"),
])
@pytest.mark.parametrize("program", ["legacy_tf1", "tf2", "migration_audit"])
def test_bad_environment_is_one_line(name, value, program, image_path, capfd, monkeypatch):
    import importlib

    main = importlib.import_module(f"{program}.cli").main
    monkeypatch.setenv(name, value)
    capfd.readouterr()
    status = main([str(image_path)] + (["--no-show"] if program != "migration_audit" else []))
    check("8 environment", status, capfd.readouterr().err, 2, name)


def test_every_line_survives_an_ascii_stdout(tmp_path, capfd, monkeypatch):
    from tf2.cli import main

    images = tmp_path / "imagés"
    images.mkdir()
    write_image(images / "ä.png")
    write_image(images / "ö.png", seed=3)
    (images / "bäd.png").write_bytes(b"not an image")
    saved = sys.stdout.encoding
    capfd.readouterr()
    with contextlib.ExitStack() as stack:
        import io

        out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
        err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        status = main([str(images), "--output-dir", str(images / "öut")])
        out.flush()
        err.flush()
        text_out = out.buffer.getvalue().decode("ascii")
        text_err = err.buffer.getvalue().decode("ascii")
    assert saved == sys.stdout.encoding
    assert "\\xe9" in text_out and "2 written" in text_out
    check("8 environment", status, text_err, 1, "b\\xe4d.png")


# --- 10. stale temporary files ------------------------------------------------------

@pytest.mark.parametrize("program", ["legacy_tf1", "tf2"])
def test_every_unlocked_stale_temp_in_the_output_folder_goes(program, image_path, tmp_path,
                                                             capfd):
    import importlib

    main = importlib.import_module(f"{program}.cli").main
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".big.npz.0123456789ab.tmp", out / ".other.png.abcdef012345.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    (out / ".dir.x.0123456789ab.tmp").mkdir()
    live = out / ".live.npz.fedcba987654.tmp"
    live.write_bytes(b"being written")
    foreign = out / ".notes.tmp"
    foreign.write_bytes(b"mine")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        capfd.readouterr()
        status = main([str(image_path), "--dump", str(out / "d.npz"), "--no-show"])
        err = capfd.readouterr().err
    assert not any(p.exists() for p in stale) and not (out / ".dir.x.0123456789ab.tmp").exists()
    assert live.read_bytes() == b"being written" and foreign.read_bytes() == b"mine"
    live.unlink()
    check("10 stale temps", status, err, 0, folder=out)


# --- whole processes: 8 and 9 -------------------------------------------------------

def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO),
                **extra})
    return env


@pytest.mark.e2e
@pytest.mark.parametrize("name,value", [("TF_NUM_INTRAOP_THREADS", "-3"),
                                        ("MPLBACKEND", "bogus")])
def test_bad_environment_before_tensorflow_or_matplotlib_start(name, value, tmp_path):
    write_image(tmp_path / "in.png")
    done = subprocess.run([sys.executable, "-m", "tf2", str(tmp_path / "in.png")], cwd=REPO,
                          env=_env(**{name: value}), capture_output=True, text=True,
                          timeout=300)
    check("8 environment", done.returncode, done.stderr, 2, name, folder=tmp_path)


@pytest.mark.e2e
def test_stdout_on_a_full_device_says_stdout(tmp_path):
    write_image(tmp_path / "in.png")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "tf2", str(tmp_path / "in.png"), "--dump",
                               str(tmp_path / "o.npz")], cwd=REPO, env=_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    check("8 environment", done.returncode, done.stderr, 2,
          "cannot write to standard output: No space left on device", folder=tmp_path)


@pytest.mark.e2e
def test_ascii_stdout_with_a_non_ascii_folder(tmp_path):
    images = tmp_path / "imagés"
    images.mkdir()
    write_image(images / "ä.png")
    done = subprocess.run([sys.executable, "-m", "tf2", str(images), "--output-dir",
                           str(tmp_path / "öut")], cwd=REPO, env=_env(PYTHONIOENCODING="ascii"),
                          capture_output=True, timeout=300)
    check("8 environment", done.returncode, done.stderr.decode(), 0, folder=tmp_path)
    assert b"1 written" in done.stdout and b"\\xf6ut" in done.stdout


def _file_size_limit(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write fails with EFBIG
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.e2e
@pytest.mark.parametrize("dst", ["k.weights.h5", "ck/out"])
def test_real_writers_over_the_file_size_limit(dst, tf1_checkpoint, tmp_path):
    """A whole process whose writes fail for real (EFBIG: the kernel's refusal, as ENOSPC is)."""
    src = str(tf1_checkpoint)
    if dst == "ck/out":  # Keras -> TF1: the source is a .weights.h5
        from migration_audit.keras_checkpoints import weights_h5_bytes
        from tf2.keras_model import build_keras_demo

        kernel = np.ones((3, 3, 3, 64), np.float32)
        src = str(tmp_path / "src.weights.h5")
        pathlib.Path(src).write_bytes(weights_h5_bytes(build_keras_demo(
            conv_kernel=kernel, deconv_kernel=kernel)))
        (tmp_path / "ck").mkdir()
        (tmp_path / "ck" / "out.index").write_bytes(b"old index")
    else:
        (tmp_path / dst).write_bytes(b"old weights")
    before = _snapshot(tmp_path)
    done = subprocess.run([sys.executable, "-m", "migration_audit", "convert-checkpoint", src,
                           str(tmp_path / dst)], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=300, preexec_fn=_file_size_limit(5_000))
    check("2 disk full", done.returncode, done.stderr, 2, "Cannot write", before, tmp_path)


LATE = textwrap.dedent("""
    import os, signal, sys, time
    from deconv_io.atomic import write_bytes_atomic
    from deconv_runtime.cli import run_as_program, run_main

    def main():
        status = run_main(lambda: write_bytes_atomic(sys.argv[1], b"done") or 0, "prog")
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))  # after the rename, before exit
        time.sleep(30)
        return status

    run_as_program(main)
""")


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_late_signal_says_the_output_is_complete(name, tmp_path):
    out = tmp_path / "out.bin"
    done = subprocess.run([sys.executable, "-c", LATE, str(out), name], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in
                                              (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)])
    check("9 late signals", done.returncode, done.stderr, 128 + getattr(signal, name),
          f"interrupted by {name}; the run had finished; its 1 output file(s) are complete",
          folder=tmp_path)
    assert out.read_bytes() == b"done"


CLOSE = {"then-raise": ("import sys\nsys.stdout.close()\nraise ValueError('x')\n", 2,
                        "ValueError: x"),
         "then-end": ("import sys\nsys.stdout.close()\n", 0, "")}


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(CLOSE))
def test_a_script_that_closes_stdout(name, tmp_path):
    """A whole process: closing stdout inside pytest would close pytest's own capture."""
    source, expected, message = CLOSE[name]
    (tmp_path / "s.py").write_text(RUN + source)
    done = subprocess.run([sys.executable, "-m", "legacy_tf1.original", str(tmp_path / "s.py"),
                           "--dump", str(tmp_path / "o.npz"), "--no-show"], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=300)
    check("7 script exits", done.returncode, done.stderr, expected, message, folder=tmp_path)
    assert (tmp_path / "o.npz").exists() == (expected == 0)


# --- totals ---------------------------------------------------------------------------

def test_totals():
    """Runs last in this file: tried, clean, tracebacks, damage, temps of the cases above."""
    if TOTALS["tried"] == 0:
        pytest.skip("no case of this file ran in this process")
    print("\nround three:", ", ".join(f"{k} {v}" for k, v in TOTALS.items()),
          "| per family:", CASE_COUNT)
    assert TOTALS["clean"] == TOTALS["tried"]
    assert TOTALS["tracebacks"] == TOTALS["damage"] == TOTALS["temps"] == 0
