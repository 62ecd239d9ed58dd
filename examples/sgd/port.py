"""The trained classifier's TF2 port: a `tf.function` over `tf.nn` ops.

Takes the weights the TF1 script had trained when it evaluated (the
variables of its last run), not the initial ones.
"""
import tensorflow as tf


@tf.function
def classify(x, w1, b1, w2, b2):
    """The forward pass: tanh hidden layer, logits, softmax."""
    hidden = tf.tanh(tf.matmul(x, w1) + b1)
    logits = tf.matmul(hidden, w2) + b2
    return {"layer1/tanh": hidden, "layer2/logits": logits, "probs": tf.nn.softmax(logits)}


def port(inputs, variables):
    """Runs the port on the TF1 script's eval feed and trained variables."""
    return classify(inputs["x"], variables["layer1/w"], variables["layer1/b"],
                    variables["layer2/w"], variables["layer2/b"])
