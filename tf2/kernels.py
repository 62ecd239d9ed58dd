"""Bilinear transposed-convolution kernels and the demo's Glorot draw.

Two bilinear formulas live here, chosen by `mode`:

- `"fcn"`: the original script's `__get_deconv_filter` (from the TF FCN
  port): `f = ceil(n / 2)`, `c = (2f - 1 - f % 2) / (2f)`, tap
  `1 - |x / f - c|`. Kept for parity with the original. It is the bilinear
  filler that Caffe later fixed (BVLC/caffe PR #5713): for `n % 4 in {2, 3}`
  the filter is not symmetric (width 3 gives `[0.25, 0.75, 0.75]`).
- `"symmetric"` (the default): Caffe FCN's `upsample_filt`,
  `factor = (n + 1) // 2`, centre `factor - 1` (odd n) or `factor - 0.5`
  (even n), tap `1 - |x - centre| / factor` (width 3 gives `[0.5, 1, 0.5]`).

The two agree exactly when `n % 4 in {0, 1}`.

Everything is computed in float64 and cast once at the end, so a float32
result is bit-identical to the original's float64 NumPy array passed
through `tf.constant_initializer(..., dtype=tf.float32)`.

This module imports TensorFlow only inside `glorot_uniform`, so command
lines can import it before they quieten TensorFlow's logs.
"""

import math

import numpy as np

from deconv_io.checks import check_int, is_int

__all__ = [
    "MODES",
    "bilinear_taps",
    "bilinear_filter",
    "bilinear_kernel",
    "get_kernel_size",
    "bilinear_upsample_weights",
    "glorot_uniform",
]

#: The bilinear formulas `mode` selects (see the module docstring).
MODES = ("fcn", "symmetric")


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(
            "Invalid value for argument `mode`. Expected one of "
            f"{list(MODES)}. Received: mode={mode!r}"
        )
    return mode


def _check_float_dtype(dtype):
    """Returns a NumPy floating dtype from a NumPy, TF or string dtype."""
    try:
        np_dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    except TypeError:
        np_dtype = None
    if np_dtype is None or not np.issubdtype(np_dtype, np.floating):
        raise ValueError(
            "Invalid value for argument `dtype`. Expected a floating dtype. "
            f"Received: dtype={dtype!r}"
        )
    return np_dtype


def _taps64(size, mode):
    """The 1-D taps in float64 (validated)."""
    size = check_int("size", size, 1)
    _check_mode(mode)
    f = (size + 1) // 2  # == ceil(size / 2) in both formulas
    x = np.arange(size, dtype=np.float64)
    if mode == "fcn":
        # Quirk kept for parity: this centre is right only when f and size
        # have the same parity (size % 4 in {0, 1}).
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        return 1.0 - np.abs(x / f - c)
    centre = f - 1 if size % 2 == 1 else f - 0.5
    return 1.0 - np.abs(x - centre) / f


def _filter64(size, mode):
    taps = _taps64(size, mode)
    return np.multiply.outer(taps, taps)


def bilinear_taps(size, mode="symmetric", dtype=np.float32):
    """Returns the 1-D bilinear taps of a transposed-conv kernel of width `size`.

    Args:
        size: kernel width, an int >= 1.
        mode: `"symmetric"` (Caffe's corrected `upsample_filt`) or `"fcn"`
            (the original script's formula, asymmetric for `size % 4` in
            {2, 3}).
        dtype: floating output dtype.

    Returns:
        A NumPy array of shape `(size,)`.

    Raises:
        ValueError: `size` is not an int >= 1, `mode` or `dtype` is unknown.

    Example:

    >>> bilinear_taps(3).tolist()
    [0.5, 1.0, 0.5]
    >>> bilinear_taps(3, mode="fcn").tolist()
    [0.25, 0.75, 0.75]
    """
    return _taps64(size, mode).astype(_check_float_dtype(dtype))


def bilinear_filter(size, mode="symmetric", dtype=np.float32):
    """Returns the 2-D bilinear filter: the outer product of the 1-D taps.

    Args:
        size: kernel width and height, an int >= 1.
        mode: `"symmetric"` or `"fcn"` (see `bilinear_taps`).
        dtype: floating output dtype.

    Returns:
        A NumPy array of shape `(size, size)`.

    Raises:
        ValueError: as `bilinear_taps`.

    Example:

    >>> bilinear_filter(4).shape
    (4, 4)
    """
    return _filter64(size, mode).astype(_check_float_dtype(dtype))


