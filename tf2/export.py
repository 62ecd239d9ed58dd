"""SavedModel export and reload of a `DeconvDemo`.

The SavedModel holds the two kernels as variables (not the image: it is an
input) and two serving signatures, both taking `images`, float32
`[None, None, None, 3]` (any batch, any size):

- `serving_default`: every stage, outputs `conv1`, `pool` and `output`
  (exactly `DeconvDemo.stages`, what a `--dump` file holds);
- `output`: the `output` stage alone, by the window implementation
  (`DeconvDemo.output_window`: only the conv channels the deconv kernel
  reads; traced once, so it serves any shape), for serving.

The reloaded object also keeps the `stages` and `output` methods and the
`conv_kernel` / `deconv_kernel` variables.
"""

import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from deconv_io.errors import InputError
from tf2._full import IMAGES_SPEC

__all__ = ["OUTPUT_SIGNATURE", "export_saved_model", "load_saved_model"]

#: Name of the fast, output-only signature (`serving_default` has every stage).
OUTPUT_SIGNATURE = "output"


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _Served(tf.Module):
    """What the SavedModel holds: the kernels and the demo's traced functions."""

    def __init__(self, demo):
        super().__init__(name=demo.name)
        self.conv_kernel = demo.conv_kernel
        self.deconv_kernel = demo.deconv_kernel
        self.stages = demo.traced_stages
        self.output = demo.output_window


def export_saved_model(demo, path, overwrite=False):
    """Writes `demo` as a SavedModel directory, atomically.

    The model is written to a temporary folder beside `path` and renamed
    onto it, so a failed export leaves no half-written model behind.

    Args:
        demo: a `tf2.DeconvDemo`.
        path: the SavedModel directory to create.
        overwrite: replace an existing `path`; otherwise an existing path is
            refused.

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        ValueError: `demo` is not a `DeconvDemo` (no traced functions).

    Example:
    >>> import tempfile, tf2
    >>> folder = Path(tempfile.mkdtemp()) / "demo"
    >>> export_saved_model(tf2.DeconvDemo(seed=1), folder).name
    'demo'
    """
    if not (hasattr(demo, "traced_stages") and hasattr(demo, "output_window")):
        raise ValueError(
            "Invalid value for argument `demo`. Expected a tf2.DeconvDemo. "
            f"Received: demo={demo!r}"
        )
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"SavedModel path {path} already exists; pass overwrite=True to replace it"
        )
    parent = path.parent if str(path.parent) else Path(".")

    @tf.function(input_signature=[IMAGES_SPEC])
    def serve_output(images):
        return {"output": demo.output_window(images)}

    served = _Served(demo)
    signatures = {
        "serving_default": served.stages.get_concrete_function(),
        OUTPUT_SIGNATURE: serve_output.get_concrete_function(),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        # mkdtemp makes the folder 0700; give the model the usual permissions.
        os.chmod(tmp, 0o777 & ~_umask())
        tf.saved_model.save(served, str(tmp), signatures=signatures)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, old / "model")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_saved_model(path):
    """Reloads a SavedModel written by `export_saved_model`.

    Args:
        path: the SavedModel directory.

    Returns:
        The restored object: `.signatures["serving_default"](images=x)`
        returns `{"conv1", "pool", "output"}`, `.signatures["output"]` the
        fast `{"output"}`; `.stages(x)`, `.output(x)`, `.conv_kernel` and
        `.deconv_kernel` work as on the `DeconvDemo`.

    Raises:
        deconv_io.InputError: `path` is not a SavedModel directory.

    Example:
    >>> import tempfile, tf2
    >>> folder = export_saved_model(tf2.DeconvDemo(seed=1), Path(tempfile.mkdtemp()) / "m")
    >>> sorted(load_saved_model(folder).signatures)
    ['output', 'serving_default']
    """
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise InputError(f"Not a SavedModel directory (no saved_model.pb): {path}")
    return tf.saved_model.load(str(path))
