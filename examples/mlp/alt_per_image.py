"""A correct MLP port by another schedule: one example at a time, then stacked.

Each example's matrix-vector products sum in their own order; the result
must still lie within the derived bound.
"""
import numpy as np
import tensorflow as tf


def port(inputs, variables):
    w1, b1 = variables["hidden/w"], variables["hidden/b"]
    w2, b2 = variables["out/w"], variables["out/b"]
    stages = {"hidden/relu": [], "out/logits": [], "probs": []}
    for row in np.asarray(inputs["x"]):
        hidden = tf.nn.relu(tf.linalg.matvec(w1, row, transpose_a=True) + b1)
        logits = tf.linalg.matvec(w2, hidden, transpose_a=True) + b2
        stages["hidden/relu"].append(hidden)
        stages["out/logits"].append(logits)
        stages["probs"].append(tf.nn.softmax(logits))
    return {key: tf.stack(values) for key, values in stages.items()}
