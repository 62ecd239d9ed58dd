"""Importing TensorFlow for a command line: its log level, its start-up lines, Keras deferred.

Only the command lines' `main` functions call these; no library imports
TensorFlow this way.
"""

import os
import sys

__all__ = ["import_tensorflow", "quiet_tensorflow"]

_VERBOSE = False


def quiet_tensorflow(verbose=False):
    """Sets TensorFlow's log level; call before TensorFlow is imported.

    Without `verbose`, `import_tensorflow` also hides the start-up lines that
    TensorFlow 2.21 prints whatever `TF_CPP_MIN_LOG_LEVEL` says.
    """
    global _VERBOSE
    _VERBOSE = bool(verbose)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else os.environ.get(
        "TF_CPP_MIN_LOG_LEVEL", "2")


class _KerasDeferred:
    """A `sys.meta_path` finder that lets `keras` be found but not imported.

    `importlib.util.find_spec("keras")` still answers with Keras's real spec
    (TensorFlow's `__init__` reads its location to set up `tf.keras`); an
    import of `keras` raises `ModuleNotFoundError`, which TensorFlow's
    `__init__` catches around its eager import of `keras.src.optimizers`.
    """

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "keras":
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _KerasDeferred
        return spec

    @staticmethod
    def create_module(spec):
        raise ModuleNotFoundError("keras is imported later, on first use", name="keras")

    @staticmethod
    def exec_module(module):  # never reached: create_module raises
        raise ModuleNotFoundError("keras is imported later, on first use", name="keras")


def import_tensorflow(defer_keras=False):
    """Imports TensorFlow for a command line, hiding its start-up noise.

    TensorFlow's C++ start-up lines (oneDNN, CUDA stub, absl, a failed
    `cuInit` without a GPU driver) are written to file descriptor 2 during
    the import and device set-up, and ignore `TF_CPP_MIN_LOG_LEVEL`.
    Unless `quiet_tensorflow(verbose=True)` was called, descriptor 2 points
    at /dev/null for the import only; an import error still raises, after
    stderr is restored. Libraries never call this: only `main` functions.

    Args:
        defer_keras: skip the eager import of Keras in TensorFlow's
            `__init__` (`keras.src.optimizers`, which imports all of Keras,
            matplotlib included, so that optimizers register for SavedModel
            loading). For a program that uses no Keras: `tf.keras` and
            `import keras` still work later, importing Keras then.

    Returns:
        The `tensorflow` module.
    """
    if "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    finder = _KerasDeferred if defer_keras and "keras" not in sys.modules else None
    if finder is not None:
        sys.meta_path.insert(0, finder)
    try:
        return _import_tensorflow_quietly()
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)


def _import_tensorflow_quietly():
    if _VERBOSE:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to protect
        import tensorflow

        return tensorflow
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        # Listing the devices initialises them now, while muted: on a machine
        # without a GPU driver, TensorFlow reports its failed `cuInit` here.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow
