"""`load_image` on bad, odd and hostile image files.

Every bad file gives one `InputError` whose message is pinned here; every
odd-but-valid one gives the (H, W, 3) float32 array worked out by hand. The
hand-made files (PNG chunks, GIF and ICO headers) are built with `struct` and
`zlib` below, so a test controls exactly what a header declares.
"""

import io
import os
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from deconv_io import DEFAULT_MAX_PIXELS, InputError, default_image_path, load_image
from deconv_io.images import check_image_path


# --- hand-made files --------------------------------------------------------

def png_chunk(kind, data):
    """One PNG chunk: length, type, data, CRC of type + data."""
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_bytes(width, height, rows=b"", bit_depth=8, color_type=0):
    """A PNG whose IHDR declares exactly `width` x `height`.

    `rows` are the raw scanlines (a filter byte, then the samples, per row);
    empty rows make a header-only file, the cheapest way to declare a huge
    image.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def gif_bytes(screen_width, screen_height, frame_width, frame_height):
    """A GIF with one tiny LZW frame; the frame may be larger than the screen."""
    header = b"GIF89a" + struct.pack("<HHBBB", screen_width, screen_height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, frame_width, frame_height, 0)
    return header + frame + b"\x02\x02\x44\x01\x00;"


def ico_bytes(embedded, width=16, height=16):
    """An ICO whose one directory entry says `width` x `height` and holds `embedded`."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", width, height, 0, 0, 1, 32, len(embedded), 22)
    return header + entry + embedded


def random_rgb(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


# --- the packaged image -----------------------------------------------------

def test_packaged_image_is_exactly_what_pillow_reads():
    path = default_image_path()
    image = load_image(path)
    assert image.shape == (750, 500, 3)
    assert image.dtype == np.float32 and image.flags.c_contiguous
    with Image.open(path) as im:
        expected = np.asarray(im)
    # uint8 -> float32 is exact: bit identity with the original's np.asarray.
    np.testing.assert_array_equal(expected.astype(np.float32), image)


# --- paths that are not image files ------------------------------------------

def test_missing_path(tmp_path):
    with pytest.raises(InputError, match=r"^Image not found: .*missing\.jpg$"):
        load_image(tmp_path / "missing.jpg")


def test_path_under_a_file_is_not_found(tmp_path):
    plain = write(tmp_path, "plain.jpg", b"x")
    with pytest.raises(InputError, match=r"^Image not found: .*plain\.jpg/x\.jpg$"):
        load_image(plain / "x.jpg")


def test_broken_symlink_is_not_found(tmp_path):
    link = tmp_path / "dangling.png"
    link.symlink_to(tmp_path / "gone.png")
    with pytest.raises(InputError, match=r"^Image not found: .*dangling\.png$"):
        load_image(link)


def test_symlink_loop_cannot_be_accessed(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match=r"^Cannot access image .*loop\.png: Too many levels"):
        load_image(loop)


def test_nul_byte_in_path_cannot_be_accessed():
    with pytest.raises(InputError, match=r"^Cannot access image a\x00b\.png: .*null"):
        load_image("a\x00b.png")


def test_directory(tmp_path):
    with pytest.raises(InputError, match=r"^Expected an image file, got a directory: "):
        load_image(tmp_path)


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match=r"^Image file is empty: .*empty\.jpg$"):
        load_image(write(tmp_path, "empty.jpg", b""))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_device_is_never_read():
    # st_size is 0 for devices and FIFOs: refused before anything reads them.
    with pytest.raises(InputError, match=r"^Image file is empty: /dev/zero$"):
        load_image("/dev/zero")


def test_text_named_jpg(tmp_path):
    path = write(tmp_path, "notes.jpg", b"just some text, not a JPEG\n")
    with pytest.raises(InputError, match=r"^Not an image file Pillow can read: .*notes\.jpg$"):
        load_image(path)


def test_check_image_path_returns_a_path(tmp_path):
    path = write(tmp_path, "x.png", png_bytes(1, 1, b"\x00\x00"))
    assert check_image_path(str(path)) == path


# --- truncated and corrupt files ---------------------------------------------

@pytest.fixture
def small_jpeg(tmp_path):
    return save(tmp_path, "small.jpg", Image.fromarray(random_rgb(17, 33)), quality=90)


