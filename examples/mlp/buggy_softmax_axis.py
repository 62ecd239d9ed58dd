"""A buggy MLP port: softmax over the batch axis. Must fail at `probs` only."""
import tensorflow as tf


@tf.function
def forward(x, w1, b1, w2, b2):
    hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
    logits = tf.matmul(hidden, w2) + b2
    # BUG: softmax over the wrong axis -- axis 0 normalises each class over
    # the batch instead of each example over the classes.
    probs = tf.nn.softmax(logits, axis=0)
    return {"hidden/relu": hidden, "out/logits": logits, "probs": probs}


def port(inputs, variables):
    return forward(inputs["x"], variables["hidden/w"], variables["hidden/b"],
                   variables["out/w"], variables["out/b"])
