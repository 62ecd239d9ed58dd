"""A small convolutional encoder-decoder, written the way TensorFlow 1 tutorials write it.

A strided convolution with bias and ReLU, max pooling, a second convolution,
and a transposed convolution back up. Feeds a placeholder `x` [batch, 15, 15, 3]
(odd sides on purpose: SAME and VALID padding give different shapes).
"""
import numpy as np
import tensorflow as tf

tf.set_random_seed(7)

x = tf.placeholder(tf.float32, [None, 15, 15, 3], name="x")

with tf.variable_scope("conv1"):
    w = tf.get_variable("w", [3, 3, 3, 8], initializer=tf.glorot_uniform_initializer(seed=1))
    b = tf.get_variable("b", [8], initializer=tf.random_normal_initializer(0.0, 0.1, seed=2))
    conv1 = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME")
    conv1 = tf.nn.relu(tf.nn.bias_add(conv1, b), name="relu")

pool = tf.nn.max_pool(conv1, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME",
                      name="pool")

with tf.variable_scope("conv2"):
    w = tf.get_variable("w", [3, 3, 8, 8], initializer=tf.glorot_uniform_initializer(seed=3))
    b = tf.get_variable("b", [8], initializer=tf.random_normal_initializer(0.0, 0.1, seed=4))
    conv2 = tf.nn.conv2d(pool, w, strides=[1, 1, 1, 1], padding="SAME")
    conv2 = tf.nn.relu(tf.nn.bias_add(conv2, b), name="relu")

with tf.variable_scope("deconv"):
    # conv2d_transpose's filter is [height, width, output channels, input channels].
    w = tf.get_variable("w", [4, 4, 4, 8], initializer=tf.glorot_uniform_initializer(seed=5))
    b = tf.get_variable("b", [4], initializer=tf.random_normal_initializer(0.0, 0.1, seed=6))
    batch = tf.shape(conv2)[0]
    up = tf.nn.conv2d_transpose(conv2, w, output_shape=tf.stack([batch, 8, 8, 4]),
                                strides=[1, 2, 2, 1], padding="SAME")
    output = tf.nn.bias_add(up, b, name="output")

images = np.random.RandomState(0).rand(2, 15, 15, 3).astype(np.float32)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    result = sess.run(output, feed_dict={x: images})
    print("output:", result.shape, float(result.mean()))
