"""The demo as a Keras 3 model built from standard layers.

`build_keras_demo` gives a `keras.Model` with three outputs, the pipeline's
stages: `conv1` (`Conv2D` 64, 3x3, same, no bias, Glorot uniform), `pool`
(`MaxPooling2D` 2, same) and `output` (`Conv2DTranspose` 3, 3x3, stride 2,
same, no bias, initialised by `BilinearInitializer(mode="fcn")`, the
original's formula). Any batch and image size: `output` is
`(N, 2 * ceil(H / 2), 2 * ceil(W / 2), 3)`, the shape the original passed to
`tf.nn.conv2d_transpose` (`2 *` the pooled size). Keras's own output size
for a stride-2 "same" transposed convolution without `output_padding` is
`2 *` its input size, which is that shape for odd sides too, so no
`output_padding` is needed.

Kernel layouts are the original's: `Conv2D` `(k, k, in, out)` is the
variable `a`, `Conv2DTranspose` `(k, k, out, in)` is `a1` (the layout of
`tf.nn.conv2d_transpose`). `KERAS_LAYERS` maps the two kernels to the
layers that hold them.
"""

import keras
import numpy as np

from tf2.initializers import BilinearInitializer

__all__ = ["KERAS_LAYERS", "build_keras_demo", "keras_kernels", "set_keras_kernels"]

#: Kernel name (as in dumps and weights files) -> the model layer holding it.
KERAS_LAYERS = {"conv_kernel": "conv1", "deconv_kernel": "output"}


def build_keras_demo(conv_kernel=None, deconv_kernel=None, seed=None, name="deconv_demo"):
    """Builds the demo as a `keras.Model` with outputs `conv1`, `pool`, `output`.

    Args:
        conv_kernel: optional `[3, 3, 3, 64]` kernel for `conv1` (else
            Glorot uniform, seeded with `seed`).
        deconv_kernel: optional `[3, 3, 3, 64]` kernel (`[k, k, out, in]`)
            for `output` (else the FCN bilinear kernel).
        seed: seed of the Glorot draw (Keras's own stateless draw, which is
            not TF1's: set kernels from the TF1 port for parity).
        name: the model's name.

    Returns:
        A built `keras.Model` mapping `(N, H, W, 3)` images to a dict
        `{"conv1", "pool", "output"}`.

    Raises:
        ValueError: a kernel of another shape.

    Example:
    >>> model = build_keras_demo(seed=0)
    >>> model(np.zeros((1, 7, 5, 3), "float32"))["output"].shape
    TensorShape([1, 8, 6, 3])
    """
    images = keras.Input((None, None, 3), name="image")
    conv1 = keras.layers.Conv2D(
        64, 3, padding="same", use_bias=False,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed), name="conv1",
    )(images)
    pool = keras.layers.MaxPooling2D(2, padding="same", name="pool")(conv1)
    output = keras.layers.Conv2DTranspose(
        3, 3, strides=2, padding="same", use_bias=False,
        kernel_initializer=BilinearInitializer(mode="fcn"), name="output",
    )(pool)
    model = keras.Model(images, {"conv1": conv1, "pool": pool, "output": output}, name=name)
    set_keras_kernels(model, conv_kernel=conv_kernel, deconv_kernel=deconv_kernel)
    return model


def set_keras_kernels(model, conv_kernel=None, deconv_kernel=None):
    """Assigns the given kernels (either or both) to the model's layers.

    Raises:
        ValueError: a kernel whose shape is not the layer's.
    """
    for name, value in (("conv_kernel", conv_kernel), ("deconv_kernel", deconv_kernel)):
        if value is None:
            continue
        variable = model.get_layer(KERAS_LAYERS[name]).kernel
        value = np.asarray(value, dtype=np.float32)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected shape "
                f"{tuple(variable.shape)}. Received: shape={value.shape}"
            )
        variable.assign(value)


def keras_kernels(model):
    """The model's two kernels as float32 NumPy arrays, keyed like weights files.

    Example:
    >>> sorted(keras_kernels(build_keras_demo(seed=0)))
    ['conv_kernel', 'deconv_kernel']
    """
    return {name: keras.ops.convert_to_numpy(model.get_layer(layer).kernel)
            for name, layer in KERAS_LAYERS.items()}
