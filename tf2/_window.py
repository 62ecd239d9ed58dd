"""The window-conv output-only path: `output` from the conv channels it reads.

`demo_output` computes the `output` stage alone. It is the fast path's
`"window"` implementation (`tf2.fast_path`), the one chosen where oneDNN is
on: conv and max pool fused as one stride-2 conv over each 2x2 pool
window's positions, then a depthwise transposed conv.
"""

import tensorflow as tf

from tf2._full import upsample
from tf2.kernels import bilinear_kernel  # noqa: F401 (doctests)

__all__ = ["demo_output", "per_channel_sources", "read_channels"]


def read_channels(deconv_kernel):
    """Returns the input channels the deconv kernel reads, as int64 indices.

    Channel j is read when any `deconv_kernel[:, :, :, j]` is non-zero. An
    all-zero kernel reads nothing; channel 0 is returned then, so the ops
    downstream still see one channel (whose weights are all zero).

    Args:
        deconv_kernel: `[k, k, out, in]` tensor.

    Returns:
        A 1-D int64 tensor of increasing channel indices, never empty.

    Example:
    >>> read_channels(bilinear_kernel(3, 3, mode="fcn", in_channels=64)).numpy().tolist()
    [0, 1, 2]
    """
    nonzero = tf.reduce_any(tf.not_equal(deconv_kernel, 0), axis=[0, 1, 2])
    first = tf.equal(tf.range(tf.shape(nonzero)[0]), 0)
    keep = tf.logical_or(nonzero, tf.logical_and(first, tf.logical_not(tf.reduce_any(nonzero))))
    return tf.where(keep)[:, 0]


def per_channel_sources(deconv_kernel):
    """Where each output channel reads from, when each reads at most one channel.

    Args:
        deconv_kernel: `[k, k, out, in]` tensor.

    Returns:
        `(is_per_channel, sources)`: a scalar bool, true when every output
        channel reads at most one input channel (a diagonal kernel, up to a
        choice of channels: the bilinear one reads channel i for output i),
        and an `(out,)` int64 tensor of the channel each output reads (0 for
        an output that reads nothing; its weights are all zero).

    Example:
    >>> ok, src = per_channel_sources(bilinear_kernel(3, 3, mode="fcn", in_channels=64))
    >>> bool(ok), src.numpy().tolist()
    (True, [0, 1, 2])
    """
    reads = tf.reduce_any(tf.not_equal(deconv_kernel, 0), axis=[0, 1])  # (out, in)
    count = tf.reduce_sum(tf.cast(reads, tf.int32), axis=1)
    return tf.reduce_all(count <= 1), tf.argmax(tf.cast(reads, tf.int32), axis=1)


def _window_kernel(conv_kernel):
    """`[kh, kw, C, K]` -> `[kh + 1, kw + 1, C, 4K]`, the conv at a pool window's 4 positions.

    Output channel `4o + 2a + b` is `conv_kernel[..., o]` moved down `a`
    rows and right `b` columns (zeros elsewhere): a stride-2 conv with it
    gives, at pool position (i, j), conv1[2i + a, 2j + b, o].
    """
    shifted = [tf.pad(conv_kernel, [[a, 1 - a], [b, 1 - b], [0, 0], [0, 0]])
               for a in (0, 1) for b in (0, 1)]
    kernel = tf.stack(shifted, axis=-1)  # (kh + 1, kw + 1, C, K, 4)
    shape = tf.shape(kernel)
    return tf.reshape(kernel, [shape[0], shape[1], shape[2], 4 * shape[3]])


@tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                              tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.bool)],
             jit_compile=True, autograph=False)
