"""`BilinearUpsample2D`: a per-channel bilinear transposed convolution layer.

Written with `keras.ops` only, so it runs on every Keras 3 backend
(TensorFlow, JAX, ...); no TensorFlow import here.
"""

import keras
import numpy as np

from deconv_io.checks import check_int
from tf2.kernels import _check_mode, bilinear_filter, get_kernel_size

__all__ = ["BilinearUpsample2D", "BORDERS", "DATA_FORMATS", "polyphase_taps"]

#: What `BilinearUpsample2D` does beyond the image edge.
BORDERS = ("zeros", "clamp")
#: Keras's two image layouts.
DATA_FORMATS = ("channels_last", "channels_first")


def polyphase_taps(factor, kernel_size):
    """Where each output phase of a stride-`factor` transposed conv reads the kernel.

    A transposed convolution with stride `f`, "SAME" padding (`pad_before =
    (k - f) // 2`) and a `k`-tap kernel `w` gives, along one axis,
    `y[f*m + p] = sum_d x[m + d] * w[p + pad_before - f*d]` over the `d`
    where the tap index is in `[0, k)`. So each output phase `p` is an
    ordinary (forward) correlation of `x` with a few taps of `w`: the whole
    transposed conv is one stride-1 depthwise conv with `f*f` outputs per
    channel, followed by interleaving the phases. This returns, per window
    offset `u` (for `d = u + d_low`) and phase `p`, the tap index or -1.

    Args:
        factor: the stride `f`, an int >= 1.
        kernel_size: `k`, an int >= `f`.

    Returns:
        `(taps, d_low)`: an int array `(J, f)` of tap indices (-1: no tap),
        and the offset of window position 0.

    Example:
    >>> taps, d_low = polyphase_taps(2, 4)
    >>> taps.tolist(), d_low
    ([[3, -1], [1, 2], [-1, 0]], -1)
    """
    pad_before = (kernel_size - factor) // 2
    pairs = [(p, d) for p in range(factor) for d in range(-kernel_size, kernel_size + 1)
             if 0 <= p + pad_before - factor * d < kernel_size]
    d_low = min(d for _, d in pairs)
    d_high = max(d for _, d in pairs)
    taps = np.full((d_high - d_low + 1, factor), -1, dtype=np.int64)
    for p, d in pairs:
        taps[d - d_low, p] = p + pad_before - factor * d
    return taps, d_low


