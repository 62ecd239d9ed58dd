"""`BilinearUpsample2D`: a per-channel bilinear transposed convolution layer."""

import keras
import numpy as np
import tensorflow as tf

from tf2.kernels import _check_int, _check_mode, bilinear_filter, get_kernel_size

__all__ = ["BilinearUpsample2D", "BORDERS"]

#: What `BilinearUpsample2D` does beyond the image edge.
BORDERS = ("zeros", "clamp")


@keras.saving.register_keras_serializable(package="bilinear_deconv")
class BilinearUpsample2D(keras.layers.Layer):
    """Upsamples NHWC images by an integer factor with a bilinear transposed conv.

    The kernel is depthwise, `(k, k, C, 1)` with `k = 2f - f % 2`: each
    channel is upsampled by its own copy of the bilinear filter, so the cost
    is O(C), not the O(C^2) of a dense `Conv2DTranspose` whose kernel is
    zero off the diagonal. The output is `(N, f*H, f*W, C)`.

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
        trainable: whether the kernel is trained.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
        ValueError: a bad `factor`, `mode` or `border`; an input that is not
            4-D or whose channel count is unknown.

    Example:

    >>> BilinearUpsample2D(factor=2)(np.zeros((1, 5, 7, 3), "float32")).shape
    TensorShape([1, 10, 14, 3])
    """

    def __init__(self, factor=2, mode="symmetric", border="zeros", trainable=False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        self.factor = _check_int("factor", factor, 1)
        self.mode = _check_mode(mode)
        if border not in BORDERS:
            raise ValueError(
                "Invalid value for argument `border`. Expected one of "
                f"{list(BORDERS)}. Received: border={border!r}"
            )
        self.border = border
        self.kernel_size = get_kernel_size(self.factor)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "BilinearUpsample2D needs a known channel count (last axis). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, 1),
            initializer=self._initial_kernel,
            trainable=True,  # the layer's own `trainable` freezes it
        )
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: channels})

    def _initial_kernel(self, shape, dtype=None):
        filt = bilinear_filter(shape[0], self.mode, dtype=np.float64)
        kernel = np.broadcast_to(filt[:, :, None, None], shape)
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or self.variable_dtype)

    def call(self, inputs):
        f = self.factor
        x = inputs
        if self.border == "clamp":
            # SYMMETRIC with one pixel repeats the edge pixel (valid for 1x1).
            x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
        shape = tf.shape(x)
        out_sizes = tf.stack([shape[0], shape[1] * f, shape[2] * f, shape[3]])
        kernel = tf.cast(self.kernel, x.dtype)
        # The adjoint of a depthwise conv is a depthwise transposed conv; its
        # gradient w.r.t. the filter is registered, so the kernel trains.
        y = tf.nn.depthwise_conv2d_backprop_input(
            out_sizes, kernel, x, strides=[1, f, f, 1], padding="SAME"
        )
        if self.border == "clamp":
            # Output pixel j of the padded image samples source coordinate
            # (j + 0.5) / f - 0.5 - 1 of the unpadded one, so cropping f per
            # side leaves resize's half-pixel grid; see the tests.
            y = y[:, f:-f, f:-f, :]
        # The op's static shape is unknown when H, W are; keep what is known.
        y.set_shape(self.compute_output_shape(inputs.shape))
        return y

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        f = self.factor
        return (n, None if h is None else h * f, None if w is None else w * f, c)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "mode": self.mode,
            "border": self.border,
        }
