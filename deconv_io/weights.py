"""The weights file of both command lines: `conv_kernel` and `deconv_kernel`."""

import zipfile
from pathlib import Path

import numpy as np

from deconv_io.atomic import save_npz_atomic
from deconv_io.errors import InputError

#: Shape of both kernels in the demo: conv [k, k, in, out], deconv [k, k, out, in].
KERNEL_SHAPE = (3, 3, 3, 64)
WEIGHT_NAMES = ("conv_kernel", "deconv_kernel")


def validate_kernel(name, array, shape=KERNEL_SHAPE):
    """Checks one kernel array and returns it as float32.

    Raises:
        InputError: wrong dtype (anything but float32), shape, or a NaN/Inf.
    """
    array = np.asarray(array)
    if array.dtype != np.float32:
        raise InputError(
            f"Weights array `{name}` must be float32. Received: dtype={array.dtype}"
        )
    if array.shape != tuple(shape):
        raise InputError(
            f"Weights array `{name}` must have shape {tuple(shape)}. "
            f"Received: shape={array.shape}"
        )
    if not np.isfinite(array).all():
        raise InputError(f"Weights array `{name}` contains NaN or Inf values")
    return array


def load_weights(path):
    """Reads a weights `.npz` with exactly `conv_kernel` and `deconv_kernel`.

    Args:
        path: a `.npz` file as written by `save_weights`. Extra arrays are
            refused, so a `--dump` file is not mistaken for a weights file.

    Returns:
        A dict `{"conv_kernel": float32 [3,3,3,64], "deconv_kernel": ...}`.

    Raises:
        InputError: missing file, not an `.npz`, pickled arrays, missing or
            extra arrays, wrong shape, dtype, or non-finite values.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Weights file not found: {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise InputError(f"Not an .npz weights file (expected a zip archive): {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            missing = [n for n in WEIGHT_NAMES if n not in names]
            extra = sorted(names - set(WEIGHT_NAMES))
            if missing or extra:
                raise InputError(
                    f"Weights file {path} must hold exactly {list(WEIGHT_NAMES)}. "
                    f"Missing: {missing}; unexpected: {extra}"
                )
            arrays = {n: archive[n] for n in WEIGHT_NAMES}
    except InputError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise InputError(f"Weights file {path} holds pickled objects, which are refused") from None
        raise InputError(f"Not a valid .npz weights file: {path} ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"Not a valid .npz weights file: {path} ({e})") from None
    return {n: validate_kernel(n, a) for n, a in arrays.items()}


def save_weights(path, conv_kernel, deconv_kernel):
    """Writes a weights file that `load_weights` accepts, atomically."""
    save_npz_atomic(
        path,
        conv_kernel=validate_kernel("conv_kernel", conv_kernel),
        deconv_kernel=validate_kernel("deconv_kernel", deconv_kernel),
    )
