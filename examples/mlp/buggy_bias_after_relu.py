"""A buggy MLP port: the hidden bias added after the ReLU. Fails from `hidden/relu` on."""
import tensorflow as tf


@tf.function
def forward(x, w1, b1, w2, b2):
    # BUG: bias after the activation -- relu(x @ w) + b instead of relu(x @ w + b).
    hidden = tf.nn.relu(tf.matmul(x, w1)) + b1
    logits = tf.matmul(hidden, w2) + b2
    return {"hidden/relu": hidden, "out/logits": logits, "probs": tf.nn.softmax(logits)}


def port(inputs, variables):
    return forward(inputs["x"], variables["hidden/w"], variables["hidden/b"],
                   variables["out/w"], variables["out/b"])
