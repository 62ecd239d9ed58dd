"""The parity-split output-only path: `output` by three fused XLA kernels.

`demo_output_xla` is the fast path's `"parity"` implementation
(`tf2.fast_path`), the one chosen where oneDNN is off (Eigen): it computes
what `tf2._window.demo_output` computes from planar, parity-split copies
of the image, with no oneDNN op.
"""

import numpy as np
import tensorflow as tf

from tf2._convert import as_tensor
from tf2.kernels import bilinear_kernel  # noqa: F401 (doctests)

__all__ = ["demo_output_xla"]


# oneDNN's conv2d with 3 input and 3 output channels fills a 16-lane vector
# with 3 useful channels. `demo_output` sidesteps that with a 3 -> 12 channel
# stride-2 conv (`_conv_pool`); the three XLA kernels below take the other
# way out, computing the same `output` from planar, parity-split data, where
# XLA vectorises along image rows:
#   1. `_parity_planes`: pad, split rows and columns by parity, channels
#      first: planes[n, c, py, px, i, j] = padded[n, 2i + py, 2j + px, c],
#      with 4 zero rows and columns before the image;
#   2. `_conv_pool_parity`: conv2d at the 4 positions of each 2x2 pooling
#      window (27 products each, unit-stride reads of the parity planes) and
#      their max: the pool stage, planar, written with one zero row and
#      column before it (N, K, P + 1, Q + 1), the padding step 3 needs, so
#      that no separate pad pass runs;
#   3. `_upsample_parity`: the stride-2 transposed conv as 4 parity outputs
#      (output row 2i + a reads pool row i, and row i - 1 when a = 0),
#      interleaved into NHWC.
# The read channels are picked in NumPy from the kernels' values (7 KB),
# which costs a small fraction of the eager ops that would do it.