@pytest.fixture
def small_png(tmp_path):
    return save(tmp_path, "small.png", Image.fromarray(random_rgb(17, 33)))


@pytest.mark.parametrize("source,keep,pattern", [
    # JPEG cut inside the scan data, or just before the end-of-image marker.
    ("small_jpeg", 0.5, r"^Corrupt or truncated image .*cut: "),
    ("small_jpeg", -1, r"^Corrupt or truncated image .*cut: image file is truncated"),
    # Cut inside the headers: Pillow no longer recognises a JPEG.
    ("small_jpeg", 20, r"^Not an image file Pillow can read: .*cut$"),
    ("small_png", 0.5, r"^Corrupt or truncated image .*cut: image file is truncated$"),
    ("small_png", 100, r"^Corrupt or truncated image .*cut: image file is truncated$"),
    ("small_png", 20, r"^Corrupt or truncated image .*cut: Truncated File Read$"),
    ("small_png", 8, r"^Not an image file Pillow can read: .*cut$"),
])
def test_truncated(tmp_path, request, source, keep, pattern):
    data = request.getfixturevalue(source).read_bytes()
    end = int(len(data) * keep) if isinstance(keep, float) else keep
    with pytest.raises(InputError, match=pattern):
        load_image(write(tmp_path, "cut", data[:end]))


def test_png_cut_inside_its_iend_chunk_still_decodes(tmp_path, small_png):
    # All pixel data is there; Pillow does not insist on the end chunk, and
    # neither does load_image (documented, not refused).
    data = small_png.read_bytes()
    image = load_image(write(tmp_path, "cut.png", data[:-6]))
    np.testing.assert_array_equal(random_rgb(17, 33).astype(np.float32), image)


@pytest.mark.parametrize("offset_fraction", [0.3, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("garbage", [b"\x00" * 16, b"\xff" * 16, bytes(range(16))])
def test_corrupt_bytes_inside_jpeg_decode_or_refuse(tmp_path, small_jpeg, offset_fraction,
                                                    garbage):
    data = bytearray(small_jpeg.read_bytes())
    at = int(len(data) * offset_fraction)
    data[at:at + len(garbage)] = garbage
    path = write(tmp_path, "corrupt.jpg", bytes(data))
    try:
        image = load_image(path)
    except InputError as e:
        assert str(e).startswith(("Corrupt or truncated image", "Not an image file")), e
    else:
        # libjpeg conceals damaged scan data: same size, garbage pixels.
        assert image.shape == (17, 33, 3) and image.dtype == np.float32
        assert 0 <= image.min() and image.max() <= 255


def test_corrupt_png_data_is_refused(tmp_path, small_png):
    data = bytearray(small_png.read_bytes())
    assert data[37:41] == b"IDAT"
    data[60] ^= 0xFF  # inside the compressed pixels: zlib notices
    with pytest.raises(InputError, match=r"^Corrupt or truncated image .*bad\.png: "
                                         r"broken data stream when reading image file$"):
        load_image(write(tmp_path, "bad.png", bytes(data)))


# --- images of 0 pixels ------------------------------------------------------

@pytest.mark.parametrize("name,data", [
    ("w0.png", png_bytes(0, 5)),
    ("h0.png", png_bytes(5, 0)),
    ("w0.gif", gif_bytes(0, 5, 0, 5)),
    ("00.gif", gif_bytes(0, 0, 0, 0)),
])
def test_zero_pixel_headers_are_not_images_to_pillow(tmp_path, name, data):
    # Pillow's ImageFile refuses a non-positive size while opening, for
    # every format, so a 0-pixel file reads as "not an image".
    with pytest.raises(InputError, match=r"^Not an image file Pillow can read: "):
        load_image(write(tmp_path, name, data))


def test_zero_pixel_image_from_a_plugin_is_refused(tmp_path, monkeypatch):
    # Defence in depth for a plugin that would not refuse it: Image.new can
    # make a 0x3 image, so pretend a file opened as one.
    path = write(tmp_path, "any.png", png_bytes(1, 1, b"\x00\x00"))
    monkeypatch.setattr(Image, "open", lambda p: Image.new("RGB", (0, 3)))
    with pytest.raises(InputError, match=r"^Image has 0 pixels \(0x3\): .*any\.png$"):
        load_image(path)


# --- modes: what every mode becomes ------------------------------------------

def test_mode_L_is_repeated_on_three_channels(tmp_path):
    gray = np.array([[0, 1, 128], [254, 255, 7]], np.uint8)
    image = load_image(save(tmp_path, "l.png", Image.fromarray(gray)))
    np.testing.assert_array_equal(np.repeat(gray[:, :, None], 3, axis=2).astype(np.float32), image)


def test_mode_LA_drops_alpha(tmp_path):
    la = Image.merge("LA", [Image.fromarray(np.array([[10, 200]], np.uint8)),
                            Image.fromarray(np.array([[0, 255]], np.uint8))])
    image = load_image(save(tmp_path, "la.png", la))
    np.testing.assert_array_equal([[[10] * 3, [200] * 3]], image)


def test_mode_1_is_black_and_white(tmp_path):
    bits = Image.new("1", (3, 1))
    bits.putdata([0, 1, 0])
    image = load_image(save(tmp_path, "bits.png", bits))
    np.testing.assert_array_equal([[[0] * 3, [255] * 3, [0] * 3]], image)


def _palette_image():
    palette = Image.new("P", (3, 1))
    palette.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90] + [0] * (256 * 3 - 9))
    palette.putdata([2, 0, 1])
    return palette


