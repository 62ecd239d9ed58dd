"""A buggy MLP port: Keras mixed precision left on. Fails at every compared stage."""
import keras


def port(inputs, variables):
    x = keras.Input(shape=(variables["hidden/w"].shape[0],), name="x")
    # BUG: float16 left on -- a mixed_float16 policy (kept from GPU training)
    # computes every layer in float16, far coarser than TF1's float32.
    hidden = keras.layers.Dense(variables["hidden/w"].shape[1], activation="relu",
                                dtype="mixed_float16")
    out = keras.layers.Dense(variables["out/w"].shape[1], dtype="mixed_float16")
    h = hidden(x)
    logits = out(h)
    probs = keras.layers.Softmax(dtype="mixed_float16")(logits)
    hidden.set_weights([variables["hidden/w"], variables["hidden/b"]])
    out.set_weights([variables["out/w"], variables["out/b"]])
    model = keras.Model(x, {"hidden/relu": h, "out/logits": logits, "probs": probs})
    return model(inputs["x"])
