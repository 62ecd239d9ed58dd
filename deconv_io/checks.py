"""Argument checks shared by both ports: one definition each, Keras-style messages.

No TensorFlow here: `tf2`, `legacy_tf1`, the command lines and the audit
all validate integers and image batches with these, and read integers
from text (flags, lists in flags, environment variables) with `parse_int`
(`deconv_runtime.arguments.int_argument` makes an `argparse` type of it).
"""

import numbers

__all__ = ["check_images_shape", "check_int", "is_int", "parse_int"]


def is_int(value):
    """Whether `value` is an integral number (a Python or NumPy int), not a bool.

    `bool` is an `int` subclass, but `True` as a size or a seed is always a
    mistake.

    Example:
    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name, value, minimum):
    """Returns `value` as an int after checking it is an int >= `minimum`.

    `bool` is refused (`is_int`).

    Args:
        name: the argument's name, for the message.
        value: the value received.
        minimum: the smallest value accepted.

    Returns:
        `int(value)`.

    Raises:
        ValueError: `value` is not an integral number >= `minimum`.

    Example:
    >>> check_int("factor", 2, 1)
    2
    """
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an int >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def parse_int(text, minimum, maximum=None, multiple_of=1):
    """The int `text` spells, if it is in [`minimum`, `maximum`] and a multiple of `multiple_of`.

    `text` is read as `int(text)` reads it (surrounding spaces allowed).

    Args:
        text: the text (a flag's value, one item of a list, a variable).
        minimum: the smallest value accepted.
        maximum: the largest value accepted (None: no limit).
        multiple_of: the value must be a multiple of it (2: even).

    Returns:
        The int, or None if `text` is not an int or not accepted.

    Example:
    >>> parse_int("12", 1), parse_int("0", 1), parse_int("7", 2, multiple_of=2), parse_int("x", 1)
    (12, None, None, None)
    """
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    if value < minimum or (maximum is not None and value > maximum) or value % multiple_of:
        return None
    return value


def check_images_shape(shape, name="images", empty_batch=False):
    """Checks that `shape` is a batch of RGB images, `(N, H, W, 3)`, H, W >= 1.

    Args:
        shape: the shape (a tuple, or a `tf.TensorShape`; a dimension unknown
            while tracing, None, passes).
        name: the argument's name, for the message.
        empty_batch: whether N = 0 is accepted (an empty batch gives an
            empty result where the ops allow it).

    Returns:
        The shape as a tuple.

    Raises:
        ValueError: not 4-D, not 3 channels, H or W is 0, or N is 0 when
            `empty_batch` is false.

    Example:
    >>> check_images_shape((2, 5, 7, 3))
    (2, 5, 7, 3)
    """
    shape = tuple(shape)
    if len(shape) != 4 or shape[3] != 3 or 0 in shape[1 if empty_batch else 0:3]:
        expected = "an (N, H, W, 3) array with H, W >= 1" if empty_batch else (
            "a non-empty (N, H, W, 3) array")
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expected}. "
            f"Received: {name}.shape={shape}"
        )
    return shape
