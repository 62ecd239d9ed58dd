"""Image loading and validation shared by both ports.

Both ports read the user's file with Pillow, as the original did
(`np.asarray(Image.open(path))`), so the TF1 and TF2 command lines feed the
very same float32 array for the same file. (`tf.io.decode_jpeg` with its
default DCT method differs from Pillow by up to 10 levels; see MIGRATION.md.)

Every problem with the file itself (missing, empty, not an image, truncated,
corrupt, too large, NaN pixels, or anything Pillow's decoders raise on bad
data) comes out of `load_image` as one `InputError` with a one-line reason.
"""

import contextlib
import re
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deconv_io.checks import is_int
from deconv_io.errors import InputError

#: Largest image accepted by default, in pixels (height * width). 10000x10000
#: is allowed (the TF2 port processes it tiled); a 20000x20000 decompression
#: bomb is not. Raise it with the command lines' `--max-pixels`.
DEFAULT_MAX_PIXELS = 120_000_000

# Modes whose samples are wider than 8 bits. `convert("RGB")` would clip them
# at 255 (Pillow goes through mode "L"), so they are rescaled to 0..255 first.
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")

# Pillow's own decompression-bomb guard reads the module-global
# `Image.MAX_IMAGE_PIXELS`; where `load_image` has to move it for the length
# of a call, calls from several threads take turns.
_PILLOW_LIMIT_LOCK = threading.Lock()


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
    """Raises `InputError` unless `path` names an existing, non-empty file.

    Returns:
        `path` as a `pathlib.Path`.
    """
    path = Path(path)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"Image not found: {path}") from None
    except (OSError, ValueError) as e:
        # A symlink loop, a name too long, a NUL byte in the name, ...
        reason = getattr(e, "strerror", None) or e
        raise InputError(f"Cannot access image {path}: {reason}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"Expected an image file, got a directory: {path}")
    if info.st_size == 0:
        # Also FIFOs and devices such as /dev/zero: never read them.
        raise InputError(f"Image file is empty: {path}")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"Expected an image file, got a device or special file: {path}")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise InputError(f"Cannot read image {path}: permission denied") from None
    except OSError as e:
        raise InputError(f"Cannot read image {path}: {e.strerror or e}") from None
    return path


def _check_max_pixels(max_pixels):
    if max_pixels is None:
        return
    if not is_int(max_pixels) or max_pixels < 1:
        raise InputError(
            "Invalid value for argument `max_pixels` (--max-pixels). Expected None or "
            f"an int >= 1. Received: max_pixels={max_pixels!r}"
        )


def _check_size(path, size, max_pixels):
    """Refuses a declared size before anything of that size is allocated."""
    width, height = size
    if width <= 0 or height <= 0:
        # Pillow itself refuses to open a 0-pixel file (ImageFile checks the
        # header); this is defence in depth for plugins that do not.
        raise InputError(f"Image has 0 pixels ({width}x{height}): {path}")
    if max_pixels is not None and width * height > max_pixels:
        raise InputError(
            f"Image {path} is {height}x{width} = {width * height} pixels, "
            f"over the limit of {max_pixels}; raise it with --max-pixels"
        )


@contextlib.contextmanager
def _pillow_bomb_limit(max_pixels):
    """Sets Pillow's guard to refuse what `max_pixels` refuses, meanwhile.

    Restored on exit; the lock keeps concurrent loads from interleaving.
    """
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        # Pillow raises above twice its setting (and only warns below).
        Image.MAX_IMAGE_PIXELS = None if max_pixels is None else -(-max_pixels // 2)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _pillow_guard(max_pixels):
    """Lifts Pillow's decompression-bomb guard only where `max_pixels` allows more.

    Pillow raises `DecompressionBombError` above 2 * `Image.MAX_IMAGE_PIXELS`
    (about 179 M pixels by default) when it opens a file and again while it
    decodes one (an ICO's embedded PNG, a GIF frame larger than its screen, a
    huge TIFF tile), whatever its caller allows. Where `max_pixels` is within
    that limit (our default is) the guard is kept as it is: it bounds what a
    plugin may allocate before our own check sees the size. Only a caller
    allowing more (a larger `--max-pixels`, or None) gets it moved to their
    limit; without that, such a limit could not work.
    """
    cap = Image.MAX_IMAGE_PIXELS
    if cap is None or (max_pixels is not None and max_pixels <= 2 * cap):
        return contextlib.nullcontext()
    return _pillow_bomb_limit(max_pixels)


def _to_rgb(im, path):
    """Converts an opened Pillow image to an (H, W, 3) uint8 RGB array."""
    if im.mode in _WIDE_MODES:
        wide = np.asarray(im, dtype=np.float64)
        if not np.isfinite(wide).all():
            raise InputError(f"Image {path} has NaN or Inf pixel values")
        top = 65535.0 if im.mode.startswith("I;16") else max(float(wide.max()), 1.0)
        if im.mode in ("I", "F"):
            wide = np.clip(wide, 0.0, None)
        gray = np.rint(wide * (255.0 / top)).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if im.mode in ("P", "PA") and im.palette is None:
        # A PNG of colour type 3 without its PLTE chunk: Pillow would make
        # every pixel black, or fail an assert when there is a tRNS chunk.
        raise InputError(f"Corrupt or truncated image {path}: a palette image without a palette")
    return np.asarray(im.convert("RGB"))


def _decode(path, max_pixels):
    """Opens, size-checks, decodes and converts; Pillow's errors pass through."""
    with warnings.catch_warnings(), _pillow_guard(max_pixels):
        # Our own `max_pixels` check replaces Pillow's bomb warning, and a
        # damaged file ends in a decoded image or one InputError: Pillow's
        # own warnings about it (e.g. "Truncated File Read" for a cut TIFF)
        # would only add lines to the one a command line prints.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        with Image.open(path) as im:  # reads the header only, for most formats
            _check_size(path, im.size, max_pixels)
            im.load()
            # Again: a GIF frame may enlarge the image while it is decoded.
            _check_size(path, im.size, max_pixels)
            return np.ascontiguousarray(_to_rgb(im, path), dtype=np.float32)


def peek_image_size(path):
    """An image file's `(height, width)` from its header, without decoding it.

    Returns:
        `(height, width)`, or None when Pillow cannot read the header (the
        image loader then reports the problem). Only a regular file is
        opened: a FIFO or a device would block or never end.
    """
    try:
        if not stat.S_ISREG(Path(path).stat().st_mode):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
    except Exception:  # noqa: BLE001 - any failure is load_image's to report
        return None
    return height, width


def load_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """Reads an image file as the demo feeds it: (H, W, 3) float32 RGB, 0..255.

    Any image Pillow opens is used as `convert("RGB")` gives it (palette,
    grayscale, CMYK; alpha and palette transparency dropped, not composited).
    Multi-frame files give their first frame. 16-bit grayscale ("I;16") is
    rescaled by 255/65535, so 257*k gives k. 32-bit integer ("I") and float
    ("F") grayscale are clipped at 0 and divided by max(1, their own maximum),
    times 255; `convert` would clip them all at 255. (Pillow reads a 48-bit
    RGB PNG as 8-bit RGB keeping the high byte of each sample.)

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels (height * width) than
            this, from the size their header declares, before decoding them
            (decompression bombs). `None` means no limit.

    Returns:
        A C-contiguous float32 array of shape (H, W, 3).

    Raises:
        InputError: the file is missing, empty, not an image, truncated,
            corrupt, has 0 pixels or non-finite ones, is larger than
            `max_pixels` or than memory allows; `max_pixels` is not None or
            an int >= 1.

    Example:
    >>> load_image(default_image_path()).shape
    (750, 500, 3)
    """
    _check_max_pixels(max_pixels)
    path = check_image_path(path)
    try:
        return _decode(path, max_pixels)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        # Pillow's guard fired first: its limit is never below `max_pixels`,
        # so the image is over ours too.
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{found[1]} pixels" if found else f"too large ({e})"
        raise InputError(
            f"Image {path} is {size}, over the limit of {max_pixels}; "
            "raise it with --max-pixels"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"Not an image file Pillow can read: {path}") from None
    except PermissionError:
        raise InputError(f"Cannot read image {path}: permission denied") from None
    except MemoryError:
        raise InputError(f"Not enough memory to decode image {path}") from None
    except Exception as e:  # noqa: BLE001 - see below
        # Pillow's decoders signal corrupt data with OSError, SyntaxError,
        # ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error
        # and, for some inputs, others still; a bad file is the user's input,
        # not a bug here, so every one of them is an InputError.
        reason = str(e)
        if not reason or not isinstance(e, (OSError, SyntaxError, ValueError, EOFError)):
            kind = type(e).__qualname__
            if type(e).__module__ != "builtins":
                kind = f"{type(e).__module__}.{kind}"  # struct.error, zlib.error
            reason = f"{kind}: {reason}" if reason else kind
        raise InputError(f"Corrupt or truncated image {path}: {reason}") from None
