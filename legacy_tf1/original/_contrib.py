"""`tf.contrib.layers` inside a shimmed TF1 script: the initializers it offers.

`tf.contrib` is gone in TensorFlow 2. `legacy_tf1.original.shim` gives a
script `tf.contrib.layers.xavier_initializer`, `xavier_initializer_conv2d`
and `variance_scaling_initializer` with their TF 1.x semantics, built here
from `tf.compat.v1` initializers, and stops with `UnsupportedContribError`,
naming it, at any other contrib name.
"""

import math
import types

from deconv_io.errors import InputError

__all__ = ["CONTRIB_LAYERS", "UnsupportedContribError", "contrib_variance_scaling_initializer",
           "contrib_xavier_initializer"]

_FAN_MODES = ("FAN_IN", "FAN_OUT", "FAN_AVG")


class UnsupportedContribError(InputError):
    """The script uses a `tf.contrib` name the shim does not provide."""


def _fans(shape):
    """Fan-in and fan-out as TF 1.x `tf.contrib.layers` computed them.

    The last two axes are (in, out); every earlier axis (the receptive
    field) multiplies both. A 1-D shape has fan-in = fan-out = its length.
    """
    shape = [int(d) for d in shape]
    if not shape:
        return 1.0, 1.0
    fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
    fan_out = float(shape[-1])
    for d in shape[:-2]:
        fan_in *= d
        fan_out *= d
    return fan_in, fan_out


def contrib_variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False, seed=None,
                                         dtype=None):
    """`tf.contrib.layers.variance_scaling_initializer` with TF 1.x semantics.

    `n` is fan-in, fan-out or their mean (`mode`). `uniform=True` draws
    `tf.random_uniform(-l, l)` with `l = sqrt(3 * factor / n)`;
    `uniform=False` draws `tf.truncated_normal(0, s)` with
    `s = sqrt(1.3 * factor / n)` (contrib's own correction for truncation at
    two standard deviations; `tf.compat.v1.variance_scaling_initializer`
    uses another constant, so it is not a drop-in replacement). Both ops are
    TensorFlow 1's, so graph seeds apply as they did.

    Args:
        factor: a multiplicative factor.
        mode: "FAN_IN", "FAN_OUT" or "FAN_AVG".
        uniform: uniform or truncated normal.
        seed: the op seed.
        dtype: a floating dtype (default float32).

    Returns:
        An initializer `(shape, dtype=..., partition_info=None) -> Tensor`.

    Raises:
        TypeError: a non-floating dtype or an unknown mode (as contrib did).

    Example:
    >>> init = contrib_variance_scaling_initializer(factor=1.0, mode="FAN_AVG", uniform=True)
    >>> callable(init)
    True
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    dtype = tf.as_dtype(dtype or tf.float32)
    if not dtype.is_floating:
        raise TypeError(f"Cannot create initializer for non-floating point type. Received: "
                        f"dtype={dtype.name}")
    if mode not in _FAN_MODES:
        raise TypeError(f"Unknown mode {mode!r}. Expected one of {list(_FAN_MODES)}")
    default_dtype = dtype

    def initializer(shape, dtype=default_dtype, partition_info=None):
        del partition_info  # contrib ignored it too
        dtype = tf.as_dtype(dtype or default_dtype)
        fan_in, fan_out = _fans(shape)
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[mode]
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return v1.random_uniform(shape, -limit, limit, dtype, seed=seed)
        stddev = math.sqrt(1.3 * factor / n)
        return v1.truncated_normal(shape, 0.0, stddev, dtype, seed=seed)

    return initializer


def contrib_xavier_initializer(uniform=True, seed=None, dtype=None):
    """`tf.contrib.layers.xavier_initializer`: variance scaling, factor 1, FAN_AVG.

    `uniform=True` (the default, the original's) is Glorot uniform,
    `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`; `uniform=False` a
    truncated normal with `s = sqrt(1.3 * 2 / (fan_in + fan_out))`.
    """
    return contrib_variance_scaling_initializer(factor=1.0, mode="FAN_AVG", uniform=uniform,
                                                seed=seed, dtype=dtype)


#: What `tf.contrib.layers` offers inside a shimmed script.
CONTRIB_LAYERS = {
    "xavier_initializer": contrib_xavier_initializer,
    "xavier_initializer_conv2d": contrib_xavier_initializer,
    "variance_scaling_initializer": contrib_variance_scaling_initializer,
}


def _unsupported(name):
    supported = ", ".join(f"tf.contrib.layers.{n}" for n in CONTRIB_LAYERS)
    return UnsupportedContribError(
        f"{name} is not supported: tf.contrib is gone in TensorFlow 2 and the shim provides "
        f"only {supported}"
    )


class _Namespace(types.ModuleType):
    """A stand-in module whose unknown attributes raise `UnsupportedContribError`."""

    def __init__(self, name, members):
        super().__init__(name)
        self.__dict__.update(members)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise _unsupported(f"{self.__name__}.{attr}")
