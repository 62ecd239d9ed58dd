"""The original demo as a TF2 `tf.Module`: conv2d -> max pool -> conv2d_transpose.

The math lives in two pure functions, `demo_stages` (every stage) and
`demo_output` (the `output` stage only, computing just the conv channels the
deconv kernel reads). `DeconvDemo` holds the two kernels as variables and
runs those functions eagerly, as `tf.function`s traced once for every batch
and image size, or compiled with XLA.

Differences from the original (see MIGRATION.md):

- The image is an input, not a `tf.Variable`: the original made the image a
  trainable global variable, so it was initialised, trained and checkpointed
  beside the kernels. Here only `conv_kernel` and `deconv_kernel` are
  variables.
- Any batch and any image size work (the original reshaped to a hard-coded
  `[1, 750, 500, 3]`); the output is `(N, 2*ceil(H/2), 2*ceil(W/2), 3)`.
- `output` is 4-D, batch first; the original's transpose/squeeze/transpose
  chain (which is `output[0]` for batch 1 and breaks for batch > 1) is left
  to the caller (`output[0]`).
"""

import numpy as np
import tensorflow as tf

from deconv_io.memory import ALIGNMENT, aligned_empty
from deconv_io.weights import KERNEL_SHAPE, validate_kernel
from tf2.fast_path import FastPath, forced_from_environment
from tf2.kernels import bilinear_kernel, glorot_uniform

__all__ = ["DeconvDemo", "IMAGES_SPEC", "STAGES", "aligned_empty", "as_numpy", "as_tensor",
           "demo_output", "demo_output_xla", "demo_stages", "per_channel_sources",
           "read_channels"]

#: Stage names, in pipeline order (the keys of `demo_stages`).
STAGES = ("conv1", "pool", "output")

#: The one input signature: any batch, any height and width, RGB float32.
IMAGES_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")

_MODES = ("eager", "function", "xla")


def _upsample(pool, deconv_kernel):
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
    return {"conv1": conv1, "pool": pool, "output": _upsample(pool, deconv_kernel)}


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
    (`_window_kernel`), then `_max_of_groups_of_4` takes their max: oneDNN
    runs a 3 -> 12 channel conv far faster than the 3 -> 3 one (it fills
    more vector lanes), and `conv1` is never written. It sums the same
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
    return _upsample(pool, deconv_kernel)


def demo_output(images, conv_kernel, deconv_kernel):
    """Computes only the `output` stage, skipping the conv channels never read.

    `output` depends on conv channel j only through `deconv_kernel[..., j]`,
    and max pooling is per channel, so conv2d and max pool are run only for
    the channels the deconv kernel reads. Two forms, chosen from the kernel
    *values* with TF ops on every call (assigning new kernels never needs a
    re-trace):

    - per channel, when every output channel reads at most one conv channel
      (the demo's bilinear kernel: output i reads channel i): those channels'
      conv and pool (one stride-2 conv computing each pool window's 4 conv
      values, then their max, for odd kernel sizes; `_conv_pool`), then a
      depthwise transposed conv, O(out) work in all three ops
      (`per_channel_sources`);
    - otherwise the read channels (`read_channels`) with the same
      conv2d_transpose op as the full path; a dense kernel selects every
      channel, and then this is the full computation, bit for bit.

    With the bilinear kernel 3 of 64 channels are read: about 6x less work.
    The first call at each new size compiles the small XLA kernel of the
    window max (tens of ms); nothing is re-traced.

    Exactness (finite inputs): the same non-zero products as
    `demo_stages(...)["output"]`, summed by other ops (the window conv adds
    exact zeros; the depthwise transposed conv sums 3 channels, not 64), so
    in another order: the two agree within twice the derived rounding bound
    of `migration_audit.bounds`, not bit for bit (exactly in integer
    arithmetic). A dense kernel takes the full path's ops: bit-identical.
    Non-finite inputs are not handled as the full path handles them
    (inf * 0 = NaN reaches other pixels); use `demo_stages` for them.

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


# --- the fused XLA fast path --------------------------------------------------
#
# oneDNN's conv2d with 3 input and 3 output channels fills a 16-lane vector
# with 3 useful channels. `demo_output` sidesteps that with a 3 -> 12 channel
# stride-2 conv (`_conv_pool`); the three XLA kernels below take the other
# way out, computing the same `output` from planar, parity-split data, where
# XLA vectorises along image rows (measured slower than `demo_output` now:
# the parity split alone costs 1.7x a copy of the image):
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
_parity_planes_xla = tf.function(_parity_planes, jit_compile=True, autograph=False)
_conv_pool_parity_xla = tf.function(_conv_pool_parity, jit_compile=True, autograph=False)
_upsample_parity_xla = tf.function(_upsample_parity, jit_compile=True, autograph=False)


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
    why `DeconvDemo.fast_path` measures both (figures in README).
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


# --- zero-copy NumPy <-> TensorFlow ------------------------------------------

def as_tensor(images):
    """A tensor of `images`, sharing the array's memory when it can.

    A float32, C-contiguous NumPy array whose data is 64-byte aligned (see
    `aligned_empty`) is wrapped without a copy through DLPack; anything else
    goes through `tf.convert_to_tensor` (a copy: TF's kernels would abort
    on a misaligned buffer). The array must not be written while the tensor
    is in use.

    Example:
    >>> x = aligned_empty((1, 2, 2, 3)); x[...] = 1
    >>> float(tf.reduce_sum(as_tensor(x)))
    12.0
    """
    if (isinstance(images, np.ndarray) and images.dtype == np.float32
            and images.flags.c_contiguous and images.ctypes.data % ALIGNMENT == 0
            and images.size):
        return tf.experimental.dlpack.from_dlpack(images.__dlpack__())
    return tf.convert_to_tensor(images)


def as_numpy(tensor):
    """A read-only NumPy view of a CPU tensor, without the copy `.numpy()` makes.

    `np.asarray(memoryview(t))`, as TensorFlow's `Tensor.numpy` docstring
    advises; the view keeps the tensor's buffer alive.

    Example:
    >>> as_numpy(tf.ones([2])).tolist()
    [1.0, 1.0]
    """
    return np.asarray(memoryview(tensor))


def _kernel_value(name, value):
    """A kernel given as an array or tensor, validated as float32 [3, 3, 3, 64]."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    return validate_kernel(name, np.asarray(value), KERNEL_SHAPE)


