"""Fixtures shared by the test files."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

#: The repository root (where `python -m PKG` is run from in subprocess tests).
REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def image_path(tmp_path):
    """A small 7x5 random RGB PNG (odd sides on purpose)."""
    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = tmp_path / "in.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def subprocess_env():
    """The environment for `python -m PKG` runs: headless, no display."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    return env
