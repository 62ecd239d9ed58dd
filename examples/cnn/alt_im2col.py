"""A correct CNN port by another algorithm: im2col in NumPy, no convolution op.

Each convolution gathers its SAME-padded patches into rows and multiplies by
the kernel as a matrix; the transposed convolution scatters each input
pixel's kernel-weighted contribution into the output (col2im). Max pooling is
a maximum over the same patches.
"""
import numpy as np


def _same_pads(size, kernel, stride):
    """TF's SAME padding: (before, after, output size) along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def _patches(x, kernel, stride, fill=0.0):
    """[batch, out_h, out_w, kernel, kernel, channels] SAME patches of `x`."""
    n, h, w, c = x.shape
    top, bottom, oh = _same_pads(h, kernel, stride)
    left, right, ow = _same_pads(w, kernel, stride)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    rows = np.arange(oh)[:, None] * stride + np.arange(kernel)[None, :]
    cols = np.arange(ow)[:, None] * stride + np.arange(kernel)[None, :]
    return padded[:, rows[:, None, :, None], cols[None, :, None, :], :]


def conv2d(x, w, b, stride):
    k, _, cin, cout = w.shape
    patches = _patches(x, k, stride)
    n, oh, ow = patches.shape[:3]
    return (patches.reshape(n * oh * ow, k * k * cin) @ w.reshape(k * k * cin, cout)
            ).reshape(n, oh, ow, cout) + b


def conv2d_transpose(x, w, b, stride, out_h, out_w):
    k, _, cout, cin = w.shape
    n, h, wd, _ = x.shape
    top, _, _ = _same_pads(out_h, k, stride)
    left, _, _ = _same_pads(out_w, k, stride)
    # Scatter: input pixel (i, j) adds x[i, j] @ w[di, dj].T at (i*stride + di - top, ...).
    full = np.zeros((n, (h - 1) * stride + k, (wd - 1) * stride + k, cout), x.dtype)
    cols = x.reshape(n * h * wd, cin) @ w.reshape(k * k * cout, cin).T  # col matrix
    cols = cols.reshape(n, h, wd, k, k, cout)
    for di in range(k):
        for dj in range(k):
            full[:, di:di + h * stride:stride, dj:dj + wd * stride:stride] += cols[:, :, :, di, dj]
    return full[:, top:top + out_h, left:left + out_w] + b


def port(inputs, variables):
    v = {key: np.asarray(a) for key, a in variables.items()}
    x = np.asarray(inputs["x"])
    c1 = np.maximum(conv2d(x, v["conv1/w"], v["conv1/b"], 2), 0)
    p = _patches(c1, 2, 2, fill=-np.inf).max(axis=(3, 4))
    c2 = np.maximum(conv2d(p, v["conv2/w"], v["conv2/b"], 1), 0)
    out = conv2d_transpose(c2, v["deconv/w"], v["deconv/b"], 2, 2 * c2.shape[1], 2 * c2.shape[2])
    return {"conv1/relu": c1, "pool": p, "conv2/relu": c2, "deconv/output": out}