def test_mode_P_is_looked_up_in_the_palette(tmp_path):
    image = load_image(save(tmp_path, "p.png", _palette_image()))
    np.testing.assert_array_equal([[[70, 80, 90], [10, 20, 30], [40, 50, 60]]], image)


def test_mode_P_with_transparency_keeps_the_palette_colour(tmp_path):
    # Index 0 is transparent: alpha is dropped, not composited, so the pixel
    # keeps its palette colour (as convert("RGB") gives it).
    path = save(tmp_path, "pt.png", _palette_image(), transparency=0)
    with Image.open(path) as im:
        assert im.info["transparency"] == 0
    np.testing.assert_array_equal([[[70, 80, 90], [10, 20, 30], [40, 50, 60]]],
                                  load_image(path))


def test_mode_RGBA_drops_alpha_even_where_fully_transparent(tmp_path):
    rgba = np.array([[[1, 2, 3, 0], [250, 251, 252, 255]]], np.uint8)
    image = load_image(save(tmp_path, "rgba.png", Image.fromarray(rgba)))
    np.testing.assert_array_equal(rgba[:, :, :3].astype(np.float32), image)


def test_mode_CMYK_uses_pillows_conversion(tmp_path):
    # Pillow: R = (255 - C) * (255 - K) / 255, rounded; G from M, B from Y.
    cmyk = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 128, 0, 100], [200, 0, 0, 100]]],
                    np.uint8)
    path = save(tmp_path, "cmyk.tiff", Image.frombytes("CMYK", (4, 1), cmyk.tobytes()))
    # By hand: 127 * 155 / 255 = 77.2 -> 77; 55 * 155 / 255 = 33.4 -> 33.
    expected = [[[255, 255, 255], [0, 255, 255], [155, 77, 155], [33, 155, 155]]]
    np.testing.assert_array_equal(expected, load_image(path))


def test_mode_I16_png_is_rescaled_not_clipped(tmp_path):
    k = np.arange(0, 256, 51)  # 0, 51, ..., 255
    samples = np.array([np.concatenate([k * 257, [128, 129, 300]])], np.uint16)
    path = save(tmp_path, "gray16.png", Image.fromarray(samples))
    with Image.open(path) as im:
        assert im.mode == "I;16"
        clipped = np.asarray(im.convert("RGB"))[0, :, 0]
    # 257*k -> k, 65535 -> 255; in between, to the nearest level
    # (128/257 = 0.498 -> 0, 129/257 = 0.502 -> 1, 300/257 = 1.17 -> 1).
    expected_gray = np.concatenate([k, [0, 1, 1]])
    image = load_image(path)
    np.testing.assert_array_equal(np.repeat(expected_gray[None, :, None], 3, axis=2), image)
    # What convert("RGB") would have fed instead: everything above 255 is 255.
    np.testing.assert_array_equal(np.minimum(samples[0], 255), clipped)


