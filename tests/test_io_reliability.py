"""deconv_io's reliability pieces, in-process: paths, temp files, interrupts, dumps, memory."""

import fcntl
import os
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from deconv_io import InputError, save_npz_atomic, write_bytes_atomic
from deconv_io import atomic
from deconv_runtime.cli import check_run_paths, one_line, run_main
from deconv_io.dumps import DUMP_NAMES, TILED_DUMP_NAMES, dump_bytes, dump_is_complete
from deconv_runtime.interrupts import Interrupted, handle_signals, run_interruptible
from deconv_io.paths import check_free_space, check_input_file, check_output_dir, \
    check_output_file, same_file

from .conftest import REPO


# --- output paths ---------------------------------------------------------------------

def test_output_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real.npz").write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to(tmp_path / "real.npz")
    path = check_output_file(tmp_path / "link.npz", "--dump")
    assert path == tmp_path / "real.npz"
    write_bytes_atomic(path, b"new")
    assert (tmp_path / "link.npz").is_symlink() and (tmp_path / "real.npz").read_bytes() == b"new"


@pytest.mark.parametrize("length, ok", [(237, True), (238, False), (255, False)])
def test_name_length_counts_the_temporary_name(tmp_path, length, ok):
    target = tmp_path / ("n" * length)
    if ok:
        assert check_output_file(target, "--dump") == target
        write_bytes_atomic(target, b"x")  # and the writer really manages it
        assert target.read_bytes() == b"x"
    else:
        with pytest.raises(InputError, match=f"the file name is {length} bytes; at most 237"):
            check_output_file(target, "--dump")


def test_output_equal_to_an_input_not_yet_existing_by_real_path(tmp_path):
    with pytest.raises(InputError, match="is an input of this run"):
        check_output_file(tmp_path / "a" / ".." / "w.npz", "--dump", inputs=[tmp_path / "w.npz"])


def test_same_file_by_inode_and_by_path(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "c").write_bytes(b"1")
    assert same_file(tmp_path / "a", tmp_path / "b")
    assert not same_file(tmp_path / "a", tmp_path / "c")


def test_free_space_refused_when_the_disk_is_too_small(tmp_path, monkeypatch):
    class Tiny:
        f_bavail = f_bfree = 10
        f_frsize = 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Tiny())
    with pytest.raises(InputError, match=r"about 1000000 bytes to write, but only 40960 bytes "
                                         r"are free"):
        check_free_space(tmp_path, 1_000_000, "--dump x")
    check_free_space(tmp_path, 40_000, "--dump x")


def test_check_output_dir_dangling_link(tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    with pytest.raises(InputError, match=r"--report .*out: is a dangling symbolic link"):
        check_output_dir(tmp_path / "out", "--report")


def test_check_input_file_refuses_a_fifo_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match=r"^Weights file .*pipe is a FIFO \(named pipe\)"):
        check_input_file(tmp_path / "pipe", "Weights file")


def test_check_run_paths_outputs_first_then_inputs(tmp_path):
    with pytest.raises(InputError, match="--dump .*: folder .* does not exist"):
        check_run_paths(tmp_path / "missing.png", None, tmp_path / "no" / "d.npz", None)
    with pytest.raises(InputError, match="Image not found"):
        check_run_paths(tmp_path / "missing.png", None, tmp_path / "d.npz", None)


# --- temporary files ------------------------------------------------------------------

def test_stale_temp_removed_live_one_and_foreign_names_kept(tmp_path):
    stale = tmp_path / ".out.npz.0123456789ab.tmp"
    stale.write_bytes(b"half")
    live = tmp_path / ".other.npz.ba9876543210.tmp"
    live.write_bytes(b"being written")
    foreign = [tmp_path / ".out.npz.tmp", tmp_path / ".out.npz.0123456789AB.tmp",
               tmp_path / "out.npz.0123456789ab.tmp"]
    for path in foreign:
        path.write_bytes(b"not ours")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live writer's lock (another open file)
        assert atomic.remove_stale_temps(tmp_path) == 1
    assert not stale.exists() and live.exists() and all(p.exists() for p in foreign)


def test_stale_temps_only_of_the_named_outputs(tmp_path):
    mine, other = tmp_path / ".a.npz.0123456789ab.tmp", tmp_path / ".b.npz.0123456789ab.tmp"
    mine.write_bytes(b"")
    other.write_bytes(b"")
    assert atomic.remove_stale_temps(tmp_path, names={"a.npz"}) == 1
    assert not mine.exists() and other.exists()


def test_stop_writes_refuses_the_rename_and_removes_the_temp(tmp_path):
    atomic.begin_run()
    try:
        with pytest.raises(InputError, match="interrupted"):
            with atomic.atomic_path(tmp_path / "out.bin") as tmp:
                tmp.write_bytes(b"data")
                assert atomic.stop_writes() == ()
        assert list(tmp_path.iterdir()) == []
    finally:
        atomic.begin_run()


def test_written_outputs_are_recorded(tmp_path):
    atomic.begin_run()
    save_npz_atomic(tmp_path / "a.npz", x=np.zeros(2))
    write_bytes_atomic(tmp_path / "b.bin", b"b")
    assert atomic.written_outputs() == (str(tmp_path / "a.npz"), str(tmp_path / "b.bin"))
    atomic.begin_run()
    assert atomic.written_outputs() == ()


