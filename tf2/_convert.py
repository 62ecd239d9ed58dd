"""NumPy <-> TensorFlow without copies, for the tiled runner and the benchmark."""

import numpy as np
import tensorflow as tf

from deconv_io.memory import ALIGNMENT, aligned_empty

__all__ = ["as_numpy", "as_tensor"]


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

