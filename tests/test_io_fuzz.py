"""Fuzzing the input readers: damaged files never raise anything but InputError.

`test_fuzz_load_image` mutates real JPEG and PNG files (crops of the
packaged photo, baseline and progressive JPEG, RGB, palette and 16-bit PNG)
with seeded random mutations: bit flips, overwritten bytes, truncation,
inserted and deleted runs, duplicated PNG chunks / JPEG segments, PNG
mutations with their CRCs fixed so they get past the checksum, and splices
of two files. Each case must either load as an (H, W, 3) float32 array in
0..255 or raise `InputError`; anything else fails the test with the seed and
the mutation, so a case can be replayed alone.

`test_fuzz_load_weights` does the same to weights `.npz` files (stored and
compressed): a damaged one loads as valid kernels or raises `InputError`.

CI runs 200 cases of each fuzz test (about a second). A longer run, or one
case again::

    FUZZ_CASES=20000 .venv/bin/python -m pytest -q tests/test_io_fuzz.py
    FUZZ_SEED=1234 FUZZ_CASES=1 .venv/bin/python -m pytest -q tests/test_io_fuzz.py

`test_random_valid_images` (hypothesis) writes valid images of every size
1..64 per side in modes L, RGB, RGBA, P, CMYK and I;16 as PNG, TIFF or JPEG
and checks what `load_image` returns against values worked out from the
pixels written (lossless formats) or against Pillow's `convert("RGB")`
(JPEG).
"""

import io
import os
import random
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from deconv_io import InputError, default_image_path, load_image, load_weights, save_weights

FUZZ_CASES = int(os.environ.get("FUZZ_CASES", "200"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "0"))

# A mutated header may declare any size; decoding a huge one proves nothing
# more and costs time, so the fuzz cases run with a small limit.
FUZZ_MAX_PIXELS = 1_000_000


# --- the files to mutate ---------------------------------------------------------

def _encode(image, fmt, **kwargs):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def corpus():
    """The files to mutate: crops of the packaged photo in several encodings."""
    with Image.open(default_image_path()) as photo:
        crop = photo.convert("RGB").crop((200, 300, 248, 340))  # 48 wide, 40 high
    gray16 = Image.fromarray((np.asarray(crop.convert("L"), np.uint16) * 257))
    return {
        "jpeg": _encode(crop, "JPEG", quality=85),
        "jpeg_progressive": _encode(crop, "JPEG", quality=70, progressive=True),
        "jpeg_gray": _encode(crop.convert("L"), "JPEG"),
        "png_rgb": _encode(crop, "PNG"),
        "png_palette": _encode(crop.quantize(16), "PNG", transparency=0),
        "png_gray16": _encode(gray16, "PNG"),
    }


# --- mutations ----------------------------------------------------------------

def _png_chunks(data):
    """(start, end) of each chunk after the signature; stops at damage."""
    spans, at = [], 8
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        end = at + 12 + length
        if end > len(data):
            break
        spans.append((at, end))
        at = end
    return spans


def _jpeg_segments(data):
    """(start, end) of each length-prefixed marker segment before the scan data."""
    spans, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        spans.append((at, at + 2 + length))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        at += 2 + length
    return spans


def _zip_records(data):
    """(start, end) between consecutive zip signatures (local entries, directory)."""
    starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b"PK"] + [len(data)]
    return list(zip(starts, starts[1:]))


