"""The weights file of both command lines: `conv_kernel` and `deconv_kernel`."""

import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from deconv_io.atomic import save_npz_atomic
from deconv_io.errors import InputError
from deconv_io.paths import check_input_file, is_dir

#: Shape of both kernels in the demo: conv [k, k, in, out], deconv [k, k, out, in].
KERNEL_SHAPE = (3, 3, 3, 64)
WEIGHT_NAMES = ("conv_kernel", "deconv_kernel")

# What zipfile and numpy's .npy reader raise on a damaged archive. (numpy's
# header parser lets tokenize.TokenError out on unbalanced brackets; found
# by tests/test_io_fuzz.py.)
#: What NumPy raises reading a damaged or truncated .npz (each member a zip
#: entry, possibly deflated).
NPZ_READ_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError,
               ValueError, SyntaxError, tokenize.TokenError, NotImplementedError,
               RuntimeError)


def _check_dtype_and_shape(name, dtype, shape, expected_shape):
    if not (dtype.kind == "f" and dtype.itemsize == 4):  # float32, either byte order
        raise InputError(
            f"Weights array `{name}` must be float32. Received: dtype={dtype}"
        )
    if tuple(shape) != tuple(expected_shape):
        raise InputError(
            f"Weights array `{name}` must have shape {tuple(expected_shape)}. "
            f"Received: shape={tuple(shape)}"
        )


def validate_kernel(name, array, shape=KERNEL_SHAPE):
    """Checks one kernel array and returns it as native, C-ordered float32.

    Big-endian float32 is float32 too and is accepted, converted.

    Args:
        name: the array's name, for messages.
        array: the kernel.
        shape: the shape it must have.

    Returns:
        The kernel as a C-contiguous native float32 array.

    Raises:
        InputError: wrong dtype (anything but float32), shape, or a NaN/Inf.

    Example:
    >>> validate_kernel("conv_kernel", np.zeros((3, 3, 3, 64), np.float32)).shape
    (3, 3, 3, 64)
    """
    array = np.asarray(array)
    _check_dtype_and_shape(name, array.dtype, array.shape, shape)
    if not np.isfinite(array).all():
        raise InputError(f"Weights array `{name}` contains NaN or Inf values")
    return np.ascontiguousarray(array, dtype=np.float32)


def _read_member(archive, member, name, path):
    """Reads array `name` from zip `member`, checking its header before its data.

    The header's dtype and shape are checked first, so a file declaring a
    huge array is refused without allocating it.
    """
    with archive.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(fp)
        if dtype.hasobject:
            raise InputError(
                f"Weights file {path} holds pickled objects, which are refused"
            )
        _check_dtype_and_shape(name, dtype, shape, KERNEL_SHAPE)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        data = fp.read(nbytes)
    if len(data) != nbytes:
        raise InputError(
            f"Not a valid .npz weights file: {path} (array `{name}` is truncated: "
            f"{len(data)} of {nbytes} bytes)"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def load_weights(path):
    """Reads a weights `.npz` with exactly `conv_kernel` and `deconv_kernel`.

    Nothing in the file is unpickled (as `np.load(..., allow_pickle=False)`).

    Args:
        path: a `.npz` file as written by `save_weights`. Extra arrays are
            refused, so a `--dump` file is not mistaken for a weights file.

    Returns:
        A dict `{"conv_kernel": float32 [3,3,3,64], "deconv_kernel": ...}`.

    Raises:
        InputError: missing file, a directory, not an `.npz` (a `.npy`, a
            text file, a damaged zip), pickled arrays, missing, extra or
            repeated arrays, wrong shape, dtype, or non-finite values.
    """
    path = Path(path)
    if is_dir(path):
        raise InputError(f"Expected a weights file, got a directory: {path}")
    check_input_file(path, "Weights file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise InputError(f"Cannot read weights file {path}: {e.strerror or e}") from None
    if not magic.startswith(b"PK\x03\x04"):
        what = " is a single .npy array" if magic == b"\x93NUMPY" else ""
        raise InputError(f"Not an .npz weights file (expected a zip archive): {path}{what}")
    try:
        with zipfile.ZipFile(path) as archive:
            # Array names as np.load gives them: member names less ".npy".
            names = [m.removesuffix(".npy") for m in archive.namelist()]
            members = dict(zip(names, archive.namelist()))
            missing = [n for n in WEIGHT_NAMES if n not in names]
            extra = sorted(set(names) - set(WEIGHT_NAMES))
            if missing or extra:
                raise InputError(
                    f"Weights file {path} must hold exactly {list(WEIGHT_NAMES)}. "
                    f"Missing: {missing}; unexpected: {extra}"
                )
            if len(names) != len(set(names)):
                raise InputError(f"Weights file {path} holds an array twice")
            arrays = {n: _read_member(archive, members[n], n, path) for n in WEIGHT_NAMES}
    except InputError:
        raise
    except NPZ_READ_ERRORS as e:
        raise InputError(f"Not a valid .npz weights file: {path} ({e})") from None
    return {n: validate_kernel(n, a) for n, a in arrays.items()}


def save_weights(path, conv_kernel, deconv_kernel):
    """Writes a weights file that `load_weights` accepts, atomically.

    Raises:
        InputError: a kernel that `load_weights` would refuse.
    """
    save_npz_atomic(
        path,
        conv_kernel=validate_kernel("conv_kernel", conv_kernel),
        deconv_kernel=validate_kernel("deconv_kernel", deconv_kernel),
    )
