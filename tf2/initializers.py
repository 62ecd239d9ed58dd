"""`BilinearInitializer`: the bilinear kernel as a Keras 3 initializer."""

import keras

from deconv_io.checks import is_int
from tf2.kernels import _check_float_dtype, _check_mode, bilinear_kernel

__all__ = ["BilinearInitializer"]


@keras.saving.register_keras_serializable(package="bilinear_deconv")
class BilinearInitializer(keras.initializers.Initializer):
    """Initializes a transposed-conv kernel to bilinear upsampling.

    For a kernel shape `(k, k, out, in)` (the layout of
    `keras.layers.Conv2DTranspose` and `tf.nn.conv2d_transpose`) it returns
    `bilinear_kernel(k, out, mode, in_channels=in)`: the bilinear filter on
    the diagonal `[:, :, i, i]`, zero elsewhere, so each channel is
    upsampled on its own. With `strides=f`, `padding="same"` and
    `kernel_size=2f - f % 2` the layer then upsamples bilinearly (zero
    padding at the border).

    Args:
        mode: `"symmetric"` (Caffe's corrected filter, the default) or
            `"fcn"` (the original script's filter, kept for parity).

    Raises:
        ValueError: an unknown `mode`.

    Example:

    >>> BilinearInitializer()((4, 4, 3, 3)).shape
    TensorShape([4, 4, 3, 3])
    """

    def __init__(self, mode="symmetric"):
        self.mode = _check_mode(mode)

    def __call__(self, shape, dtype=None):
        """Returns the bilinear kernel of `shape`.

        Args:
            shape: `(k, k, out_channels, in_channels)`, all ints >= 1.
            dtype: a floating dtype; defaults to `keras.backend.floatx()`.

        Returns:
            A tensor of `shape` and `dtype`.

        Raises:
            ValueError: not a 4-D square kernel shape of positive ints, or a
                non-floating dtype.
        """
        shape = tuple(shape)
        if len(shape) != 4 or not all(
            is_int(d) and d >= 1 for d in shape
        ):
            raise ValueError(
                "BilinearInitializer expects a 4-D kernel shape (k, k, out_channels, "
                f"in_channels) of ints >= 1. Received: shape={shape}"
            )
        if shape[0] != shape[1]:
            raise ValueError(
                "BilinearInitializer expects a square kernel (k, k, out_channels, "
                f"in_channels). Received: shape={shape}"
            )
        dtype = keras.backend.standardize_dtype(dtype or keras.backend.floatx())
        kernel = bilinear_kernel(
            shape[0], shape[2], mode=self.mode, in_channels=shape[3],
            dtype=_check_float_dtype(dtype),
        )
        return keras.ops.convert_to_tensor(kernel, dtype=dtype)

    def get_config(self):
        return {"mode": self.mode}
