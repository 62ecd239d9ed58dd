"""The original's bilinear filter helpers, with their behaviour and quirks kept.

Two families appear in the original tutorial:

- the TF FCN port's `__get_deconv_filter(f_shape)`, here `fcn_bilinear_weights`
  (the NumPy math), `get_deconv_filter_variable` (its first form, returning a
  variable) and `get_deconv_filter_initializer` (its second form, returning a
  `constant_initializer`);
- Caffe FCN's `get_kernel_size`, `upsample_filt` and
  `bilinear_upsample_weights`.

The two families disagree on some widths; that, and every other quirk kept
here, is named in the docstring of the function that keeps it.
"""

from math import ceil

import numpy as np

from deconv_io.checks import check_int
from legacy_tf1._graph_mode import require_graph_mode

__all__ = [
    "bilinear_upsample_weights",
    "fcn_bilinear_weights",
    "get_deconv_filter_initializer",
    "get_deconv_filter_variable",
    "get_kernel_size",
    "upsample_filt",
]


def _check_filter_shape(f_shape):
    try:
        dims = tuple(f_shape)
    except TypeError:
        dims = None
    if dims is None or len(dims) != 4:
        raise ValueError(
            "Invalid value for argument `f_shape`. Expected 4 ints "
            "[width, height, out_channels, in_channels]. "
            f"Received: f_shape={f_shape!r}."
        )
    for value in dims:
        check_int("f_shape", value, 1)
    dims = tuple(int(d) for d in dims)
    if dims[2] > dims[3]:
        # The original writes weights[:, :, i, i] for every i < f_shape[2]
        # and fails with an IndexError past f_shape[3]; say why instead.
        raise ValueError(
            "Invalid value for argument `f_shape`. The bilinear filter is "
            "written on the diagonal weights[:, :, i, i] for i < f_shape[2], "
            "so f_shape[2] must be <= f_shape[3]. "
            f"Received: f_shape={list(dims)}."
        )
    return dims


def _fcn_taps(length, half_width, center):
    """1-D FCN taps 1 - |x / f - c| for x in 0..length-1."""
    return np.array([1.0 - abs(x / half_width - center) for x in range(length)])


def fcn_bilinear_weights(f_shape, verbose=False):
    """The FCN port's bilinear deconvolution filter, as the original computes it.

    With `f = ceil(width / 2)` and `c = (2f - 1 - f % 2) / (2f)`, the tap at
    (x, y) is `(1 - |x/f - c|) * (1 - |y/f - c|)`, written on the diagonal
    `weights[:, :, i, i]` for `i < f_shape[2]`; every other entry is 0.

    Quirks kept:
    - *Asymmetric for some widths.* The centre `c` assumes the width is the
      one `get_kernel_size(f)` would give (2f when f is even, 2f - 1 when f
      is odd). Widths 1, 4, 5, 8, 9, ... agree with Caffe's `upsample_filt`;
      widths 2, 3, 6, 7, ... do not: width 3 gives 1-D taps
      `[0.25, 0.75, 0.75]` where Caffe gives `[0.5, 1, 0.5]`.
    - *Height uses the width's factor.* `f` and `c` come from `f_shape[0]`
      only, so a non-square filter's second axis uses the first axis' centre.
    - *Diagonal only up to `f_shape[2]`.* For the demo's [3, 3, 3, 64] only
      input channels 0..2 are non-zero, so a transposed convolution with it
      ignores conv channels 3..63.
    - *Prints.* With `verbose=True` every 2-D slice is printed as it is
      written, as the original always did.

    Args:
        f_shape: `[width, height, out_channels, in_channels]`, the
            `conv2d_transpose` kernel layout.
        verbose: print each 2-D slice written, like the original.

    Returns:
        A float64 array of shape `f_shape`.

    Raises:
        ValueError: `f_shape` is not 4 positive ints with
            `f_shape[2] <= f_shape[3]`.

    Example:
    >>> fcn_bilinear_weights([3, 3, 3, 64]).shape
    (3, 3, 3, 64)
    """
    f_shape = _check_filter_shape(f_shape)
    width, height = f_shape[0], f_shape[1]
    half_width = ceil(width / 2.0)
    center = (2 * half_width - 1 - half_width % 2) / (2.0 * half_width)
    # The product of the two 1-D tap rows is, value for value, the original's
    # double loop over (x, y).
    bilinear = np.outer(_fcn_taps(width, half_width, center),
                        _fcn_taps(height, half_width, center))
    weights = np.zeros(f_shape)
    for i in range(f_shape[2]):
        weights[:, :, i, i] = bilinear
        if verbose:
            print(weights[:, :, i, i])
    return weights