def test_fsync_of_file_and_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def record(fd):
        synced.append(Path(f"/proc/self/fd/{fd}").resolve())
        return real(fd)

    monkeypatch.setattr(os, "fsync", record)
    write_bytes_atomic(tmp_path / "out.bin", b"x")
    assert synced[-1] == tmp_path  # the folder, after the rename
    assert synced[0].name.startswith(".out.bin.")  # the file, before it


def test_file_size_limit_is_one_output_error_and_no_temp(tmp_path):
    code = ("import signal, resource, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
            "from deconv_io import write_bytes_atomic\n"
            "try:\n"
            f"    write_bytes_atomic({str(tmp_path / 'out.bin')!r}, b'x' * 5000)\n"
            "except OSError as e:\n"
            "    print(type(e).__name__, e.errno, e.strerror)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.startswith("OutputError 27 Cannot write"), done.stderr
    assert "ulimit -f" in done.stdout
    assert list(tmp_path.iterdir()) == []


# --- interrupts -------------------------------------------------------------------------

def test_run_interruptible_returns_and_raises():
    assert run_interruptible(lambda x: x + 1, 1) == 2
    with pytest.raises(ZeroDivisionError):
        run_interruptible(lambda: 1 / 0)


def test_a_signal_interrupts_the_wait_for_a_worker_at_once():
    release = threading.Event()
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with handle_signals():
        timer.start()
        with pytest.raises(Interrupted) as caught:
            run_interruptible(release.wait, 60)  # a call that does not return by itself
    release.set()
    assert caught.value.signum == signal.SIGTERM and caught.value.name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored


def test_run_main_interrupted_after_writes_says_so(tmp_path, capsys):
    def body():
        write_bytes_atomic(tmp_path / "a.npz", b"a")
        raise Interrupted(signal.SIGHUP)

    assert run_main(body, "demo") == 129
    assert capsys.readouterr().err == (
        f"demo: interrupted by SIGHUP; 1 output file(s) written before it are complete and "
        f"kept (the last: {tmp_path / 'a.npz'}); nothing else was changed\n")


class ResourceExhaustedError(RuntimeError):
    """Named as TensorFlow's allocation failure (recognised by name, without TensorFlow)."""


@pytest.mark.parametrize("error, message", [
    (MemoryError(), "demo: error: not enough memory for this run"),
    (ResourceExhaustedError("OOM when allocating tensor\nwith shape"),
     "demo: error: TensorFlow ran out of memory for this run (see --max-memory and "
     "--max-pixels)"),
    (PermissionError(13, "Permission denied", "/x"), "demo: error: cannot access /x: "
                                                     "Permission denied"),
    (InputError("a\nb"), "demo: error: a b"),
])
def test_run_main_maps_failures_to_one_line(error, message, capsys):
    def body():
        raise error

    assert run_main(body, "demo") == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_one_line_is_bounded():
    line = one_line("p" * 5000)
    assert len(line) <= 1000 and " ... " in line


# --- dumps -------------------------------------------------------------------------------

def _dump(path, height=5, width=3, names=DUMP_NAMES):
    shapes = {"image": (1, height, width, 3), "conv_kernel": (3, 3, 3, 64),
              "deconv_kernel": (3, 3, 3, 64), "conv1": (1, height, width, 64),
              "pool": (1, 3, 2, 64), "output": (1, 6, 4, 3)}
    save_npz_atomic(path, **{n: np.zeros(shapes[n], np.float32) for n in names})
    return path


def test_dump_is_complete(tmp_path):
    full = _dump(tmp_path / "full.npz")
    tiled = _dump(tmp_path / "tiled.npz", names=TILED_DUMP_NAMES)
    assert dump_is_complete(full, 5, 3) and dump_is_complete(tiled, 5, 3)
    assert dump_is_complete(full)
    assert not dump_is_complete(full, 7, 3)  # another image's size
    data = full.read_bytes()
    for size in (0, 100, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.npz").write_bytes(data[:size])
        assert not dump_is_complete(tmp_path / "cut.npz", 5, 3)
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("something.npy", b"")
    assert not dump_is_complete(tmp_path / "other.npz")


def test_dump_bytes_bounds_the_real_size(tmp_path):
    path = _dump(tmp_path / "d.npz")
    assert path.stat().st_size <= dump_bytes(5, 3) <= path.stat().st_size + 4096


# --- memory -------------------------------------------------------------------------------

def test_available_memory_respects_an_address_space_limit():
    code = ("import resource\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))\n"
            "from deconv_io.memory import available_memory\n"
            "print(available_memory())\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert 0 < int(done.stdout) < 3 * 2**30, done.stderr


def test_stale_temp_folder_removed_live_one_kept(tmp_path):
    stale = tmp_path / ".ckpt.0123456789ab.tmp"
    stale.mkdir()
    (stale / "ckpt.index").write_bytes(b"half")
    with atomic.temp_folder_beside(tmp_path / "ckpt") as live:
        assert atomic.TEMP_PATTERN.match(live.name)
        assert atomic.remove_stale_temps(tmp_path, names={"ckpt"}) == 1
        assert live.is_dir() and not stale.exists()
    assert list(tmp_path.iterdir()) == []
