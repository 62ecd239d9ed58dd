"""A buggy port of the trained classifier: Keras layers with their own fresh weights.

The architecture is right, but nothing loads the TF1 variables: every stage fails.
"""
import keras


def port(inputs, variables):
    features = variables["layer1/w"].shape[0]
    # BUG: freshly initialised weights instead of the TF1 ones -- the layers
    # keep Keras's glorot_uniform/zeros initial values; no set_weights call
    # loads the trained variables (`variables` is not read beyond shapes).
    hidden = keras.layers.Dense(variables["layer1/w"].shape[1], activation="tanh")
    out = keras.layers.Dense(variables["layer2/w"].shape[1])
    x = keras.Input(shape=(features,))
    h = hidden(x)
    logits = out(h)
    model = keras.Model(x, {"layer1/tanh": h, "layer2/logits": logits,
                            "probs": keras.layers.Softmax()(logits)})
    return model(inputs["x"])
