"""Plain, TensorFlow-free I/O shared by both ports: images, weights, dumps, outputs.

Neither TensorFlow nor either port is imported here, so `legacy_tf1` and
`tf2` can both depend on it without depending on each other.
"""

from deconv_io._version import __version__
from deconv_io.atomic import atomic_path, save_npz_atomic, write_bytes_atomic
from deconv_io.dumps import DUMP_NAMES
from deconv_io.display import normalize_for_display, render_picture
from deconv_io.errors import InputError
from deconv_io.images import (DEFAULT_MAX_PIXELS, check_image_path, default_image_path,
                              load_image)
from deconv_io.weights import (KERNEL_SHAPE, WEIGHT_NAMES, load_weights, save_weights,
                               validate_kernel)


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DUMP_NAMES",
    "InputError",
    "KERNEL_SHAPE",
    "WEIGHT_NAMES",
    "atomic_path",
    "check_image_path",
    "default_image_path",
    "load_image",
    "load_weights",
    "normalize_for_display",
    "render_picture",
    "save_npz_atomic",
    "save_weights",
    "validate_kernel",
    "write_bytes_atomic",
]
