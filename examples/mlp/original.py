"""A two-layer MLP classifier, written the way TensorFlow 1 tutorials write it.

Feeds a placeholder `x` [batch, features] and fetches the logits and the
softmax probabilities. Deterministic: seeded NumPy data, seeded initializers.
"""
import numpy as np
import tensorflow as tf

tf.set_random_seed(1)
FEATURES, HIDDEN, CLASSES = 20, 32, 5

x = tf.placeholder(tf.float32, [None, FEATURES], name="x")

with tf.variable_scope("hidden"):
    w = tf.get_variable("w", [FEATURES, HIDDEN],
                        initializer=tf.glorot_uniform_initializer(seed=1))
    b = tf.get_variable("b", [HIDDEN], initializer=tf.random_normal_initializer(0.0, 0.1, seed=2))
    hidden = tf.nn.relu(tf.matmul(x, w) + b, name="relu")

with tf.variable_scope("out"):
    w = tf.get_variable("w", [HIDDEN, CLASSES],
                        initializer=tf.glorot_uniform_initializer(seed=3))
    b = tf.get_variable("b", [CLASSES], initializer=tf.random_normal_initializer(0.0, 0.1, seed=4))
    logits = tf.nn.bias_add(tf.matmul(hidden, w), b, name="logits")

probs = tf.nn.softmax(logits, name="probs")

batch = np.random.RandomState(0).randn(8, FEATURES).astype(np.float32)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    p, z = sess.run([probs, logits], feed_dict={x: batch})
    print("predicted classes:", p.argmax(axis=1))
