"""The compute floor: the pipeline's multiply-adds over this CPU's FMA rate.

The memory floor (`variants._MemoryFloor`) is the least data movement any
variant must do; this is the least arithmetic. Both are lower bounds of
the output-only path's time, so `tf2_fast / compute_floor` says how far
the fast path is from the CPU's arithmetic peak, as `tf2_fast /
memory_floor` says how far it is from a plain copy.
"""

import time

import numpy as np

__all__ = ["compute_floor", "measure_fma_rate", "multiply_adds", "read_pairs"]

#: The side of the square float32 matmul that measures the FMA rate: large
#: enough to run at peak (compute bound, cache-blocked), small enough to
#: take milliseconds.
MATMUL_SIDE = 1024


def multiply_adds(batch, height, width, conv_channels=64, deconv_pairs=64 * 3, taps=3,
                  in_channels=3):
    """The multiply-adds of conv2d (SAME, stride 1) then conv2d_transpose (stride 2).

    Counted from the shapes, with every tap of every kernel window (the
    zero padding's taps too, as the kernels compute them):

        conv   = N * H * W * taps**2 * in_channels * conv_channels
        deconv = N * ceil(H/2) * ceil(W/2) * taps**2 * deconv_pairs
        total  = conv + deconv

    conv2d computes `conv_channels` outputs per pixel, each a sum over a
    `taps x taps x in_channels` window. The max pool leaves ceil(H/2) x
    ceil(W/2) pixels (SAME, stride 2; comparisons, not multiply-adds); the
    transposed conv scatters each of them, per (input channel, output
    channel) pair it multiplies, through `taps x taps` kernel taps.

    The full pipeline (`tf1_session`, `tf2_function`) computes all 64 conv
    channels and multiplies all 64 x 3 channel pairs: the defaults. The
    output-only path computes only the conv channels the deconv kernel
    reads, and multiplies only its nonzero channel pairs (`read_pairs`).

    Args:
        batch, height, width: the input's N, H, W.
        conv_channels: conv output channels computed.
        deconv_pairs: (input, output) channel pairs the transposed conv multiplies.
        taps: the kernels' side (3).
        in_channels: the image's channels (3).

    Returns:
        The count, an int.

    Example:
    >>> multiply_adds(1, 3, 2)  # 6*27*64 + 2*9*192
    13824
    """
    pooled = batch * -(-height // 2) * -(-width // 2)
    conv = batch * height * width * taps * taps * in_channels * conv_channels
    return conv + pooled * taps * taps * deconv_pairs


def read_pairs(deconv_kernel):
    """`(channels read, channel pairs multiplied)` by a deconv kernel `[h, w, out, in]`.

    A conv channel is read when any of its taps is nonzero; a pair (input,
    output) is multiplied when any of its taps is nonzero. The FCN bilinear
    kernel maps channel i to output i only: 3 channels, 3 pairs.

    Example:
    >>> k = np.zeros((3, 3, 3, 64), np.float32); k[1, 1, 0, 5] = k[0, 0, 2, 5] = 1
    >>> read_pairs(k)
    (1, 2)
    """
    nonzero = np.any(np.asarray(deconv_kernel) != 0, axis=(0, 1))  # [out, in]
    return int(nonzero.any(axis=0).sum()), int(nonzero.sum())


def _best_seconds(call, repeats):
    for _ in range(2):
        call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def measure_fma_rate(side=MATMUL_SIDE, repeats=10):
    """This CPU's float32 FMA throughput, from square matmuls timed here and now.

    A `side x side` by `side x side` product is `side**3` multiply-adds. Both
    `tf.linalg.matmul` (in the running configuration: oneDNN on or off run
    different GEMMs) and NumPy's BLAS are timed; for each the fastest of
    `repeats` calls (after two warm-up calls) is taken, since interference
    only ever slows a call down, and the faster library gives the rate: the
    floor is what the CPU can do, whichever library reaches it.

    Returns:
        `{"gfma_per_s", "side", "repeats", "best_s", "library", "by_library"}`:
        the rate, the fastest call and its library, and each library's rate.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((side, side), dtype=np.float32) for _ in "ab")
    ta, tb = tf.constant(a), tf.constant(b)
    matmul = tf.function(tf.linalg.matmul)
    seconds = {"tf.linalg.matmul": _best_seconds(lambda: matmul(ta, tb).numpy(), repeats),
               "numpy.matmul": _best_seconds(lambda: np.matmul(a, b), repeats)}
    library = min(seconds, key=seconds.get)
    return {"gfma_per_s": side ** 3 / seconds[library] / 1e9, "side": side, "repeats": repeats,
            "best_s": seconds[library], "library": library,
            "by_library": {k: side ** 3 / v / 1e9 for k, v in seconds.items()}}


def compute_floor(batch, height, width, deconv_kernel, gfma_per_s):
    """The compute floors of one size: multiply-adds and milliseconds at `gfma_per_s`.

    Returns:
        `{"multiply_adds_output_only", "multiply_adds_full", "compute_floor_ms",
        "compute_floor_full_ms"}`: the output-only path's count (the floor
        every variant's ratio is taken against) and the full pipeline's.
    """
    channels, pairs = read_pairs(deconv_kernel)
    fast = multiply_adds(batch, height, width, channels, pairs)
    full = multiply_adds(batch, height, width)
    return {"multiply_adds_output_only": fast, "multiply_adds_full": full,
            "compute_floor_ms": fast / gfma_per_s / 1e6,
            "compute_floor_full_ms": full / gfma_per_s / 1e6}