def test_mode_I16_tiff_matches_the_png(tmp_path):
    samples = np.array([[0, 257, 65535, 1000]], np.uint16)
    png = load_image(save(tmp_path, "g.png", Image.fromarray(samples)))
    tiff = load_image(save(tmp_path, "g.tiff", Image.fromarray(samples)))
    np.testing.assert_array_equal(png, tiff)


def test_mode_I_is_clipped_at_zero_and_divided_by_its_maximum(tmp_path):
    samples = np.array([[-5, 0, 1000, 2000]], np.int32)
    path = save(tmp_path, "i32.tiff", Image.fromarray(samples))
    with Image.open(path) as im:
        assert im.mode == "I"
    # 1000 * 255 / 2000 = 127.5, rounded half to even: 128.
    np.testing.assert_array_equal([[[0] * 3, [0] * 3, [128] * 3, [255] * 3]], load_image(path))


def test_mode_I_below_one_is_not_amplified(tmp_path):
    # The divisor is max(1, maximum): an all-zero image stays black.
    path = save(tmp_path, "zeros.tiff", Image.fromarray(np.zeros((2, 2), np.int32)))
    np.testing.assert_array_equal(np.zeros((2, 2, 3), np.float32), load_image(path))


@pytest.mark.parametrize("samples,expected", [
    ([0.0, 0.5, 1.0, -0.25], [0, 128, 255, 0]),  # unit range: times 255
    ([0.0, 2.0, 4.0, 1.0], [0, 128, 255, 64]),   # divided by its maximum 4
])
def test_mode_F(tmp_path, samples, expected):
    path = save(tmp_path, "f.tiff", Image.fromarray(np.array([samples], np.float32)))
    with Image.open(path) as im:
        assert im.mode == "F"
    np.testing.assert_array_equal(np.repeat(np.array([expected])[:, :, None], 3, axis=2),
                                  load_image(path))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_mode_F_with_nan_or_inf_is_refused(tmp_path, bad):
    path = save(tmp_path, "nan.tiff", Image.fromarray(np.array([[0.0, bad]], np.float32)))
    with pytest.raises(InputError, match=r"^Image .*nan\.tiff has NaN or Inf pixel values$"):
        load_image(path)


def test_48_bit_rgb_png_keeps_the_high_byte(tmp_path):
    # Pillow cannot write 16-bit RGB, so the PNG is made by hand. Pillow
    # reads it as 8-bit "RGB" keeping each sample's high byte (v >> 8), so
    # 257*k -> k and 65535 -> 255 as for "I;16", but it truncates where
    # "I;16" rounds: 200 -> 0 (not 1), 65280 -> 255 (not 254).
    samples = np.array([[[0, 2570, 65535], [200, 32767, 65280]]], ">u2")
    rows = b"".join(b"\x00" + row.tobytes() for row in samples)
    path = write(tmp_path, "rgb48.png", png_bytes(2, 1, rows, bit_depth=16, color_type=2))
    with Image.open(path) as im:
        assert im.mode == "RGB"
    np.testing.assert_array_equal([[[0, 10, 255], [0, 127, 255]]], load_image(path))
    np.testing.assert_array_equal(samples.astype(int) >> 8, load_image(path))


@pytest.mark.parametrize("extra_chunks", [b"", png_chunk(b"tRNS", b"\x00")])
def test_palette_png_without_its_palette(tmp_path, extra_chunks):
    # Colour type 3 needs a PLTE chunk. Without it Pillow makes every pixel
    # black, or, with a tRNS chunk, fails an assert in convert (found by
    # the fuzz test): both are refused.
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 3, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra_chunks
            + png_chunk(b"IDAT", zlib.compress(b"\x00\x00\x01")) + png_chunk(b"IEND", b""))
    with pytest.raises(InputError, match=r"^Corrupt or truncated image .*nopal\.png: a palette "
                                         r"image without a palette$"):
        load_image(write(tmp_path, "nopal.png", data))


