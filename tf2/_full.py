"""The full path: every stage of the demo, conv2d -> max pool -> conv2d_transpose.

`demo_stages` is the reference TF2 computation: the same three ops as the
TF1 graph (`legacy_tf1.graph`), with shapes read at run time so that one
trace serves every batch and image size.
"""

import tensorflow as tf

from deconv_io.dumps import STAGES

__all__ = ["IMAGES_SPEC", "demo_stages", "upsample"]

#: The one input signature: any batch, any height and width, RGB float32.
IMAGES_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")


def upsample(pool, deconv_kernel):
    """conv2d_transpose stride 2 SAME to (N, 2h, 2w, out), from dynamic shapes."""
    shape = tf.shape(pool)
    output_shape = tf.stack([shape[0], 2 * shape[1], 2 * shape[2], tf.shape(deconv_kernel)[2]])
    return tf.nn.conv2d_transpose(pool, deconv_kernel, output_shape, strides=2, padding="SAME")


def demo_stages(images, conv_kernel, deconv_kernel):
    """Runs the demo's three ops and returns every stage.

    `conv1` = conv2d SAME stride 1, `pool` = max pool 2x2 stride 2 SAME,
    `output` = conv2d_transpose stride 2 SAME to `(N, 2*ceil(H/2),
    2*ceil(W/2), out)`. Shapes are read at run time, so one trace serves
    every batch and image size.

    Args:
        images: float32 `(N, H, W, C)`.
        conv_kernel: float32 `[k, k, C, F]` (the demo's `[3, 3, 3, 64]`).
        deconv_kernel: float32 `[k, k, out, F]`, `[k, k, out, in]` layout.

    Returns:
        A dict `{"conv1", "pool", "output"}` of float32 tensors.

    Example:
    >>> import numpy as np
    >>> s = demo_stages(np.ones((1, 5, 7, 3), np.float32),
    ...                 np.ones((3, 3, 3, 64), np.float32),
    ...                 np.ones((3, 3, 3, 64), np.float32))
    >>> [tuple(s[k].shape) for k in STAGES]
    [(1, 5, 7, 64), (1, 3, 4, 64), (1, 6, 8, 3)]
    """
    conv1 = tf.nn.conv2d(images, conv_kernel, strides=1, padding="SAME")
    pool = tf.nn.max_pool2d(conv1, ksize=2, strides=2, padding="SAME")
    return {"conv1": conv1, "pool": pool, "output": upsample(pool, deconv_kernel)}
