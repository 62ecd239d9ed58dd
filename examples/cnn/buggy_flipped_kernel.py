"""A buggy CNN port: the transposed convolution's kernel flipped in space.

Upstream stages (`conv1/relu`, `pool`, `conv2/relu`) stay right; the bug
shows at `deconv/output` only.
"""
import numpy as np
import tensorflow as tf


@tf.function
def forward(x, w1, b1, w2, b2, w3, b3):
    c1 = tf.nn.relu(tf.nn.conv2d(x, w1, 2, "SAME") + b1)
    p = tf.nn.max_pool2d(c1, 2, 2, "SAME")
    c2 = tf.nn.relu(tf.nn.conv2d(p, w2, 1, "SAME") + b2)
    batch = tf.shape(c2)[0]
    out = tf.nn.conv2d_transpose(c2, w3, tf.stack([batch, 8, 8, 4]), 2, "SAME") + b3
    return {"conv1/relu": c1, "pool": p, "conv2/relu": c2, "deconv/output": out}


def port(inputs, variables):
    v = variables
    # BUG: spatially flipped kernel -- the kernel was rotated 180 degrees, as
    # when a "deconvolution" is rewritten as a convolution of the kernel
    # (or a Theano/PyTorch-style kernel is loaded) and the flip is applied twice.
    w3 = np.asarray(v["deconv/w"])[::-1, ::-1].copy()
    return forward(inputs["x"], v["conv1/w"], v["conv1/b"], v["conv2/w"], v["conv2/b"],
                   w3, v["deconv/b"])
