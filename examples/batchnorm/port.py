"""The batch-norm classifier's TF2 port: Keras layers with the TF1 statistics.

Keras's BatchNormalization keeps [gamma, beta, moving_mean, moving_variance],
the TF1 variables `bn/gamma`, `bn/beta`, `bn/moving_mean`, `bn/moving_variance`;
its epsilon must be set to the script's 1e-3 (which is also Keras's default).
"""
import keras


def build_model(variables, side):
    """The Keras model for `side` x `side` images, its weights set from `variables`."""
    x = keras.Input(shape=(side, side, 3), name="x")
    conv = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    dense = keras.layers.Dense(4)
    c = conv(x)
    relu = keras.layers.ReLU()(bn(c, training=False))
    pooled = keras.layers.GlobalAveragePooling2D()(relu)
    logits = dense(pooled)
    conv.set_weights([variables["conv/w"]])
    bn.set_weights([variables["bn/gamma"], variables["bn/beta"],
                    variables["bn/moving_mean"], variables["bn/moving_variance"]])
    dense.set_weights([variables["dense/w"], variables["dense/b"]])
    return keras.Model(x, {"conv/conv2d": c, "bn/relu": relu, "pool": pooled,
                           "dense/logits": logits})


def port(inputs, variables):
    """Runs the port (inference) on the TF1 script's feeds and variables."""
    return build_model(variables, inputs["x"].shape[1])(inputs["x"], training=False)