def _structure(data):
    """The spans a format is made of: PNG chunks, JPEG segments or zip records."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_chunks(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_segments(data)
    return _zip_records(data)


def _fix_png_crcs(data):
    data = bytearray(data)
    for start, end in _png_chunks(bytes(data)):
        crc = zlib.crc32(bytes(data[start + 4:end - 4])) & 0xFFFFFFFF
        data[end - 4:end] = struct.pack(">I", crc)
    return bytes(data)


def mutate(data, rng, corpus):
    """Returns (mutated bytes, description) for one seeded case."""
    data = bytearray(data)
    kind = rng.choice(["flip", "overwrite", "truncate", "insert", "delete",
                       "duplicate", "flip_fixed_crc", "splice"])
    if kind in ("flip", "flip_fixed_crc"):
        where = [rng.randrange(len(data)) for _ in range(rng.randint(1, 8))]
        if kind == "flip_fixed_crc":  # aim at the headers, where CRCs guard
            where = [w % 64 for w in where]
        for w in where:
            data[w] ^= 1 << rng.randrange(8)
        if kind == "flip_fixed_crc" and data[:8] == b"\x89PNG\r\n\x1a\n":
            data = bytearray(_fix_png_crcs(bytes(data)))
        return bytes(data), f"{kind} at {where}"
    if kind == "overwrite":
        at, value = rng.randrange(len(data)), rng.choice([0x00, 0xFF, rng.randrange(256)])
        count = rng.randint(1, 16)
        data[at:at + count] = bytes([value]) * len(data[at:at + count])
        return bytes(data), f"overwrite {count} bytes at {at} with {value:#x}"
    if kind == "truncate":
        at = rng.randrange(len(data))
        return bytes(data[:at]), f"truncate at {at} of {len(data)}"
    if kind == "insert":
        at = rng.randrange(len(data) + 1)
        extra = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        data[at:at] = extra
        return bytes(data), f"insert {extra.hex()} at {at}"
    if kind == "delete":
        at, count = rng.randrange(len(data)), rng.randint(1, 32)
        del data[at:at + count]
        return bytes(data), f"delete {count} bytes at {at}"
    if kind == "duplicate":
        spans = _structure(bytes(data)) or [(0, len(data))]
        start, end = rng.choice(spans)
        data[end:end] = data[start:end]
        return bytes(data), f"duplicate chunk/segment {start}:{end}"
    other = corpus[rng.choice(sorted(corpus))]
    cut, other_cut = rng.randrange(len(data)), rng.randrange(len(other))
    return bytes(data[:cut]) + other[other_cut:], f"splice [:{cut}] + other[{other_cut}:]"


def fuzz(corpus, path, load, refusals):
    """Runs the seeded cases through `load`; returns (outcome counts, failures).

    A failure is any exception but `InputError`, or an `InputError` whose
    message does not begin with one of `refusals`.
    """
    outcomes = {"loaded": 0, "refused": 0}
    failures = []
    for seed in range(FUZZ_SEED, FUZZ_SEED + FUZZ_CASES):
        rng = random.Random(seed)
        name = rng.choice(sorted(corpus))
        data, how = mutate(corpus[name], rng, corpus)
        path.write_bytes(data)
        case = f"FUZZ_SEED={seed} {name}: {how}"
        try:
            load(path)
        except InputError as e:
            outcomes["refused"] += 1
            if not str(e).startswith(refusals):
                failures.append(f"{case}: unexpected message: {e}")
        except Exception as e:  # noqa: BLE001 - anything else is the finding
            failures.append(f"{case}: {type(e).__name__}: {e}")
        else:
            outcomes["loaded"] += 1
    return outcomes, failures


def _load_checked_image(path):
    image = load_image(path, max_pixels=FUZZ_MAX_PIXELS)
    assert image.ndim == 3 and image.shape[2] == 3, image.shape
    assert image.shape[0] * image.shape[1] <= FUZZ_MAX_PIXELS
    assert image.dtype == np.float32 and image.flags.c_contiguous
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 255


def _load_checked_weights(path):
    for kernel in load_weights(path).values():
        assert kernel.shape == (3, 3, 3, 64) and kernel.dtype == np.float32
        assert np.isfinite(kernel).all()


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on odd EXIF, ICC, ...
def test_fuzz_load_image(tmp_path, corpus):
    # How every refusal of a damaged file begins (test_io_images pins them).
    refusals = ("Corrupt or truncated image ", "Not an image file Pillow can read: ",
                "Image ", "Not enough memory to decode image ")
    outcomes, failures = fuzz(corpus, tmp_path / "case", _load_checked_image, refusals)
    assert not failures, "\n".join(failures[:20])
    # Both outcomes occur: the mutations are neither all fatal nor all benign.
    if FUZZ_CASES >= 200:
        assert outcomes["loaded"] > 0 and outcomes["refused"] > 0, outcomes


def test_fuzz_load_weights(tmp_path):
    good = tmp_path / "good.npz"
    rng = np.random.default_rng(0)
    save_weights(good, *(rng.standard_normal((3, 3, 3, 64)).astype(np.float32)
                         for _ in range(2)))
    compressed = tmp_path / "compressed.npz"
    with np.load(good) as archive:
        np.savez_compressed(compressed, **archive)
    corpus = {"npz": good.read_bytes(), "npz_compressed": compressed.read_bytes()}
    refusals = ("Not an .npz weights file", "Not a valid .npz weights file: ",
                "Weights ")
    outcomes, failures = fuzz(corpus, tmp_path / "case.npz", _load_checked_weights, refusals)
    assert not failures, "\n".join(failures[:20])
    if FUZZ_CASES >= 200:
        assert outcomes["refused"] > 0, outcomes


def test_mutations_are_deterministic(corpus):
    first = mutate(corpus["png_rgb"], random.Random(7), corpus)
    assert first == mutate(corpus["png_rgb"], random.Random(7), corpus)


# --- valid images of every size and mode ------------------------------------------

FORMATS = {
    "L": ("PNG", "TIFF", "JPEG"),
    "RGB": ("PNG", "TIFF", "JPEG"),
    "RGBA": ("PNG", "TIFF"),
    "P": ("PNG", "TIFF"),
    "CMYK": ("TIFF", "JPEG"),
    "I;16": ("PNG", "TIFF"),
}


def make_image(mode, height, width, seed):
    """A random image of `mode` and the RGB uint8 array it stands for."""
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        samples = rng.integers(0, 65536, (height, width), dtype=np.uint16)
        # 257 * k -> k: the nearest 8-bit level (never exactly halfway).
        gray = np.floor(samples / 257 + 0.5).astype(np.uint8)
        return Image.fromarray(samples), np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P":
        palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
        index = rng.integers(0, 256, (height, width), dtype=np.uint8)
        image = Image.new("P", (width, height))
        image.putpalette(palette.ravel().tolist())
        image.putdata(index.ravel().tolist())
        return image, palette[index]
    channels = {"L": 1, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image = Image.frombytes(mode, (width, height), pixels.tobytes())
    if mode == "L":
        return image, np.repeat(pixels, 3, axis=2)
    if mode == "CMYK":
        # Pillow: (255 - C) * (255 - K) / 255, rounded (never exactly halfway).
        ink = 255 - pixels.astype(np.int64)
        return image, np.rint(ink[:, :, :3] * ink[:, :, 3:] / 255).astype(np.uint8)
    return image, pixels[:, :, :3]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hypothesis_images")


@settings(max_examples=50, deadline=None)
@given(mode=st.sampled_from(sorted(FORMATS)), data=st.data(),
       height=st.integers(1, 64), width=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_random_valid_images(folder, mode, data, height, width, seed):
    fmt = data.draw(st.sampled_from(FORMATS[mode]), label="format")
    image, expected = make_image(mode, height, width, seed)
    path = folder / f"image.{fmt.lower()}"
    image.save(path, fmt)
    loaded = load_image(path)
    assert loaded.shape == (height, width, 3)
    assert loaded.dtype == np.float32 and loaded.flags.c_contiguous
    np.testing.assert_array_equal(np.rint(loaded), loaded)  # whole levels only
    assert loaded.min() >= 0 and loaded.max() <= 255
    if fmt == "JPEG":
        # Lossy: what Pillow decodes, as convert("RGB") gives it.
        with Image.open(path) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), loaded)
        if mode == "L":
            np.testing.assert_array_equal(loaded[:, :, 0], loaded[:, :, 2])
    else:
        # Lossless: exactly the pixels written, worked out independently.
        np.testing.assert_array_equal(expected.astype(np.float32), loaded)
