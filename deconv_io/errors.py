"""The one exception type for a user's mistakes; TensorFlow's lack of memory, recognised."""

__all__ = ["InputError", "is_tensorflow_out_of_memory"]


class InputError(ValueError):
    """A user-input problem: a bad image, weights file, size or flag value.

    Command lines turn it into one line on stderr and exit status 2; it is
    never a bug in this project, so it never needs a traceback.
    """


def is_tensorflow_out_of_memory(error):
    """Whether `error` is TensorFlow's allocation failure (`tf.errors.ResourceExhaustedError`).

    Recognised by its class's name, so that the code handling it (the
    command lines' error handling, folder mode's per-image loop) need not
    import TensorFlow.

    Example:
    >>> class ResourceExhaustedError(Exception): pass
    >>> is_tensorflow_out_of_memory(ResourceExhaustedError("OOM"))
    True
    >>> is_tensorflow_out_of_memory(MemoryError())
    False
    """
    return type(error).__name__ == "ResourceExhaustedError"