def get_deconv_filter_initializer(f_shape, verbose=False):
    """The original's second form: the FCN filter as a `constant_initializer`.

    This is what the demo passes to `get_variable(name="a1", ...)`.

    Args:
        f_shape: `[width, height, out_channels, in_channels]`.
        verbose: print each 2-D slice, like the original.

    Returns:
        A `tf.compat.v1.constant_initializer` holding `fcn_bilinear_weights`.
        The original also passed `dtype=tf.float32` to it; TF2 deprecates
        that argument, and the variable's own float32 dtype (what
        `get_variable` passes when it calls the initializer) gives the same
        float32 values.

    Example:
    >>> type(get_deconv_filter_initializer([3, 3, 3, 64])).__name__
    'Constant'
    """
    import tensorflow as tf

    weights = fcn_bilinear_weights(f_shape, verbose=verbose)
    return tf.compat.v1.constant_initializer(value=weights)


def get_deconv_filter_variable(f_shape, verbose=False):
    """The original's first form: a variable named `up_filter`.

    Quirk kept: the name is fixed, so a second call in the same graph (and
    variable scope) raises `ValueError` because `up_filter` already exists,
    exactly as `tf.get_variable` did in TF1.

    Must be called inside a `with tf.Graph().as_default():` scope.

    Args:
        f_shape: `[width, height, out_channels, in_channels]`.
        verbose: print each 2-D slice, like the original.

    Returns:
        The float32 variable `up_filter`, initialized to the FCN filter when
        the graph's variable initializer runs.

    Raises:
        RuntimeError: called while TensorFlow executes eagerly.
        ValueError: `up_filter` already exists in this graph, or a bad
            `f_shape`.

    Example:
    >>> import tensorflow as tf
    >>> with tf.Graph().as_default():
    ...     get_deconv_filter_variable([3, 3, 3, 3]).shape.as_list()
    [3, 3, 3, 3]
    """
    import tensorflow as tf

    require_graph_mode(tf, "get_deconv_filter_variable")
    init = get_deconv_filter_initializer(f_shape, verbose=verbose)
    return tf.compat.v1.get_variable(
        name="up_filter", initializer=init, shape=_check_filter_shape(f_shape)
    )


def get_kernel_size(factor):
    """Caffe FCN's kernel size for an upsampling factor: `2f - f % 2`.

    Args:
        factor: the upsampling factor, an int >= 1.

    Returns:
        The kernel width (even factors give 2f, odd factors 2f - 1).

    Raises:
        ValueError: `factor` is not an int >= 1.

    Example:
    >>> get_kernel_size(2)
    4
    """
    factor = check_int("factor", factor, 1)
    return 2 * factor - factor % 2


def upsample_filt(size):
    """Caffe FCN's symmetric 2-D bilinear filter of shape (size, size).

    Unlike `fcn_bilinear_weights`, the centre is the middle of the kernel
    for every size: `upsample_filt(3)` is the outer product of
    `[0.5, 1, 0.5]` with itself.

    Args:
        size: the kernel width, an int >= 1.

    Returns:
        A float64 array of shape (size, size).

    Raises:
        ValueError: `size` is not an int >= 1.

    Example:
    >>> upsample_filt(3)[1]
    array([0.5, 1. , 0.5])
    """
    size = check_int("size", size, 1)
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    rows, cols = np.ogrid[:size, :size]
    return (1 - abs(rows - center) / factor) * (1 - abs(cols - center) / factor)


def bilinear_upsample_weights(factor, number_of_classes):
    """Caffe FCN's transposed-convolution weights for an upsampling factor.

    Quirk kept: `number_of_classes` is ignored. The result always has shape
    `(k, k, 3, 4)` with `k = get_kernel_size(factor)`, holding
    `upsample_filt(k)` on the first 3 diagonal entries `[:, :, i, i]` and
    zeros elsewhere (the original printed `(4, 4, 3, 4)` for factor 2 and
    21 classes).

    Args:
        factor: the upsampling factor, an int >= 1.
        number_of_classes: ignored, like the original.

    Returns:
        A float32 array of shape `(k, k, 3, 4)`.

    Raises:
        ValueError: `factor` is not an int >= 1.

    Example:
    >>> bilinear_upsample_weights(2, 21).shape
    (4, 4, 3, 4)
    """
    del number_of_classes  # The original's quirk: never used.
    size = get_kernel_size(factor)
    weights = np.zeros((size, size, 3, 4), dtype=np.float32)
    kernel = upsample_filt(size)
    for i in range(3):
        weights[:, :, i, i] = kernel
    return weights
