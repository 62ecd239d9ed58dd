"""`tf.contrib.layers` inside a shimmed TF1 script: the initializers it offers.

`tf.contrib` is gone in TensorFlow 2. `legacy_tf1.original.shim` gives a
script `tf.contrib.layers.xavier_initializer`, `xavier_initializer_conv2d`,
`variance_scaling_initializer`, `l2_regularizer`, `flatten` and
`fully_connected` with their TF 1.x semantics, built here from
`tf.compat.v1` ops, and stops with `UnsupportedContribError`, naming it, at
any other contrib name.
"""

import math
import types

from deconv_io.errors import InputError

__all__ = ["CONTRIB_LAYERS", "UnsupportedContribError", "contrib_flatten",
           "contrib_fully_connected", "contrib_l2_regularizer",
           "contrib_variance_scaling_initializer", "contrib_xavier_initializer"]

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


def contrib_l2_regularizer(scale, scope=None):
    """`tf.contrib.layers.l2_regularizer`: `weights -> scale * sum(weights**2) / 2`.

    As TF 1.x: an int or negative `scale` is a `ValueError`; `scale == 0`
    gives a regularizer that returns None (no loss term); the loss op is
    named after `scope` (default "l2_regularizer").
    """
    import numbers

    import tensorflow as tf

    if isinstance(scale, numbers.Integral):
        raise ValueError(f"scale cannot be an integer: {scale}")
    if isinstance(scale, numbers.Real):
        if scale < 0.0:
            raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale}")
        if scale == 0.0:
            return lambda weights: None

    def l2(weights):
        with tf.compat.v1.name_scope(scope, "l2_regularizer", [weights]) as name:
            factor = tf.convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
            return tf.multiply(factor, tf.nn.l2_loss(weights), name=name)

    return l2


def contrib_flatten(inputs, outputs_collections=None, scope=None):
    """`tf.contrib.layers.flatten`: `(N, ...)` -> `(N, prod(...))`, the batch axis kept."""
    import tensorflow as tf

    del outputs_collections  # a collection for summaries; nothing reads it here
    with tf.compat.v1.name_scope(scope, "Flatten", [inputs]):
        inputs = tf.convert_to_tensor(inputs)
        if inputs.shape.rank is not None and inputs.shape.rank < 2:
            raise ValueError(f"Inputs must have a least 2 dimensions. Received: {inputs.shape}")
        outputs = tf.reshape(inputs, tf.stack([tf.shape(inputs)[0], -1]))
        inner = inputs.shape[1:]
        size = inner.num_elements() if inner.is_fully_defined() else None
        outputs.set_shape([inputs.shape[0], size])
        return outputs


def contrib_fully_connected(inputs, num_outputs, activation_fn="relu", weights_initializer=None,
                            weights_regularizer=None, biases_initializer="zeros",
                            biases_regularizer=None, trainable=True, scope=None, reuse=None,
                            **unsupported):
    """`tf.contrib.layers.fully_connected` with TF 1.x's defaults and variable names.

    `activation(inputs @ weights + biases)` over the last axis, with
    variables `<scope>/weights` (Xavier uniform) and `<scope>/biases`
    (zeros), scope "fully_connected" by default; `activation_fn` ReLU by
    default (None: linear); `biases_initializer=None`: no biases.
    Regularizer losses go to `tf.GraphKeys.REGULARIZATION_LOSSES`.

    Raises:
        UnsupportedContribError: `normalizer_fn` and contrib's other
            arguments (use `tf.layers.dense` and `tf.layers.batch_normalization`).
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        raise UnsupportedContribError(
            f"tf.contrib.layers.fully_connected({', '.join(given)}=...) is not supported: use "
            "tf.layers.dense and tf.layers.batch_normalization")
    activation_fn = tf.nn.relu if activation_fn == "relu" else activation_fn
    biases_initializer = (v1.zeros_initializer() if biases_initializer == "zeros"
                          else biases_initializer)
    with v1.variable_scope(scope, "fully_connected", [inputs], reuse=reuse):
        inputs = tf.convert_to_tensor(inputs)
        weights = v1.get_variable(
            "weights", [inputs.shape[-1], num_outputs], inputs.dtype.base_dtype,
            weights_initializer or contrib_xavier_initializer(), weights_regularizer,
            trainable=trainable)
        outputs = tf.tensordot(inputs, weights, [[inputs.shape.rank - 1], [0]])
        if biases_initializer is not None:
            biases = v1.get_variable("biases", [num_outputs], inputs.dtype.base_dtype,
                                     biases_initializer, biases_regularizer,
                                     trainable=trainable)
            outputs = tf.nn.bias_add(outputs, biases)
        return activation_fn(outputs) if activation_fn is not None else outputs


#: What `tf.contrib.layers` offers inside a shimmed script.
CONTRIB_LAYERS = {
    "xavier_initializer": contrib_xavier_initializer,
    "xavier_initializer_conv2d": contrib_xavier_initializer,
    "variance_scaling_initializer": contrib_variance_scaling_initializer,
    "l2_regularizer": contrib_l2_regularizer,
    "flatten": contrib_flatten,
    "fully_connected": contrib_fully_connected,
}


#: Common `tf.contrib.layers` names the shim lacks -> the TF1 core name to write instead
#: (its defaults and variable names differ from contrib's, so it is not served silently).
CONTRIB_REPLACEMENTS = {
    "conv2d": "tf.layers.conv2d",
    "conv2d_transpose": "tf.layers.conv2d_transpose",
    "max_pool2d": "tf.layers.max_pooling2d",
    "avg_pool2d": "tf.layers.average_pooling2d",
    "batch_norm": "tf.layers.batch_normalization",
    "dropout": "tf.layers.dropout",
    "linear": "tf.layers.dense",
    "l1_regularizer": "a function returning scale * tf.reduce_sum(tf.abs(weights))",
}


def _unsupported(name):
    replacement = CONTRIB_REPLACEMENTS.get(name.rpartition(".")[2])
    if name.startswith("tf.contrib.layers.") and replacement:
        return UnsupportedContribError(
            f"{name} is not supported (tf.contrib is gone in TensorFlow 2): use {replacement}")
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