def test_multi_frame_gif_gives_its_first_frame(tmp_path):
    first, second = Image.new("L", (4, 3), 10), Image.new("L", (4, 3), 200)
    path = save(tmp_path, "anim.gif", first, save_all=True, append_images=[second])
    np.testing.assert_array_equal(np.full((3, 4, 3), 10, np.float32), load_image(path))


# --- decompression bombs and max_pixels --------------------------------------

def test_20000_square_bomb_is_refused_from_its_header(tmp_path):
    # 65 bytes declaring 400 M pixels: over Pillow's own guard (2 * 89.5 M),
    # which fires while opening, before anything is allocated or decoded.
    bomb = write(tmp_path, "bomb.png", png_bytes(20000, 20000))
    assert bomb.stat().st_size < 100
    message = (r"^Image .*bomb\.png is 400000000 pixels, over the limit of 120000000; "
               r"raise it with --max-pixels$")
    with pytest.raises(InputError, match=message):
        load_image(bomb)
    assert DEFAULT_MAX_PIXELS == 120_000_000


def test_20000_square_bomb_needs_max_pixels_none(tmp_path):
    # Only with no limit does load_image go on to decode (here it finds no
    # data: a header-only file; the 400 MB buffer is allocated lazily).
    bomb = write(tmp_path, "bomb.png", png_bytes(20000, 20000))
    with pytest.raises(InputError, match=r"^Image .* is 20000x20000 = 400000000 pixels, over "
                                         r"the limit of 399999999; raise it with --max-pixels$"):
        load_image(bomb, max_pixels=400_000_000 - 1)
    saved = Image.MAX_IMAGE_PIXELS
    with pytest.raises(InputError, match=r"^Corrupt or truncated image .*bomb\.png: "
                                         r"image file is truncated"):
        load_image(bomb, max_pixels=None)
    assert Image.MAX_IMAGE_PIXELS == saved  # Pillow's guard is restored


def test_ico_hiding_a_bomb_is_refused_without_decoding(tmp_path):
    # The ICO directory says 16x16; its PNG says 20000x20000. Pillow's ICO
    # plugin decodes that PNG while *opening*: its guard, kept on, stops it.
    path = write(tmp_path, "bomb.ico", ico_bytes(png_bytes(20000, 20000)))
    with pytest.raises(InputError, match=r"^Image .*bomb\.ico is 400000000 pixels, over the "
                                         r"limit of 120000000; raise it with --max-pixels$"):
        load_image(path)


def test_gif_frame_larger_than_its_screen_is_measured(tmp_path):
    # A 1x1 screen with a 300x300 frame: Pillow grows the image to the frame.
    path = write(tmp_path, "grow.gif", gif_bytes(1, 1, 300, 300))
    with pytest.raises(InputError, match=r"^Image .*grow\.gif is 300x300 = 90000 pixels, "
                                         r"over the limit of 1000; raise it with --max-pixels$"):
        load_image(path, max_pixels=1000)


@pytest.fixture
def zeros_200x300(tmp_path):
    rows = (b"\x00" + b"\x00" * 300) * 200  # filter byte + 300 samples, 200 rows
    return write(tmp_path, "zeros.png", png_bytes(300, 200, rows))


def test_max_pixels_refuses_one_pixel_over(zeros_200x300):
    with pytest.raises(InputError, match=r"^Image .*zeros\.png is 200x300 = 60000 pixels, "
                                         r"over the limit of 59999; raise it with --max-pixels$"):
        load_image(zeros_200x300, max_pixels=59_999)


@pytest.mark.parametrize("max_pixels", [60_000, 10**12, None])
def test_max_pixels_raised_loads(zeros_200x300, max_pixels):
    np.testing.assert_array_equal(np.zeros((200, 300, 3), np.float32),
                                  load_image(zeros_200x300, max_pixels=max_pixels))