class DeconvDemo(tf.Module):
    """The original demo's two kernels and its pipeline, in TF2.

    `conv_kernel` `[3, 3, 3, 64]` is drawn Glorot (Xavier) uniform in
    `__init__`, as the original's `tf.contrib.layers.xavier_initializer()`.
    The global seed (`tf.random.set_seed`) and `DeterministicRandomTestTool`
    govern that draw. Under the tool it equals TF1's `get_variable` draw bit
    for bit; a global seed N does not give TF1's `set_random_seed(N)` draw,
    as graph and eager mode derive op seeds differently (MIGRATION.md,
    pitfall 5). `deconv_kernel` `[3, 3, 3, 64]` is the original's bilinear
    filter, `bilinear_kernel(3, 3, mode="fcn", in_channels=64)`, its
    asymmetric `[0.25, 0.75, 0.75]` taps kept.

    The image is an input, not a variable: the original's `tf.Variable`
    image (trainable, in every checkpoint) was a quirk, fixed here.

    Ways to run the same math:

    - `stages(images)`: every stage, a `tf.function` traced once for any
      batch and size (input signature `[None, None, None, 3]` float32).
    - `fast_path(images)`: the `output` stage alone (only the conv channels
      the deconv kernel reads), by whichever of `output` and `output_xla`
      was measured faster for that input shape here (`tf2.fast_path`);
      `fast_path.choices` shows the choices, `DeconvDemo(fast_path=...)`
      or `DECONV_FAST_PATH` forces one.
    - `output(images)`: the `output` stage alone by `demo_output`
      (TensorFlow's conv ops), a `tf.function` traced once.
    - `output_xla(images)`: the same by three fused XLA kernels
      (`demo_output_xla`), compiled per input shape.
    - `stages_xla(images)`: `stages` compiled with XLA (`jit_compile=True`).
    - `stages_eager(images)` / `output_eager(images)`: no `tf.function`.
    - `demo(images, stages="all" | "output", mode="function" | "eager" |
      "xla")` picks one and accepts any array-like input (`stages="output"`
      runs `fast_path`, or `output_eager` with `mode="eager"`).

    Args:
        seed: op-level seed of the Glorot draw (`None`: the global seed, as
            the original, which set none).
        conv_kernel: optional float32 `[3, 3, 3, 64]` to use instead.
        deconv_kernel: optional float32 `[3, 3, 3, 64]` to use instead.
        fast_path: `"auto"` (measure per input shape), `"window"` or
            `"xla"`; None reads `DECONV_FAST_PATH` (default `auto`).
        name: module name.

    Raises:
        deconv_io.InputError: a given kernel has the wrong dtype, shape or
            non-finite values.
        ValueError: `fast_path` (or `DECONV_FAST_PATH`) names no
            implementation.

    Example:
    >>> demo = DeconvDemo(seed=1)
    >>> demo(tf.ones([2, 7, 5, 3]))["output"].shape
    TensorShape([2, 8, 6, 3])
    """

    def __init__(self, seed=None, conv_kernel=None, deconv_kernel=None, fast_path=None,
                 name=None):
        super().__init__(name=name)
        forced = forced_from_environment() if fast_path is None else (
            None if fast_path == "auto" else fast_path)
        self.fast_path = FastPath({"window": self.output, "xla": self.output_xla}, forced)
        if conv_kernel is None:
            conv_value = glorot_uniform(KERNEL_SHAPE, seed=seed, dtype=tf.float32)
        else:
            conv_value = _kernel_value("conv_kernel", conv_kernel)
        if deconv_kernel is None:
            deconv_value = bilinear_kernel(3, 3, mode="fcn", in_channels=KERNEL_SHAPE[3])
        else:
            deconv_value = _kernel_value("deconv_kernel", deconv_kernel)
        with self.name_scope:
            self.conv_kernel = tf.Variable(conv_value, name="conv_kernel")
            self.deconv_kernel = tf.Variable(deconv_value, name="deconv_kernel")

    def set_kernels(self, conv_kernel=None, deconv_kernel=None):
        """Validates and assigns new kernel values (either or both).

        Both are checked before either is assigned, so a bad one changes
        nothing. No re-trace follows: the traced functions read the
        variables, and the fast path picks its channels from their values
        on each call.

        Args:
            conv_kernel: float32 `[3, 3, 3, 64]`, or None to keep it.
            deconv_kernel: float32 `[3, 3, 3, 64]`, or None to keep it.

        Raises:
            deconv_io.InputError: wrong dtype (anything but float32), shape,
                or NaN/Inf values.

        Example:
        >>> demo = DeconvDemo(seed=1)
        >>> demo.set_kernels(deconv_kernel=np.zeros((3, 3, 3, 64), np.float32))
        >>> float(tf.reduce_max(demo.output(tf.ones([1, 4, 4, 3]))))
        0.0
        """
        new = {}
        if conv_kernel is not None:
            new["conv_kernel"] = _kernel_value("conv_kernel", conv_kernel)
        if deconv_kernel is not None:
            new["deconv_kernel"] = _kernel_value("deconv_kernel", deconv_kernel)
        for name, value in new.items():
            getattr(self, name).assign(value)

    @tf.function(input_signature=[IMAGES_SPEC])
    def stages(self, images):
        """Returns every stage `{"conv1", "pool", "output"}` (a `tf.function`)."""
        return demo_stages(images, self.conv_kernel, self.deconv_kernel)

    @tf.function(input_signature=[IMAGES_SPEC])
    def output(self, images):
        """Returns the `output` stage by the fast path `demo_output` (a `tf.function`)."""
        return demo_output(images, self.conv_kernel, self.deconv_kernel)

    @tf.function(input_signature=[IMAGES_SPEC], jit_compile=True)
    def stages_xla(self, images):
        """`stages` compiled with XLA; one trace, one XLA compile per input shape.

        XLA fuses and reorders float32 sums, so it differs from `stages` by
        rounding (about 1e-7 relative); the fast path is not offered under
        XLA, whose shapes must be static (its channel count is data-dependent).
        """
        return demo_stages(images, self.conv_kernel, self.deconv_kernel)

    def output_xla(self, images):
        """The `output` stage by `demo_output_xla` (fused XLA, compiled per shape)."""
        return demo_output_xla(images, self.conv_kernel, self.deconv_kernel)

    def stages_eager(self, images):
        """`stages` without `tf.function`, op by op."""
        return demo_stages(images, self.conv_kernel, self.deconv_kernel)

    def output_eager(self, images):
        """`output` without `tf.function`, op by op."""
        return demo_output(images, self.conv_kernel, self.deconv_kernel)

    def __call__(self, images, stages="all", mode="function"):
        """Runs the demo on a batch of RGB images.

        Args:
            images: array-like `(N, H, W, 3)`, any real dtype (cast to float32,
                as the original's `tf.Variable(images, dtype=tf.float32)`).
            stages: `"all"` for the dict of every stage, `"output"` for the
                output tensor alone (by the fast path).
            mode: `"function"` (traced once), `"eager"`, or `"xla"` (only
                with `stages="all"`).

        Returns:
            A dict `{"conv1", "pool", "output"}`, or the `output` tensor.

        Raises:
            ValueError: bad `stages` or `mode`, or images not `(N, H, W, 3)`
                with H, W >= 1.
        """
        if stages not in ("all", "output"):
            raise ValueError(
                "Invalid value for argument `stages`. Expected 'all' or 'output'. "
                f"Received: stages={stages!r}"
            )
        if mode not in _MODES:
            raise ValueError(
                f"Invalid value for argument `mode`. Expected one of {list(_MODES)}. "
                f"Received: mode={mode!r}"
            )
        if mode == "xla" and stages == "output":
            raise ValueError(
                "Invalid value for argument `mode`. The fast output path selects its "
                "channels at run time, which XLA cannot compile; use mode='xla' with "
                "stages='all', or `output_xla(images)` (XLA kernels compiled per shape and "
                "read-channel count). Received: mode='xla', stages='output'"
            )
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.float32:
            images = tf.cast(images, tf.float32)
        shape = images.shape
        if shape.rank != 4 or shape[3] != 3 or 0 in shape[1:3]:
            raise ValueError(
                "Invalid value for argument `images`. Expected shape (N, H, W, 3) with "
                f"H, W >= 1. Received: images.shape={tuple(shape)}"
            )
        if stages == "output":
            return self.output_eager(images) if mode == "eager" else self.fast_path(images)
        if mode == "eager":
            return self.stages_eager(images)
        return self.stages_xla(images) if mode == "xla" else self.stages(images)