def _parity_planes(images):
    n, h, w, c = images.shape
    p, q = -(-h // 2), -(-w // 2)
    # Four zero rows/columns before: conv's one of SAME padding, one so that
    # parities keep their meaning, two for the zero row/column that step 2
    # writes before the pool. Enough after for every window.
    padded = tf.pad(images, [[0, 0], [4, 2 * p + 2 - h], [4, 2 * q + 2 - w], [0, 0]])
    planes = tf.reshape(padded, [n, p + 3, 2, q + 3, 2, c])
    return tf.transpose(planes, [0, 5, 2, 4, 1, 3])


def _conv_pool_parity(planes, conv_kernel, height, width):
    _, channels, _, _, p3, q3 = planes.shape
    p1, q1 = p3 - 2, q3 - 2  # pool rows/columns plus the zero one before
    # Padded pool row r holds pool row r - 1: conv rows 2r - 2 + a.
    rows = tf.range(p1)[:, None] * 2 - 2
    cols = tf.range(q1)[None, :] * 2 - 2
    before = (rows < 0) | (cols < 0)
    pooled = []
    for o in range(conv_kernel.shape[3]):
        best = None
        for a in range(2):
            for b in range(2):
                # conv1[2i + a, 2j + b] reads padded image rows 2i + a + dy + 3,
                # plane rows (i + 1) + (a + dy + 1) // 2.
                acc = None
                for c in range(channels):
                    for dy in range(3):
                        for dx in range(3):
                            ry, rx = a + dy + 1, b + dx + 1
                            term = (planes[:, c, ry % 2, rx % 2, ry // 2:ry // 2 + p1,
                                           rx // 2:rx // 2 + q1] * conv_kernel[dy, dx, c, o])
                            acc = term if acc is None else acc + term
                if (a and height % 2) or (b and width % 2):
                    # SAME pooling never selects its padding.
                    inside = (rows + a < height) & (cols + b < width)
                    acc = tf.where(inside[None], acc, float("-inf"))
                best = acc if best is None else tf.maximum(best, acc)
        pooled.append(tf.where(before[None], 0.0, best))
    return tf.stack(pooled, axis=1)


def _upsample_parity(padded, deconv_kernel):
    n, channels, p1, q1 = padded.shape
    p, q = p1 - 1, q1 - 1
    rows = []
    for a in range(2):
        cols = []
        for b in range(2):
            # (offset into the padded pool, kernel tap): tap d = a from pool
            # row i, and d = 2 from pool row i - 1 when a = 0.
            taps_y = [(1, a)] + ([(0, 2)] if a == 0 else [])
            taps_x = [(1, b)] + ([(0, 2)] if b == 0 else [])
            acc = None
            for ey, dy in taps_y:
                for ex, dx in taps_x:
                    for c in range(channels):
                        term = (padded[:, c, ey:ey + p, ex:ex + q, None]
                                * deconv_kernel[dy, dx, :, c])
                        acc = term if acc is None else acc + term
            cols.append(acc)
        rows.append(tf.stack(cols, axis=3))
    return tf.reshape(tf.stack(rows, axis=2), [n, 2 * p, 2 * q, deconv_kernel.shape[2]])


# Compiled once per input shape (and read-channel count); three kernels, as
# one XLA cluster would recompute the conv inside every consumer of the pool.
# Plain Python loops over static ranges: no AutoGraph conversion needed.
def _per_shape_function(python_function):
    """`tf.function(jit_compile=True)` of a static-shape kernel: one trace per shape.

    The loops and slices above need every extent as a Python int, so each
    input shape is one trace and one XLA compile, by design: the callers
    bound the shapes (`tf2.fast_path` caches its choice per shape, and a
    tiled run has a few crop shapes per tile size: the first, inner, last
    and partial rows times the same columns, whatever the image's size). TensorFlow's
    frequent-retracing detector would log a warning on stderr for those
    planned traces (it counts traces among the last calls, not distinct
    shapes); it is told not to, for these three functions only.
    """
    function = tf.function(python_function, jit_compile=True, autograph=False)
    function._omit_frequent_tracing_warning = True  # noqa: SLF001 - see above
    return function


_parity_planes_xla = _per_shape_function(_parity_planes)
_conv_pool_parity_xla = _per_shape_function(_conv_pool_parity)
_upsample_parity_xla = _per_shape_function(_upsample_parity)


def _read_kernels(conv_kernel, deconv_kernel):
    """The kernels' read channels, as NumPy (what `read_channels` selects)."""
    conv_kernel = np.asarray(conv_kernel, np.float32)
    deconv_kernel = np.asarray(deconv_kernel, np.float32)
    channels = np.flatnonzero(np.any(deconv_kernel != 0, axis=(0, 1, 2)))
    if not channels.size:  # nothing read: one all-zero channel, as read_channels
        channels = np.zeros(1, np.int64)
    return conv_kernel[..., channels], deconv_kernel[..., channels]


def demo_output_xla(images, conv_kernel, deconv_kernel):
    """The `output` stage by three fused XLA kernels on parity-split planes.

    Computes what `demo_output` computes (only the conv channels the deconv
    kernel reads), but from planar, parity-split copies of the image, with
    no oneDNN op: where oneDNN is off it is the faster of the two, which is
    why `DeconvDemo.fast_path` measures both (figures in docs/performance.md).
    The channels are selected in NumPy on every call, so each input shape
    and read-channel count is traced and compiled once; it suits repeated
    batches of one size, not one-off sizes such as tiles.

    Exactness: the float32 sums are ordered differently from TF's conv ops,
    so the result agrees with `demo_output` and `demo_stages` within the
    derived rounding bound of `migration_audit.bounds`, not bit for bit.

    Args:
        images: float32 `(N, H, W, C)` (a tensor or an array).
        conv_kernel: float32 `[3, 3, C, F]` (an array, tensor or variable).
        deconv_kernel: float32 `[3, 3, out, F]`.

    Returns:
        The float32 `output`, `(N, 2*ceil(H/2), 2*ceil(W/2), out)`.

    Example:
    >>> demo_output_xla(np.ones((2, 5, 7, 3), np.float32), np.ones((3, 3, 3, 64), np.float32),
    ...                 bilinear_kernel(3, 3, mode="fcn", in_channels=64)).shape
    TensorShape([2, 6, 8, 3])
    """
    images = as_tensor(images)
    conv_kernel, deconv_kernel = _read_kernels(conv_kernel, deconv_kernel)
    _, height, width, _ = images.shape
    pool = _conv_pool_parity_xla(_parity_planes_xla(images), conv_kernel, height, width)
    return _upsample_parity_xla(pool, deconv_kernel)

