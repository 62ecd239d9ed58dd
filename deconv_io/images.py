"""Image loading and validation shared by both ports.

Both ports read the user's file with Pillow, as the original did
(`np.asarray(Image.open(path))`), so the TF1 and TF2 command lines feed the
very same float32 array for the same file. (`tf.io.decode_jpeg` with its
default DCT method differs from Pillow by up to 10 levels; see MIGRATION.md.)
"""

import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deconv_io.errors import InputError

#: Largest image accepted by default, in pixels (height * width). 10000x10000
#: is allowed (the TF2 port processes it tiled); a 20000x20000 decompression
#: bomb is not. Raise it with the command lines' `--max-pixels`.
DEFAULT_MAX_PIXELS = 120_000_000

# Modes whose samples are wider than 8 bits. `convert("RGB")` would clip them
# at 255 (Pillow goes through mode "L"), so they are rescaled to 0..255 first.
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def default_image_path():
    """Returns the path of the packaged 750x500 `timg.jpg`.

    Works from a checkout (`data/timg.jpg`) and from an installed package
    (`deconv_io/data` is installed with it).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "data" / "timg.jpg", here.parent / "data" / "timg.jpg"):
        if candidate.is_file():
            return candidate
    raise InputError(
        "The packaged image data/timg.jpg is missing from this installation; "
        "pass an IMAGE path instead."
    )


def check_image_path(path):
    """Raises `InputError` unless `path` names an existing, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Image not found: {path}")
    if path.is_dir():
        raise InputError(f"Expected an image file, got a directory: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"Image file is empty: {path}")
    return path


def _to_rgb(im):
    """Converts an opened Pillow image to an (H, W, 3) uint8 RGB array."""
    if im.mode in _WIDE_MODES:
        wide = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(wide.max()), 1.0)
        if im.mode in ("I", "F"):
            wide = np.clip(wide, 0.0, None)
        gray = np.rint(wide * (255.0 / top)).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def load_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """Reads an image file as the demo feeds it: (H, W, 3) float32 RGB, 0..255.

    Any image Pillow opens is used as `convert("RGB")` gives it (palette,
    grayscale, CMYK, alpha dropped). 16-bit and 32-bit grayscale images are
    rescaled to 0..255 first, since `convert` would clip them at 255.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this (decompression
            bombs), before decoding them. `None` means no limit.

    Returns:
        A C-contiguous float32 array of shape (H, W, 3).

    Raises:
        InputError: the file is missing, empty, not an image, truncated,
            corrupt, has 0 pixels, or is larger than `max_pixels`.

    Example:
    >>> load_image(default_image_path()).shape
    (750, 500, 3)
    """
    path = check_image_path(path)
    try:
        with warnings.catch_warnings():
            # Our own `max_pixels` check replaces Pillow's bomb guard.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width == 0 or height == 0:
                    raise InputError(f"Image has 0 pixels ({width}x{height}): {path}")
                if max_pixels is not None and width * height > max_pixels:
                    raise InputError(
                        f"Image {path} is {height}x{width} = {width * height} pixels, "
                        f"over the limit of {max_pixels}; raise it with --max-pixels"
                    )
                im.load()
                pixels = _to_rgb(im)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"Image {path} refused by Pillow as too large: {e}") from None
    except UnidentifiedImageError:
        raise InputError(f"Not an image file Pillow can read: {path}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
            struct.error) as e:
        # Pillow's decoders signal corrupt data with any of these.
        raise InputError(f"Corrupt or truncated image {path}: {e}") from None
    return np.ascontiguousarray(pixels, dtype=np.float32)

