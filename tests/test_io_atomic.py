"""Atomic outputs: a failed or interrupted write never clobbers a file.

Each writer is made to fail midway (after part of the new content is
written); the old file must stay byte-identical and no temporary file may be
left beside it.
"""

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from deconv_io import (InputError, atomic_path, render_picture, save_npz_atomic,
                       write_bytes_atomic)
from deconv_runtime.cli import check_output_path
from deconv_io.display import choose_backend

OLD = b"old content that must survive\n" * 10


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(OLD)
    return path


def names_in(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# --- atomic_path ------------------------------------------------------------------

@pytest.mark.parametrize("error", [RuntimeError("writer failed"), KeyboardInterrupt(),
                                   OSError(errno.ENOSPC, "No space left on device")])
def test_failing_writer_leaves_old_file_and_no_temp(old_file, error):
    with pytest.raises(type(error)):
        with atomic_path(old_file) as tmp:
            assert tmp.parent == old_file.parent and tmp.name.startswith(".out.bin.")
            with open(tmp, "wb") as f:
                f.write(b"half of the new conte")  # then the writer dies
            raise error
    assert old_file.read_bytes() == OLD
    assert names_in(old_file.parent) == ["out.bin"]


def test_successful_writer_replaces_and_leaves_no_temp(old_file):
    with atomic_path(old_file) as tmp:
        tmp.write_bytes(b"new")
    assert old_file.read_bytes() == b"new"
    assert names_in(old_file.parent) == ["out.bin"]


def test_writer_that_writes_nothing_gives_an_empty_file(tmp_path):
    with atomic_path(tmp_path / "empty.txt"):
        pass
    assert (tmp_path / "empty.txt").read_bytes() == b""


def test_relative_path_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_bytes_atomic("here.txt", b"x")
    assert names_in(tmp_path) == ["here.txt"]


def test_replacing_a_directory_fails_and_leaves_it(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "inside").write_bytes(b"keep")
    # Command lines refuse a directory before any work; the writer itself
    # still fails cleanly, as an OutputError (an OSError) naming it.
    with pytest.raises(OSError, match="Cannot write .*taken: Is a directory") as caught:
        write_bytes_atomic(folder, b"new")
    assert caught.value.errno == errno.EISDIR and isinstance(caught.value, InputError)
    assert names_in(tmp_path) == ["taken"] and (folder / "inside").read_bytes() == b"keep"


def test_new_file_gets_the_umask_mode_not_0600(tmp_path):
    umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "new.bin", b"x")
    finally:
        os.umask(umask)
    # What open(path, "w") gives under umask 022; mkstemp alone would give 0600.
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o644


def test_replaced_file_keeps_its_mode(old_file):
    old_file.chmod(0o640)
    write_bytes_atomic(old_file, b"new")
    assert stat.S_IMODE(old_file.stat().st_mode) == 0o640


# --- write_bytes_atomic, save_npz_atomic --------------------------------------------

def test_write_bytes_failing_midway(old_file, monkeypatch):
    def half_then_disk_full(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Path, "write_bytes", half_then_disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_bytes_atomic(old_file, b"N" * 1000)
    monkeypatch.undo()
    assert old_file.read_bytes() == OLD
    assert names_in(old_file.parent) == ["out.bin"]


@pytest.mark.parametrize("name", ["dump.out", "noext", "dump.npz", "dump.NPZ"])
def test_save_npz_keeps_the_exact_file_name(tmp_path, name):
    expected = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_npz_atomic(tmp_path / name, image=expected)
    assert names_in(tmp_path) == [name]
    with np.load(tmp_path / name, allow_pickle=False) as archive:
        assert archive.files == ["image"]
        np.testing.assert_array_equal(expected, archive["image"])


def test_save_npz_failing_while_serialising(old_file, monkeypatch):
    def fail(file, **arrays):
        file.write(b"PK\x03\x04partial")
        raise MemoryError
    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(MemoryError):
        save_npz_atomic(old_file, image=np.zeros(3))
    assert old_file.read_bytes() == OLD
    assert names_in(old_file.parent) == ["out.bin"]


def test_render_picture_failing_midway(tmp_path, monkeypatch):
    choose_backend(False)  # Agg: no window in tests
    import matplotlib.figure

    picture = tmp_path / "picture.png"
    picture.write_bytes(OLD)

    def half_png(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG\r\n\x1a\n")
        raise RuntimeError("renderer crashed")
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_png)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        render_picture(np.zeros((5, 7, 3)), save=picture)
    assert picture.read_bytes() == OLD
    assert names_in(tmp_path) == ["picture.png"]


# --- check_output_path ----------------------------------------------------------

def test_check_output_path_none_and_valid(tmp_path):
    assert check_output_path(None, "--dump") is None
    assert check_output_path(str(tmp_path / "out.npz"), "--dump") == tmp_path / "out.npz"


def test_check_output_path_missing_folder(tmp_path):
    with pytest.raises(InputError, match=r"^--dump .*/no/such/out\.npz: folder .*/no/such "
                                         r"does not exist$"):
        check_output_path(tmp_path / "no" / "such" / "out.npz", "--dump")


def test_check_output_path_is_a_directory(tmp_path):
    with pytest.raises(InputError, match=r"^--save .*: is a directory; an output must be a "
                                         r"regular file or not exist yet$"):
        check_output_path(tmp_path, "--save")


def test_check_output_path_parent_is_a_file(tmp_path):
    (tmp_path / "file.txt").write_bytes(b"")
    with pytest.raises(InputError, match=r"^--save .*file\.txt/out\.png: .*file\.txt is not "
                                         r"a folder$"):
        check_output_path(tmp_path / "file.txt" / "out.png", "--save")


def test_check_output_path_not_writable(tmp_path, monkeypatch):
    # Tests may run as root, who may write anywhere: simulate the refusal.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(InputError, match=r"^--dump .*out\.npz: folder .* is not writable$"):
        check_output_path(tmp_path / "out.npz", "--dump")


def test_check_output_path_writes_nothing(tmp_path):
    check_output_path(tmp_path / "out.npz", "--dump")
    assert names_in(tmp_path) == []
