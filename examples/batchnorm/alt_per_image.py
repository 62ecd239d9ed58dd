"""A correct batch-norm port by another schedule: one image at a time, in eager `tf.nn` ops.

Batch norm in inference is folded into one scale and shift per channel
(`gamma / sqrt(variance + eps)` and `beta - mean * that`), another order of
operations than TF1's fused kernel; the result must still lie within the bound.
"""
import tensorflow as tf


def port(inputs, variables):
    v = variables
    scale = v["bn/gamma"] * tf.math.rsqrt(v["bn/moving_variance"] + 1e-3)
    shift = v["bn/beta"] - v["bn/moving_mean"] * scale
    stages = {"conv/conv2d": [], "bn/relu": [], "pool": [], "dense/logits": []}
    for image in inputs["x"]:
        conv = tf.nn.conv2d(image[None], v["conv/w"], 1, "SAME")[0]
        relu = tf.nn.relu(conv * scale + shift)
        pooled = tf.reduce_mean(relu, axis=[0, 1])
        logits = tf.linalg.matvec(v["dense/w"], pooled, transpose_a=True) + v["dense/b"]
        for key, value in zip(stages, (conv, relu, pooled, logits)):
            stages[key].append(value)
    return {key: tf.stack(values) for key, values in stages.items()}