@keras.saving.register_keras_serializable(package="bilinear_deconv")
class BilinearUpsample2D(keras.layers.Layer):
    """Upsamples images by an integer factor with a bilinear transposed conv.

    The kernel is depthwise, `(k, k, C, 1)` with `k = 2f - f % 2`: each
    channel is upsampled by its own copy of the bilinear filter, so the cost
    is O(C), not the O(C^2) of a dense `Conv2DTranspose` whose kernel is
    zero off the diagonal. The output is `(N, f*H, f*W, C)` (channels last)
    or `(N, C, f*H, f*W)` (channels first).

    It is computed in the polyphase form (see `polyphase_taps`): one
    stride-1 depthwise convolution of the input (padded by one pixel: zeros,
    or the edge pixel for `"clamp"`) with `f*f` outputs per channel, each
    the taps of one output phase, then one interleaving of the phases. This
    touches the output once, not once per tap, and needs only `keras.ops`.
    Every step works with unknown height and width, so a model built on
    `keras.Input((None, None, C))` traces and exports (`model.export`,
    a `tf.function` with a `None` signature, JAX's symbolic shapes).

    Borders:

    - `"zeros"`: exactly `tf.nn.conv2d_transpose(x, bilinear_kernel(k, C),
      stride f, padding="SAME")`, as in FCN: pixels beyond the edge count as
      zero, so the outer `f // 2` rows and columns are darkened.
    - `"clamp"`: the edge pixel is repeated (coordinates clamped to the
      image, as `tf.image.resize` does), so with `mode="symmetric"` the output
      equals `tf.image.resize(x, (f*H, f*W), "bilinear")` everywhere. It pads
      the input by one replicated pixel per side, runs the same transposed
      conv, and crops `f` output pixels per side. The kernel is still a real
      transposed-conv kernel, so it can be trained.

    Frozen by default (`trainable=False`); with `trainable=True` the kernel
    is a trainable weight and gradients flow into it.

    Args:
        factor: upsampling factor, an int >= 1.
        mode: `"symmetric"` (Caffe's corrected filter) or `"fcn"` (the
            original script's). Kept for symmetry with the initializer: the
            two formulas agree for every width `2f - f % 2` (its `k % 4` is
            0 or 1), so the layer computes the same either way.
        border: `"zeros"` or `"clamp"`.
        data_format: `"channels_last"` (NHWC) or `"channels_first"` (NCHW);
            default `keras.config.image_data_format()`.
        trainable: whether the kernel is trained.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
        ValueError: a bad `factor`, `mode`, `border` or `data_format`; an
            input that is not 4-D or whose channel count is unknown.

    Example:

    >>> tuple(BilinearUpsample2D(factor=2, data_format="channels_last")(
    ...     np.zeros((1, 5, 7, 3), "float32")).shape)
    (1, 10, 14, 3)
    """

    def __init__(self, factor=2, mode="symmetric", border="zeros", data_format=None,
                 trainable=False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        self.factor = check_int("factor", factor, 1)
        self.mode = _check_mode(mode)
        if border not in BORDERS:
            raise ValueError(
                "Invalid value for argument `border`. Expected one of "
                f"{list(BORDERS)}. Received: border={border!r}"
            )
        self.border = border
        data_format = keras.config.image_data_format() if data_format is None else data_format
        if data_format not in DATA_FORMATS:
            raise ValueError(
                "Invalid value for argument `data_format`. Expected one of "
                f"{list(DATA_FORMATS)}. Received: data_format={data_format!r}"
            )
        self.data_format = data_format
        self._channel_axis = -1 if data_format == "channels_last" else 1
        self.kernel_size = get_kernel_size(self.factor)
        self._taps, self._d_low = polyphase_taps(self.factor, self.kernel_size)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"BilinearUpsample2D needs a known channel count ({self.data_format}). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, 1),
            initializer=self._initial_kernel,
            trainable=True,  # the layer's own `trainable` freezes it
        )
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={self._channel_axis: channels})

    def _initial_kernel(self, shape, dtype=None):
        filt = bilinear_filter(shape[0], self.mode, dtype=np.float64)
        kernel = np.broadcast_to(filt[:, :, None, None], shape)
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or self.variable_dtype)

    def _polyphase_kernel(self, dtype):
        """The depthwise kernel `(J, J, C, f*f)`: output `c*f*f + p*f + q` is phase (p, q)."""
        k, f = self.kernel_size, self.factor
        taps = self._taps  # (J, f), -1 where a phase has no tap
        J = taps.shape[0]
        # Flat index into the k*k filter, or k*k (a zero row) where either axis has no tap.
        rows, cols = taps[:, None, :, None], taps[None, :, None, :]  # (J, 1, f, 1), (1, J, 1, f)
        index = np.where((rows >= 0) & (cols >= 0), rows * k + cols, k * k)  # (J, J, f, f)
        channels = self.kernel.shape[2]
        flat = keras.ops.reshape(keras.ops.cast(self.kernel, dtype), (k * k, channels))
        flat = keras.ops.concatenate([flat, keras.ops.zeros((1, channels), dtype)], axis=0)
        gathered = keras.ops.take(flat, index.reshape(-1), axis=0)  # (J*J*f*f, C)
        gathered = keras.ops.reshape(gathered, (J, J, f * f, channels))
        return keras.ops.transpose(gathered, (0, 1, 3, 2))  # (J, J, C, f*f)

    def call(self, inputs):
        if self._resize_applies(inputs):
            # A frozen clamp layer whose kernel is still the bilinear filter
            # computes what bilinear resizing does: take the resize op, which
            # writes the output in one pass (the polyphase form needs two).
            # Only for power-of-two factors, where resize's sample positions
            # and weights are exact binary fractions (for factor 3 its float32
            # coordinates lose a few ulps). A kernel set to other values
            # (set_weights) takes the general form; a trainable layer always
            # does, so its kernel gets gradients.
            initial = self._initial_kernel(tuple(self.kernel.shape), self.kernel.dtype)
            unchanged = keras.ops.all(keras.ops.equal(self.kernel, initial))
            return keras.ops.cond(unchanged, lambda: self._resize(inputs),
                                  lambda: self._transposed_conv(inputs))
        return self._transposed_conv(inputs)

    def _resize_applies(self, inputs):
        """Whether the resize shortcut may be taken: a Python decision, made while tracing.

        Besides the factor, border and `trainable`, the spatial size must be
        static ints: `keras.ops.image.resize` takes only a static size, so a
        trace with unknown height or width (a `None` input signature,
        `model.export`, JAX's symbolic shapes) takes the polyphase form,
        which computes the same values within the rounding bound.
        """
        if self.border != "clamp" or self.trainable or self.factor & (self.factor - 1):
            return False
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        return all(type(inputs.shape[axis]) is int for axis in axes)

    def _resize(self, inputs):
        f = self.factor
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        shape = keras.ops.shape(inputs)
        size = (shape[axes[0]] * f, shape[axes[1]] * f)
        y = keras.ops.image.resize(inputs, size, interpolation="bilinear",
                                   data_format=self.data_format)
        return keras.ops.cast(y, inputs.dtype)

    def _transposed_conv(self, inputs):
        f = self.factor
        x = inputs
        if self.data_format == "channels_first":
            x = keras.ops.transpose(x, (0, 2, 3, 1))
        channels = x.shape[-1]
        # Output phase p of pixel m reads input pixels m + d_low .. m + d_low
        # + J - 1; for the bilinear widths 2f - f % 2 that is one pixel on
        # either side (none for f = 1), so the input is padded by one pixel.
        before, after = -self._d_low, self._taps.shape[0] - 1 + self._d_low
        if before or after:
            x = self._pad(x, before, after)
        y = keras.ops.depthwise_conv(x, self._polyphase_kernel(x.dtype), strides=1,
                                     padding="valid", data_format="channels_last")
        shape = keras.ops.shape(y)
        n, h, w = shape[0], shape[1], shape[2]
        y = keras.ops.reshape(y, (-1, h, w, channels, f, f))
        if self.data_format == "channels_first":
            y = keras.ops.transpose(y, (0, 3, 1, 4, 2, 5))  # (N, C, H, f, W, f)
            return keras.ops.reshape(y, (-1, channels, h * f, w * f))
        y = keras.ops.transpose(y, (0, 1, 4, 2, 5, 3))  # (N, H, f, W, f, C)
        return keras.ops.reshape(y, (-1, h * f, w * f, channels))

    def _pad(self, x, before, after):
        """Pads NHWC `x` by `before`/`after` pixels on H and W, for any input size.

        Built from slices and concatenation, which need no static size (JAX's
        `pad` in "symmetric" mode rejects symbolic ones): zeros, or for
        `"clamp"` copies of the edge row and column (a copy, so exact).
        """
        if self.border != "clamp":  # zeros: constant padding takes symbolic sizes, one copy
            return keras.ops.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
        for axis in (1, 2):
            edge = [slice(None)] * 4
            edge[axis] = slice(0, 1)
            first = x[tuple(edge)]
            edge[axis] = slice(-1, None)
            last = x[tuple(edge)]
            x = keras.ops.concatenate([first] * before + [x] + [last] * after, axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        f = self.factor
        if self.data_format == "channels_first":
            n, c, h, w = input_shape
        else:
            n, h, w, c = input_shape
        h = None if h is None else h * f
        w = None if w is None else w * f
        return (n, c, h, w) if self.data_format == "channels_first" else (n, h, w, c)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "mode": self.mode,
            "border": self.border,
            "data_format": self.data_format,
        }