@pytest.mark.parametrize("max_pixels,outcome", [
    # Pillow's guard (2 * 1000 here) is kept when max_pixels is below it...
    (1500, r"^Image .* is 4096 pixels, over the limit of 1500; raise it with --max-pixels$"),
    # ...and moved to max_pixels when max_pixels allows more.
    (3000, r"^Image .* is 4096 pixels, over the limit of 3000; raise it with --max-pixels$"),
    (4096, None),
    (DEFAULT_MAX_PIXELS, None),
    (None, None),
])
def test_pillows_guard_follows_max_pixels(tmp_path, monkeypatch, max_pixels, outcome):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = write(tmp_path, "64.png", png_bytes(64, 64, (b"\x00" + b"\x07" * 64) * 64))
    if outcome is None:
        np.testing.assert_array_equal(np.full((64, 64, 3), 7, np.float32),
                                      load_image(path, max_pixels=max_pixels))
    else:
        with pytest.raises(InputError, match=outcome):
            load_image(path, max_pixels=max_pixels)
    assert Image.MAX_IMAGE_PIXELS == 1000


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "100"])
def test_invalid_max_pixels(tmp_path, bad):
    message = ("Invalid value for argument `max_pixels` (--max-pixels). Expected None or "
               f"an int >= 1. Received: max_pixels={bad!r}")
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        load_image(default_image_path(), max_pixels=bad)


# --- whatever the decoder raises ---------------------------------------------

@pytest.fixture
def tiny_png(tmp_path):
    return write(tmp_path, "tiny.png", png_bytes(2, 1, b"\x00\x01\x02"))


def test_permission_denied(tiny_png, monkeypatch):
    # Tests may run as root, who reads every file: simulate the refusal.
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(InputError, match=r"^Cannot read image .*tiny\.png: permission denied$"):
        load_image(tiny_png)


CORRUPT_TINY = r"^Corrupt or truncated image .*tiny\.png: "


@pytest.mark.parametrize("error,pattern", [
    (ZeroDivisionError("boom"), CORRUPT_TINY + r"ZeroDivisionError: boom$"),
    (KeyError("tag"), CORRUPT_TINY + r"KeyError: 'tag'$"),
    (RuntimeError("odd"), CORRUPT_TINY + r"RuntimeError: odd$"),
    (struct.error("unpack"), CORRUPT_TINY + r"struct\.error: unpack$"),
    (zlib.error("bad"), CORRUPT_TINY + r"zlib\.error: bad$"),
    (OSError(), CORRUPT_TINY + r"OSError$"),
    (OSError("broken data stream"), CORRUPT_TINY + r"broken data stream$"),
    (AssertionError(), CORRUPT_TINY + r"AssertionError$"),
    (MemoryError(), r"^Not enough memory to decode image .*tiny\.png$"),
    (Image.DecompressionBombError("Image size (123 pixels) exceeds limit"),
     r"^Image .*tiny\.png is 123 pixels, over the limit of 120000000; raise it with"),
    (Image.DecompressionBombError("worded otherwise"),
     r"^Image .*tiny\.png is too large \(worded otherwise\), over the limit of 120000000;"),
])
def test_any_decoder_exception_becomes_input_error(tiny_png, monkeypatch, error, pattern):
    def fail(self):
        raise error
    monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
    with pytest.raises(InputError, match=pattern):
        load_image(tiny_png)


def test_ctrl_c_is_not_swallowed(tiny_png, monkeypatch):
    def interrupt(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(ImageFile.ImageFile, "load", interrupt)
    with pytest.raises(KeyboardInterrupt):
        load_image(tiny_png)


def test_load_image_accepts_str_and_path(tiny_png):
    np.testing.assert_array_equal(load_image(tiny_png), load_image(str(tiny_png)))
    np.testing.assert_array_equal([[[1] * 3, [2] * 3]], load_image(tiny_png))


def test_load_image_reads_from_bytes_of_any_format(tmp_path):
    # The format comes from the bytes, never the name: a PNG named .jpg works.
    buffer = io.BytesIO()
    Image.fromarray(random_rgb(5, 7)).save(buffer, "PNG")
    image = load_image(write(tmp_path, "really_a_png.jpg", buffer.getvalue()))
    np.testing.assert_array_equal(random_rgb(5, 7).astype(np.float32), image)


def test_truncated_tiff_raises_without_pillow_warnings(tmp_path, recwarn):
    # Pillow warns "Truncated File Read" before failing on a cut TIFF; a
    # command line must print one line, so the loader keeps that warning in.
    good = tmp_path / "good.tif"
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(good, compression="tiff_deflate")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.tif"):
        load_image(cut)
    assert [str(w.message) for w in recwarn] == []
