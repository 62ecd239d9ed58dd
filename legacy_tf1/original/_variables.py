"""Variables of a shimmed script set by name: the creator's initial value, replaced.

Used by `legacy_tf1.original.shim.run_script` (`weights=` for the demo's `a`
and `a1`, `variables=` for any name).
"""

import numpy as np

from deconv_io.errors import InputError

__all__ = ["initial_value_by_name"]


def initial_value_by_name(graph, kwargs, overrides, used, flag):
    """The creator's `initial_value`, replaced by the override of the variable's name.

    The name is the created variable's own (`hidden/w`, uniquified, name
    scopes included): a callable initial value is called inside the
    variable's `<name>/Initializer` scope, which gives it.
    """
    import tensorflow as tf

    original = kwargs.get("initial_value")
    shape = kwargs.get("shape")
    dtype = kwargs.get("dtype")

    def initial_value():
        scope = graph.get_name_scope()
        name = scope[:-len("/Initializer")] if scope.endswith("/Initializer") else scope
        if name not in overrides:
            return original() if callable(original) else original
        known = shape
        if known is None and not callable(original):
            known = getattr(original, "shape", None)
            known = np.shape(original) if known is None else known
        target = tf.as_dtype(dtype or getattr(original, "dtype", None)
                             or np.asarray(overrides[name]).dtype).base_dtype
        value = _checked_value(name, overrides[name], known, target, flag)
        used.add(name)
        return value

    return initial_value


def _checked_value(name, value, shape, dtype, flag):
    """`value` as `dtype`, or `InputError` when the shape differs or the cast is not exact."""
    import tensorflow as tf

    value = np.asarray(value)
    if shape is not None and tf.TensorShape(shape).is_fully_defined() \
            and tuple(tf.TensorShape(shape).as_list()) != value.shape:
        raise InputError(f"{flag}: the script's variable '{name}' has shape "
                         f"{tf.TensorShape(shape).as_list()}, the given value {list(value.shape)}")
    target = dtype.as_numpy_dtype
    with np.errstate(all="ignore"):
        cast = value.astype(target)
        exact = cast.astype(value.dtype) if value.dtype.kind in "fiub" else None
    same = exact is not None and np.array_equal(exact, value,
                                                 equal_nan=value.dtype.kind == "f")
    if value.dtype != target and not same:
        raise InputError(f"{flag}: the script's variable '{name}' is {dtype.name}; the given "
                         f"{value.dtype} value does not convert exactly")
    return cast

