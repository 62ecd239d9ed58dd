"""A softmax classifier trained for a few steps of SGD, then evaluated.

Written the way TensorFlow 1 tutorials write it: placeholders for examples
and labels, a cross-entropy loss, `GradientDescentOptimizer.minimize`, a
training loop of `sess.run(train_op, feed_dict=...)`, and a last run that
fetches the logits and probabilities of held-out examples. The weights a
port must reproduce are the trained ones, read at that last run.
"""
import numpy as np
import tensorflow as tf

tf.set_random_seed(3)
FEATURES, HIDDEN, CLASSES = 10, 16, 3

x = tf.placeholder(tf.float32, [None, FEATURES], name="x")
labels = tf.placeholder(tf.int64, [None], name="labels")

with tf.variable_scope("layer1"):
    w1 = tf.get_variable("w", [FEATURES, HIDDEN], initializer=tf.glorot_uniform_initializer(seed=1))
    b1 = tf.get_variable("b", [HIDDEN], initializer=tf.zeros_initializer())
    h = tf.nn.tanh(tf.matmul(x, w1) + b1, name="tanh")

with tf.variable_scope("layer2"):
    w2 = tf.get_variable("w", [HIDDEN, CLASSES], initializer=tf.glorot_uniform_initializer(seed=2))
    b2 = tf.get_variable("b", [CLASSES], initializer=tf.zeros_initializer())
    logits = tf.add(tf.matmul(h, w2), b2, name="logits")

probs = tf.nn.softmax(logits, name="probs")
loss = tf.reduce_mean(
    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
train_op = tf.train.GradientDescentOptimizer(learning_rate=0.5).minimize(loss)

rng = np.random.RandomState(0)
centers = rng.randn(CLASSES, FEATURES).astype(np.float32)
train_labels = rng.randint(0, CLASSES, 64)
train_x = centers[train_labels] + 0.5 * rng.randn(64, FEATURES).astype(np.float32)
test_x = centers[[0, 1, 2, 0, 1, 2]] + 0.5 * rng.randn(6, FEATURES).astype(np.float32)

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(5):
        batch = slice(16 * (step % 4), 16 * (step % 4) + 16)
        _, loss_value = sess.run([train_op, loss],
                                 feed_dict={x: train_x[batch], labels: train_labels[batch]})
        print("step", step, "loss", loss_value)
    test_probs, test_logits = sess.run([probs, logits], feed_dict={x: test_x})
    print("test predictions:", test_probs.argmax(axis=1))
