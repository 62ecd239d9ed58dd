"""A buggy batch-norm port: normalises with the batch's statistics.

`conv/conv2d` stays right; from `bn/relu` on every stage fails.
"""
import tensorflow as tf


def port(inputs, variables):
    v = variables
    conv = tf.nn.conv2d(inputs["x"], v["conv/w"], 1, "SAME")
    # BUG: training-mode batch norm at inference -- the batch's own mean and
    # variance (as Keras's BatchNormalization uses when called with
    # training=True) instead of the moving statistics TF1 used.
    mean, variance = tf.nn.moments(conv, axes=[0, 1, 2])
    normed = tf.nn.batch_normalization(conv, mean, variance, v["bn/beta"], v["bn/gamma"], 1e-3)
    relu = tf.nn.relu(normed)
    pooled = tf.reduce_mean(relu, axis=[1, 2])
    return {"conv/conv2d": conv, "bn/relu": relu, "pool": pooled,
            "dense/logits": tf.matmul(pooled, v["dense/w"]) + v["dense/b"]}
