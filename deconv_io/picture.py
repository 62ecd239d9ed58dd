"""The demo's picture as an 8-bit PNG (folder mode's `<stem>.png`).

The original showed `output[0]` with `plt.imshow`. For a float RGB array,
matplotlib clips the values to [0, 1] (`AxesImage.set_data`) and turns them
into bytes with `(x * 255).astype(np.uint8)` (`Colorizer.to_rgba(...,
bytes=True)`): a truncation, not a rounding, so 0.999 shows as 254 and only
1.0 as 255. At 1:1 (one array element per screen pixel) its resampling is
the identity, so what imshow shows is exactly `picture_pixels(hwc)`; the
tests compare it with matplotlib's own rendering. Multiplying in float32 or
in float64 truncates to the same byte for every float32 in [0, 1] (checked
over all of them), so the float32 output is converted as it is.

Drawing through matplotlib would cost a figure per image, and Pillow's
encoder tries PNG's row filters on every row; `png_bytes` writes the pixels
directly instead: every row unfiltered (filter type 0), one zlib stream at
`PNG_COMPRESS_LEVEL`. zlib runs without the GIL, so a writer thread
encodes while the next image is computed. What each level costs against
what it saves is measured by `python -m benchmarks.folder` (docs/performance.md).
"""

import struct
import zlib

import numpy as np

from deconv_io.atomic import write_bytes_atomic
from deconv_io.display import normalize_for_display

__all__ = ["PNG_COMPRESS_LEVEL", "picture_bytes", "picture_is_complete", "picture_pixels",
           "png_bytes", "save_picture_atomic"]

#: zlib level of the PNG's pixel data (0 stores them uncompressed, 9 packs hardest).
#: 0 by default: on the demo's pictures level 1 takes more time than the
#: computation of the image and saves what a `.npy` beside it dwarfs
#: (`python -m benchmarks.folder`; figures in docs/performance.md).
PNG_COMPRESS_LEVEL = 0

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def picture_pixels(hwc, normalize=False):
    """The 8-bit RGB pixels `plt.imshow(hwc)` shows (or of the normalized array).

    Args:
        hwc: (H, W, 3) float array, the demo's `output[0]`.
        normalize: rescale to the array's own min..max first
            (`normalize_for_display`, as `--normalize` does), else clip to
            [0, 1] as imshow does.

    Returns:
        A C-contiguous uint8 array (H, W, 3): `floor(255 * clip(x, 0, 1))`.
        A NaN (only possible from weights that overflow float32) gives 0.

    Example:
    >>> picture_pixels(np.array([[[-1.0, 0.5, 2.0]]], np.float32)).tolist()
    [[[0, 127, 255]]]
    """
    hwc = np.asarray(hwc)
    if hwc.ndim != 3 or hwc.shape[2] != 3:
        raise ValueError("Invalid value for argument `hwc`. Expected an (H, W, 3) array. "
                         f"Received: shape={hwc.shape}")
    values = normalize_for_display(hwc) if normalize else np.asarray(hwc, np.float32)
    scaled = np.clip(values, 0, 1)
    scaled *= 255
    np.nan_to_num(scaled, copy=False, nan=0.0)
    return np.ascontiguousarray(scaled.astype(np.uint8))


def picture_bytes(height, width):
    """An upper bound of the PNG's size for an (height, width) picture, in bytes.

    The raw scanlines (a filter byte per row) plus deflate's worst-case
    growth (5 bytes per 16 kB stored block) and the PNG chunks.

    Example:
    >>> picture_bytes(750, 500) > 750 * 500 * 3
    True
    """
    raw = height * (3 * width + 1)
    return raw + 5 * (raw // 16_000 + 1) + 1024


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def png_bytes(pixels, level=PNG_COMPRESS_LEVEL):
    """An 8-bit RGB PNG file of `pixels`, every row unfiltered, as bytes.

    Args:
        pixels: uint8 `(H, W, 3)`, H and W >= 1.
        level: zlib compression level, 0 to 9.

    Returns:
        The PNG file's bytes (signature, IHDR, one IDAT, IEND).

    Example:
    >>> import io; from PIL import Image
    >>> np.asarray(Image.open(io.BytesIO(png_bytes(np.full((2, 3, 3), 7, np.uint8))))).shape
    (2, 3, 3)
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError("Invalid value for argument `pixels`. Expected a non-empty uint8 "
                         f"(H, W, 3) array. Received: dtype={pixels.dtype}, "
                         f"shape={pixels.shape}")
    height, width, _ = pixels.shape
    rows = np.zeros((height, 1 + 3 * width), np.uint8)  # column 0: filter type 0, none
    rows[:, 1:] = pixels.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (_PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, level)) + _chunk(b"IEND", b""))


def save_picture_atomic(path, hwc, normalize=False, level=PNG_COMPRESS_LEVEL):
    """Writes the picture of `hwc` (see `picture_pixels`) to the PNG `path`, atomically.

    `level` is the zlib level, 0 (stored) to 9.
    """
    write_bytes_atomic(path, png_bytes(picture_pixels(hwc, normalize=normalize), level))


def picture_is_complete(path, height=None, width=None):
    """Whether `path` is a whole 8-bit RGB PNG (of this size, when given).

    Checks every chunk's CRC through `IEND` (Pillow's `verify`): a
    truncated or damaged PNG fails.

    Returns:
        True or False; never raises for a bad file.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "PNG" or im.mode != "RGB":
                return False
            if height and width and im.size != (width, height):
                return False
            im.verify()
    except Exception:  # noqa: BLE001 - any damage means "redo it"
        return False
    return True
