"""The MLP's TF2 port: a Keras functional model carrying the TF1 weights.

Call as `port(inputs, variables)`: `inputs["x"]` is the fed batch,
`variables` the TF1 variables by name (`hidden/w`, ...). Returns the stages
keyed by the TF1 op names they stand for.
"""
import keras


def build_model(variables):
    """The Keras model, its weights set from the TF1 variables."""
    x = keras.Input(shape=(variables["hidden/w"].shape[0],), name="x")
    hidden = keras.layers.Dense(variables["hidden/w"].shape[1], activation="relu", name="hidden")
    out = keras.layers.Dense(variables["out/w"].shape[1], name="out")
    h = hidden(x)
    logits = out(h)
    probs = keras.layers.Softmax(axis=-1, name="probs")(logits)
    hidden.set_weights([variables["hidden/w"], variables["hidden/b"]])
    out.set_weights([variables["out/w"], variables["out/b"]])
    return keras.Model(x, {"hidden/relu": h, "out/logits": logits, "probs": probs})


def port(inputs, variables):
    """Runs the port on the TF1 script's feeds and variables."""
    return build_model(variables)(inputs["x"])
