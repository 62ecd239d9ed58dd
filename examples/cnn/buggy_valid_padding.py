"""A buggy CNN port: Keras's default padding on the second convolution.

`conv1/relu` and `pool` stay right; `conv2/relu` comes out 2x2 instead of
4x4, and the transposed convolution after it has the wrong shape too.
"""
import keras


def _loaded(layer, shape, variables, scope):
    """`layer` built for inputs of `shape`, its weights the TF1 scope's `w` and `b`."""
    layer.build(shape)
    layer.set_weights([variables[f"{scope}/w"], variables[f"{scope}/b"]])
    return layer


def port(inputs, variables):
    x = inputs["x"]
    c1 = _loaded(keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
                 x.shape, variables, "conv1")(x)
    p = keras.layers.MaxPooling2D(2, strides=2, padding="same")(c1)
    # BUG: Keras's default padding="valid" where TF1 had padding="SAME".
    c2 = _loaded(keras.layers.Conv2D(8, 3, activation="relu"), p.shape, variables, "conv2")(p)
    out = _loaded(keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same"),
                  c2.shape, variables, "deconv")(c2)
    return {"conv1/relu": c1, "pool": p, "conv2/relu": c2, "deconv/output": out}
