"""legacy_tf1's memory check: the faithful port does not tile, so it refuses
an image whose session would not fit, in one line, before building the graph.

The per-pixel figure is measured (see `legacy_tf1.memory.TF1_SESSION_BYTES_PER_PIXEL`);
these tests pin the arithmetic and the command line's behaviour, with the
available memory patched small instead of a 10000x10000 image.
"""

import numpy as np
import pytest
from PIL import Image

import legacy_tf1.cli
from deconv_io import InputError
from legacy_tf1.cli import check_session_memory, main
from legacy_tf1.memory import TF1_SESSION_BYTES_PER_PIXEL


def test_estimate_worked_by_hand():
    # 1 GiB of runtime plus the measured peak per pixel.
    assert check_session_memory(750, 500, available=10**12) == \
        2**30 + TF1_SESSION_BYTES_PER_PIXEL * 750 * 500
    # conv1 alone is 256 bytes per pixel: the estimate must exceed it.
    assert TF1_SESSION_BYTES_PER_PIXEL > 12 + 256 + 64 + 12


def test_ten_thousand_squared_is_refused_on_a_24_gb_machine():
    with pytest.raises(InputError, match=r"image 10000x10000 needs about 61.1 GB in the TF1 "
                                         r"session \(conv1 alone is 25.6 GB\), more than the "
                                         r"24.0 GB of memory available; .* use `python -m tf2 "
                                         r"IMAGE`"):
        check_session_memory(10000, 10000, available=24 * 10**9)


def test_no_check_when_the_available_memory_is_unknown(monkeypatch):
    monkeypatch.setattr(legacy_tf1.cli, "_available_memory", lambda: None)
    assert check_session_memory(10000, 10000) > 6 * 10**10


def test_cli_refuses_in_one_line_and_writes_nothing(monkeypatch, tmp_path, capsys):
    image = tmp_path / "small.png"
    Image.fromarray(np.zeros((7, 5, 3), np.uint8)).save(image)
    monkeypatch.setattr(legacy_tf1.cli, "_available_memory", lambda: 10**6)
    dump = tmp_path / "out.npz"
    assert main([str(image), "--no-show", "--dump", str(dump)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("legacy_tf1: error: image 7x5 needs about 1.1 GB in the TF1 session")
    assert "python -m tf2" in err and len(err.strip().splitlines()) == 1
    assert not dump.exists()


def test_cli_runs_when_memory_suffices(monkeypatch, tmp_path):
    image = tmp_path / "small.png"
    Image.fromarray(np.zeros((7, 5, 3), np.uint8)).save(image)
    monkeypatch.setattr(legacy_tf1.cli, "_available_memory", lambda: 10**12)
    assert main([str(image), "--no-show", "--seed", "0"]) == 0
