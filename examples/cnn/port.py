"""The CNN's TF2 port: a Keras functional model carrying the TF1 weights.

Keras's Conv2D and Conv2DTranspose keep TF1's kernel layouts
([h, w, in, out] and [h, w, out, in]), so the TF1 arrays load as they are.
"""
import keras


def build_model(variables, side):
    """The Keras model for `side` x `side` images, its weights set from `variables`."""
    x = keras.Input(shape=(side, side, 3), name="x")
    conv1 = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    pool = keras.layers.MaxPooling2D(2, strides=2, padding="same")
    conv2 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    deconv = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same")
    c1 = conv1(x)
    p = pool(c1)
    c2 = conv2(p)
    out = deconv(c2)
    for layer, scope in ((conv1, "conv1"), (conv2, "conv2"), (deconv, "deconv")):
        layer.set_weights([variables[f"{scope}/w"], variables[f"{scope}/b"]])
    return keras.Model(x, {"conv1/relu": c1, "pool": p, "conv2/relu": c2, "deconv/output": out})


def port(inputs, variables):
    """Runs the port on the TF1 script's feeds and variables."""
    return build_model(variables, inputs["x"].shape[1])(inputs["x"])
