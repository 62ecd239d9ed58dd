"""A convolutional classifier with batch normalization in inference mode.

Written the TensorFlow 1 way: the moving mean and variance are non-trainable
variables, and `tf.nn.fused_batch_norm(..., is_training=False)` normalises with
them (op FusedBatchNormV3). The net: conv, batch norm, ReLU, global average
pool, dense logits.
"""
import numpy as np
import tensorflow as tf

tf.set_random_seed(5)

x = tf.placeholder(tf.float32, [None, 9, 9, 3], name="x")

with tf.variable_scope("conv"):
    w = tf.get_variable("w", [3, 3, 3, 6], initializer=tf.glorot_uniform_initializer(seed=1))
    conv = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME", name="conv2d")

with tf.variable_scope("bn"):
    scale = tf.get_variable("gamma", [6], initializer=tf.random_uniform_initializer(0.5, 1.5, seed=2))
    offset = tf.get_variable("beta", [6], initializer=tf.random_normal_initializer(0, 0.1, seed=3))
    mean = tf.get_variable("moving_mean", [6], trainable=False,
                           initializer=tf.random_normal_initializer(0, 0.2, seed=4))
    variance = tf.get_variable("moving_variance", [6], trainable=False,
                               initializer=tf.random_uniform_initializer(0.5, 2.0, seed=5))
    normed, _, _ = tf.nn.fused_batch_norm(conv, scale, offset, mean=mean, variance=variance,
                                          epsilon=1e-3, is_training=False)
    bn = tf.nn.relu(normed, name="relu")

pooled = tf.reduce_mean(bn, axis=[1, 2], name="pool")

with tf.variable_scope("dense"):
    w = tf.get_variable("w", [6, 4], initializer=tf.glorot_uniform_initializer(seed=6))
    b = tf.get_variable("b", [4], initializer=tf.zeros_initializer())
    logits = tf.nn.bias_add(tf.matmul(pooled, w), b, name="logits")

images = np.random.RandomState(1).rand(4, 9, 9, 3).astype(np.float32)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    out = sess.run(logits, feed_dict={x: images})
    print("logits:", out.shape)
