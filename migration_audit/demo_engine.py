"""The demo's audit through the script engine: the shipped original against `tf2.DeconvDemo`.

`audit_shipped_script(images, kernels)` runs the published script
(`legacy_tf1/original/script/deconv_demo.py`, unchanged) on `images` with
the kernels `a` and `a1` set by name, and `migration_audit.demo_port.tf2_port`
through `migration_audit.script_audit.audit_script`: every stage of the
original's graph (`Conv2D`, `MaxPool`, `conv2d_transpose`) against the port,
and both against the graph's float64 shadow, with the bounds derived from
the graph. The rows are relabelled with the demo's stage names
(`conv1`, `pool`, `output`) and witnesses `tf2_port`, `original_script`,
`float64_shadow`.

The script hard-codes its image size (`[1, 750, 500, 3]`) and reads 8-bit
pixels from `timg.jpg` beside it: it runs on a copy in a temporary folder
whose `timg.jpg` holds the given pixels losslessly (PNG bytes: Pillow opens
a file by its content); other images are skipped, with the reason.
"""

import contextlib
import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ORIGINAL_SHAPE", "audit_shipped_script", "cannot_run", "shipped_script_on"]

#: The one image shape the original script accepts (its reshape is hard-coded).
ORIGINAL_SHAPE = (1, 750, 500, 3)
#: The engine's witnesses, as the demo's table names them.
_LABELS = {"port": "tf2_port", "tf1": "original_script", "float64 shadow": "float64_shadow"}


def cannot_run(images):
    """Why the shipped script cannot run on `images`, or None."""
    images = np.asarray(images)
    if images.shape != ORIGINAL_SHAPE:
        return (f"the script reshapes its image to {list(ORIGINAL_SHAPE)}; this input is "
                f"{list(images.shape)}")
    if not (np.array_equal(images, np.round(images)) and images.min() >= 0
            and images.max() <= 255):
        return "the script reads 8-bit pixels; this image's values are not integers 0..255"
    return None


@contextlib.contextmanager
def shipped_script_on(images):
    """A temporary copy of the shipped script, its `timg.jpg` holding `images[0]`: its path."""
    from PIL import Image

    from legacy_tf1.original.shim import SHIPPED_SCRIPT

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / SHIPPED_SCRIPT.name
        shutil.copyfile(SHIPPED_SCRIPT, script)
        Image.fromarray(np.asarray(images)[0].astype(np.uint8)).save(
            script.parent / "timg.jpg", format="PNG")
        yield script


def audit_shipped_script(images, conv_kernel, deconv_kernel, progress=None):
    """The shipped original and the TF2 port through the engine, rows in the demo's names.

    Args:
        images: `(1, 750, 500, 3)` float32 holding 8-bit values.
        conv_kernel, deconv_kernel: the kernels, set as the script's `a`, `a1`.
        progress: optional callable given a line per phase.

    Returns:
        `(result, None)`: the `ScriptAuditResult`, its rows relabelled; or
        `(None, reason)` when the script cannot run on `images`.
    """
    from migration_audit.demo_port import OP_NAMES, tf2_port
    from migration_audit.script_audit import audit_script

    why = cannot_run(images)
    if why is not None:
        return None, why
    variables = {"a": np.asarray(conv_kernel, np.float32),
                 "a1": np.asarray(deconv_kernel, np.float32)}
    with shipped_script_on(images) as script:
        result = audit_script(script, tf2_port, compare={op: op for op in OP_NAMES},
                              variables=variables, progress=progress)
    result.rows = [dataclasses.replace(row, stage=OP_NAMES[row.stage],
                                       actual=_LABELS[row.actual],
                                       expected=_LABELS[row.expected])
                   for row in result.rows]
    return result, None
