"""Idiomatic TensorFlow 2 successor of the bilinear transposed-convolution demo.

Eager and `tf.function` code, no TF1 compatibility API: the bilinear kernel and its
Keras 3 initializer and layer, the demo as a `tf.Module` (`DeconvDemo`),
SavedModel export, and `python -m tf2` for one image, several, or a folder.

Names are loaded on first use (PEP 562), so `python -m tf2` can quiet
TensorFlow's logs and reject bad input before TensorFlow is imported.
`import tf2` still registers the Keras serializable objects
(`BilinearInitializer`, `BilinearUpsample2D`) so that a `.keras` file using
them loads after only `import tf2`: at once when Keras is already imported,
otherwise the moment Keras is (`deconv_runtime.lazy.when_imported`), so `tf2`
alone never imports Keras.

Example:
>>> import tf2
>>> tf2.DeconvDemo(seed=1).conv_kernel.shape
TensorShape([3, 3, 3, 64])
"""

import importlib

from deconv_io._version import __version__
from deconv_runtime.lazy import lazy_exports, when_imported

#: Public name -> the module that defines it.
_WHERE = {
    "DeconvDemo": "tf2.demo",
    "export_saved_model": "tf2.export",
    "load_saved_model": "tf2.export",
    "bilinear_kernel": "tf2.kernels",
    "bilinear_taps": "tf2.kernels",
    "bilinear_filter": "tf2.kernels",
    "bilinear_upsample_weights": "tf2.kernels",
    "get_kernel_size": "tf2.kernels",
    "glorot_uniform": "tf2.kernels",
    "BilinearInitializer": "tf2.initializers",
    "BilinearUpsample2D": "tf2.layers",
    "build_keras_demo": "tf2.keras_model",
    "keras_kernels": "tf2.keras_model",
    "set_keras_kernels": "tf2.keras_model",
    "main": "tf2.cli",
    "run_tiled": "tf2.tiling",
    "plan_memory": "tf2.memory_plan",
    "halo_window": "tf2.halo",
    "run_distributed": "tf2.distribute",
    "make_distributed_demo": "tf2.distribute",
    "make_strategy": "tf2.distribute",
    "configure_logical_cpus": "tf2.distribute",
}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

#: The modules whose import registers Keras serializable objects.
KERAS_OBJECT_MODULES = ("tf2.initializers", "tf2.layers")


def _register_keras_objects(keras):
    del keras
    for module in KERAS_OBJECT_MODULES:
        importlib.import_module(module)


when_imported("keras", _register_keras_objects)