def bilinear_kernel(size, channels, mode="symmetric", in_channels=None, dtype=np.float32):
    """Returns a transposed-conv kernel with the bilinear filter on its diagonal.

    Layout is `[k, k, out, in]`, as `tf.nn.conv2d_transpose` and Keras's
    `Conv2DTranspose` read it: `kernel[:, :, i, i]` is the filter for
    `i < min(channels, in_channels)`, every other entry is zero, so input
    channel i is upsampled into output channel i and nothing mixes.

    The demo's deconv kernel is `bilinear_kernel(3, 3, mode="fcn",
    in_channels=64)`: the original's `[3, 3, 3, 64]` weights exactly.

    Args:
        size: kernel width and height, an int >= 1.
        channels: output channels, an int >= 1.
        mode: `"symmetric"` or `"fcn"` (see `bilinear_taps`).
        in_channels: input channels, an int >= 1; defaults to `channels`.
        dtype: floating output dtype.

    Returns:
        A NumPy array of shape `(size, size, channels, in_channels)`.

    Raises:
        ValueError: a non-positive or non-int size or channel count, an
            unknown `mode` or a non-floating `dtype`.

    Example:

    >>> bilinear_kernel(4, channels=2).shape
    (4, 4, 2, 2)
    """
    filt = _filter64(size, mode)
    channels = check_int("channels", channels, 1)
    in_channels = channels if in_channels is None else check_int("in_channels", in_channels, 1)
    np_dtype = _check_float_dtype(dtype)
    kernel = np.zeros((filt.shape[0], filt.shape[1], channels, in_channels), np_dtype)
    diag = np.arange(min(channels, in_channels))
    kernel[:, :, diag, diag] = filt[:, :, np.newaxis]
    return kernel


def get_kernel_size(factor):
    """Returns the bilinear kernel width for an upsampling factor: `2f - f % 2`.

    With stride `factor` and SAME padding, a symmetric kernel of this width
    reproduces bilinear resizing away from the border.

    Args:
        factor: upsampling factor, an int >= 1.

    Returns:
        An int.

    Raises:
        ValueError: `factor` is not an int >= 1.

    Example:

    >>> [get_kernel_size(f) for f in (1, 2, 3, 4)]
    [1, 4, 5, 8]
    """
    factor = check_int("factor", factor, 1)
    return 2 * factor - factor % 2


def bilinear_upsample_weights(factor, num_classes, mode="symmetric"):
    """Returns a `(k, k, num_classes, num_classes)` bilinear upsampling kernel.

    `k = get_kernel_size(factor)`. The original's function of this name
    ignored its class count and always returned `(k, k, 3, 4)`; this one
    returns what its name promises.

    Args:
        factor: upsampling factor, an int >= 1.
        num_classes: channels in and out, an int >= 1.
        mode: `"symmetric"` or `"fcn"` (see `bilinear_taps`).

    Returns:
        A float32 NumPy array.

    Raises:
        ValueError: as `get_kernel_size` and `bilinear_kernel`.

    Example:

    >>> bilinear_upsample_weights(2, 21).shape
    (4, 4, 21, 21)
    """
    check_int("num_classes", num_classes, 1)
    return bilinear_kernel(get_kernel_size(factor), num_classes, mode=mode)


def _compute_fans(shape):
    """Fans as TF1's initializers count them (receptive field x channels)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def glorot_uniform(shape, seed=None, dtype="float32"):
    """Draws a Glorot (Xavier) uniform tensor with TF1's exact op.

    The limit is `sqrt(6 / (fan_in + fan_out))`, with `fan_in = k*k*in` and
    `fan_out = k*k*out` for a `[k, k, in, out]` conv kernel. The draw is the
    one op TF1's `glorot_uniform_initializer` (and `tf.contrib`'s
    `xavier_initializer()`) issue, `tf.random.uniform(shape, -limit, limit)`,
    so it follows the global seed and `DeterministicRandomTestTool` the same
    way: under the tool it equals the TF1 `get_variable` draw bit for bit.
    Keras 3's `GlorotUniform` uses stateless seeds and does not.

    Args:
        shape: the tensor shape, a sequence of ints >= 0.
        seed: op-level seed (an int) or None, as `tf.random.uniform` takes it.
        dtype: a floating TF dtype (or its name).

    Returns:
        A `tf.Tensor` of `shape` and `dtype`.

    Raises:
        ValueError: a bad shape, seed or dtype.

    Example:

    >>> glorot_uniform([3, 3, 3, 64], seed=1).shape
    TensorShape([3, 3, 3, 64])
    """
    import tensorflow as tf  # kept local: see the module docstring

    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise ValueError(
            "Invalid value for argument `shape`. Expected a sequence of ints >= 0. "
            f"Received: shape={shape!r}"
        )
    try:
        shape = [check_int("shape", d, 0) for d in shape]
    except ValueError:
        raise ValueError(
            "Invalid value for argument `shape`. Expected a sequence of ints >= 0. "
            f"Received: shape={shape!r}"
        ) from None
    if seed is not None and not is_int(seed):
        raise ValueError(
            f"Invalid value for argument `seed`. Expected an int or None. Received: seed={seed!r}"
        )
    try:
        tf_dtype = tf.as_dtype(dtype)
    except TypeError:
        tf_dtype = None
    if tf_dtype is None or not tf_dtype.is_floating:
        raise ValueError(
            "Invalid value for argument `dtype`. Expected a floating dtype. "
            f"Received: dtype={dtype!r}"
        )
    fan_in, fan_out = _compute_fans(shape)
    # The same float64 arithmetic as TF1's VarianceScaling(1, "fan_avg",
    # "uniform"), so the limit (and hence the draw) is bit-identical.
    scale = 1.0 / max(1.0, (fan_in + fan_out) / 2.0)
    limit = math.sqrt(3.0 * scale)
    return tf.random.uniform(shape, -limit, limit, dtype=tf_dtype, seed=seed)