def _max_of_groups_of_4(values, odd_height=False, odd_width=False):
    """`(N, P, Q, 4K)` -> `(N, P, Q, K)`: the max of each run of 4 channels (XLA).

    Channel `4o + 2a + b` holds conv1[2i + a, 2j + b, o] (`_window_kernel`).
    Below an odd height the last window's `a = 1` row lies outside the image,
    beside an odd width its `b = 1` column: SAME max pooling never selects
    those, so they count as -inf.
    """
    shape = tf.shape(values)
    groups = tf.reshape(values, [shape[0], shape[1], shape[2], shape[3] // 4, 4])
    position = tf.range(4)
    outside = tf.logical_or(
        tf.logical_and(odd_height, tf.logical_and(
            tf.equal(tf.range(shape[1]), shape[1] - 1)[:, None, None, None],
            tf.equal(position // 2, 1))),
        tf.logical_and(odd_width, tf.logical_and(
            tf.equal(tf.range(shape[2]), shape[2] - 1)[:, None, None],
            tf.equal(position % 2, 1))))  # (P, Q, 1, 4) by broadcasting
    groups = tf.where(outside, tf.constant(float("-inf")), groups)
    best = tf.maximum(tf.maximum(groups[..., 0], groups[..., 1]),
                      tf.maximum(groups[..., 2], groups[..., 3]))
    return best


def _conv_pool(images, conv_kernel):
    """max_pool2d(conv2d(images, conv_kernel)), 2x2 SAME windows, fused.

    One stride-2 conv computes every pool window's 4 conv values as channels
    (`_window_kernel`), then `_max_of_groups_of_4` takes their max: a
    3 -> 12 channel conv fills more of oneDNN's vector lanes than the
    3 -> 3 one, and `conv1` is never written. It sums the same
    non-zero products as conv2d (the others are exact zeros). For an odd
    kernel size k (the demo's 3), SAME padding of the (k + 1)-wide stride-2
    conv puts the conv's own (k - 1) / 2 rows of padding before the image for
    every image size; window positions past an odd last row or column are
    left out of the max, as SAME max pooling leaves them out. An even k would
    pad one row less than conv2d before odd-sized images, so even kernel
    sizes (or unknown ones) take conv2d and max_pool2d.
    """
    kh, kw = conv_kernel.shape[:2]
    if kh is None or kw is None or kh % 2 == 0 or kw % 2 == 0:
        conv1 = tf.nn.conv2d(images, conv_kernel, strides=1, padding="SAME")
        return tf.nn.max_pool2d(conv1, ksize=2, strides=2, padding="SAME")
    windows = tf.nn.conv2d(images, _window_kernel(conv_kernel), strides=2, padding="SAME")
    shape = tf.shape(images)
    return _max_of_groups_of_4(windows, tf.equal(shape[1] % 2, 1), tf.equal(shape[2] % 2, 1))


def _per_channel_output(images, conv_kernel, deconv_kernel, sources):
    """`output` when output channel o reads only conv channel `sources[o]`.

    conv2d and max pool run for those channels only (in output order, a
    channel read twice is computed twice; `_conv_pool`), then a depthwise
    transposed conv upsamples pool channel o into output channel o with the
    kernel `deconv_kernel[:, :, o, sources[o]]`: the gradient of a depthwise
    conv with respect to its input, which is that transposed conv per channel.
    """
    pool = _conv_pool(images, tf.gather(conv_kernel, sources, axis=3))
    out = tf.shape(deconv_kernel)[2]
    pairs = tf.stack([tf.range(out, dtype=tf.int64), sources], axis=1)
    taps = tf.gather_nd(tf.transpose(deconv_kernel, [2, 3, 0, 1]), pairs)  # (out, k, k)
    depthwise = tf.transpose(taps, [1, 2, 0])[:, :, :, tf.newaxis]  # (k, k, out, 1)
    shape = tf.shape(pool)
    return tf.nn.depthwise_conv2d_backprop_input(
        tf.stack([shape[0], 2 * shape[1], 2 * shape[2], out]), depthwise, pool,
        strides=[1, 2, 2, 1], padding="SAME")


def _read_channels_output(images, conv_kernel, deconv_kernel):
    """`output` from the conv channels the deconv kernel reads, any kernel."""
    channels = read_channels(deconv_kernel)
    conv_kernel = tf.gather(conv_kernel, channels, axis=3)
    deconv_kernel = tf.gather(deconv_kernel, channels, axis=3)
    conv1 = tf.nn.conv2d(images, conv_kernel, strides=1, padding="SAME")
    pool = tf.nn.max_pool2d(conv1, ksize=2, strides=2, padding="SAME")
    return upsample(pool, deconv_kernel)


def demo_output(images, conv_kernel, deconv_kernel):
    """Computes only the `output` stage, skipping the conv channels never read.

    `output` depends on conv channel j only through `deconv_kernel[..., j]`
    and max pooling is per channel, so only the read channels are computed.
    The form is chosen from the kernel *values* by TF ops on every call (new
    kernels never need a re-trace): per channel when each output channel
    reads at most one conv channel (the bilinear kernel; `_per_channel_output`),
    else the read channels through the full path's ops (`read_channels`;
    a dense kernel reads all of them and gives the full path bit for bit).

    The per-channel form sums the same non-zero products as
    `demo_stages(...)["output"]` in another order: the two agree within
    twice the derived rounding bound of `migration_audit.bounds`. Non-finite
    inputs are not handled as the full path handles them (inf * 0 = NaN
    reaches other pixels); use `demo_stages` for them.

    Args:
        images: float32 `(N, H, W, C)`.
        conv_kernel: float32 `[k, k, C, F]`.
        deconv_kernel: float32 `[k, k, out, F]`.

    Returns:
        The float32 `output`, `(N, 2*ceil(H/2), 2*ceil(W/2), out)`.

    Example:
    >>> import numpy as np
    >>> demo_output(np.ones((2, 5, 7, 3), np.float32), np.ones((3, 3, 3, 64), np.float32),
    ...             bilinear_kernel(3, 3, mode="fcn", in_channels=64)).shape
    TensorShape([2, 6, 8, 3])
    """
    images = tf.convert_to_tensor(images, tf.float32)
    conv_kernel = tf.convert_to_tensor(conv_kernel, tf.float32)
    deconv_kernel = tf.convert_to_tensor(deconv_kernel, tf.float32)
    is_per_channel, sources = per_channel_sources(deconv_kernel)
    return tf.cond(
        is_per_channel,
        lambda: _per_channel_output(images, conv_kernel, deconv_kernel, sources),
        lambda: _read_channels_output(images, conv_kernel, deconv_kernel))
