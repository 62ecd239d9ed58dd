"""A correct port of the trained classifier computing in float64 (`tf.float64` ops)."""
import tensorflow as tf


def port(inputs, variables):
    v = {key: tf.constant(a, tf.float64) for key, a in variables.items()}
    x = tf.constant(inputs["x"], tf.float64)
    hidden = tf.tanh(tf.matmul(x, v["layer1/w"]) + v["layer1/b"])
    logits = tf.matmul(hidden, v["layer2/w"]) + v["layer2/b"]
    return {"layer1/tanh": hidden, "layer2/logits": logits, "probs": tf.nn.softmax(logits)}
