"""An independent float64 NumPy reference of the demo's three ops.

Written from the op definitions (TensorFlow's SAME padding rule), not from
either port, and importing neither (nor TensorFlow): the audit's third
witness, and the tests' too.

- SAME padding for a window k and stride s on a side of n: the output has
  ceil(n / s) positions and the total padding is
  max((ceil(n / s) - 1) * s + k - n, 0), split with the smaller half before.
- conv2d:  y[i, o] = sum_{d, c} x_pad[i * s + d, c] * w[d, c, o]
- max_pool: the max over each window, padding never selected (-inf).
- conv2d_transpose: the adjoint of conv2d from the output grid to the input
  grid: y[i * s + d - pad_before, o] += x[i, c] * w[d, o, c].
"""

import numpy as np


def same_padding(n, k, s):
    """Returns (out, pad_before, pad_after) of a SAME window on a side of n.

    Example: a 3-wide window at stride 2 on 7 positions gives 4 outputs and
    (4 - 1) * 2 + 3 - 7 = 2 padding, 1 on each side.

    >>> same_padding(7, 3, 2)
    (4, 1, 1)
    """
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def conv2d_same(x, w, stride=1):
    """conv2d, SAME padding. x: (N, H, W, C); w: (kh, kw, C, O). float64."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    oh, ph, _ = same_padding(h, kh, stride)
    ow, pw, _ = same_padding(wd, kw, stride)
    xp = np.zeros((n, h + kh + stride, wd + kw + stride, x.shape[3]))
    xp[:, ph:ph + h, pw:pw + wd] = x
    y = np.zeros((n, oh, ow, o))
    for di in range(kh):
        for dj in range(kw):
            window = xp[:, di:di + (oh - 1) * stride + 1:stride,
                        dj:dj + (ow - 1) * stride + 1:stride]
            y += np.einsum("nhwc,co->nhwo", window, w[di, dj])
    return y


def max_pool_same(x, k=2, stride=2):
    """max_pool, SAME padding. x: (N, H, W, C). float64."""
    x = np.asarray(x, np.float64)
    n, h, wd, c = x.shape
    oh, ph, _ = same_padding(h, k, stride)
    ow, pw, _ = same_padding(wd, k, stride)
    xp = np.full((n, h + k + stride, wd + k + stride, c), -np.inf)
    xp[:, ph:ph + h, pw:pw + wd] = x
    y = np.full((n, oh, ow, c), -np.inf)
    for di in range(k):
        for dj in range(k):
            window = xp[:, di:di + (oh - 1) * stride + 1:stride,
                        dj:dj + (ow - 1) * stride + 1:stride]
            y = np.maximum(y, window)
    return y


def conv2d_transpose_same(x, w, output_hw, stride=2):
    """conv2d_transpose, SAME padding. x: (N, h, w, C); w: (kh, kw, O, C)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, h, wd, _ = x.shape
    kh, kw, o, _ = w.shape
    out_h, out_w = output_hw
    in_h, ph, _ = same_padding(out_h, kh, stride)
    in_w, pw, _ = same_padding(out_w, kw, stride)
    if (in_h, in_w) != (h, wd):
        raise ValueError(f"output {output_hw} does not map to input {(h, wd)}")
    big = np.zeros((n, ph + (h - 1) * stride + kh + 1, pw + (wd - 1) * stride + kw + 1, o))
    for di in range(kh):
        for dj in range(kw):
            contrib = np.einsum("nhwc,oc->nhwo", x, w[di, dj])
            big[:, di:di + (h - 1) * stride + 1:stride,
                dj:dj + (wd - 1) * stride + 1:stride] += contrib
    return big[:, ph:ph + out_h, pw:pw + out_w]


def demo_stages(image, conv_kernel, deconv_kernel):
    """The whole demo in float64: returns {"conv1", "pool", "output"}.

    image: (N, H, W, 3); output is (N, 2 * ceil(H / 2), 2 * ceil(W / 2), 3).
    """
    conv1 = conv2d_same(image, conv_kernel)
    pool = max_pool_same(conv1)
    out_hw = (2 * pool.shape[1], 2 * pool.shape[2])
    output = conv2d_transpose_same(pool, deconv_kernel, out_hw)
    return {"conv1": conv1, "pool": pool, "output": output}


def bilinear_resize_matrix(n, factor):
    """float64 bilinear resize along one axis, half-pixel centres, edge clamped.

    Output j samples source coordinate (j + 0.5) / factor - 0.5, clamped to
    [0, n - 1] (tf.image.resize's rule), between its two nearest pixels.
    """
    j = np.arange(n * factor)
    s = np.clip((j + 0.5) / factor - 0.5, 0, n - 1)
    lo = np.floor(s).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    m = np.zeros((n * factor, n))
    np.add.at(m, (j, lo), 1 - (s - lo))
    np.add.at(m, (j, hi), s - lo)
    return m


def bilinear_resize(x, factor):
    """float64 bilinear upsampling of NHWC `x` by `factor` (tf.image.resize's rule)."""
    _, h, w, _ = x.shape
    return np.einsum("ih,nhwc,jw->nijc", bilinear_resize_matrix(h, factor), np.float64(x),
                     bilinear_resize_matrix(w, factor))
