"""Checkpoints across the migration: TF1 name-based <-> TF2 object-based.

The original saved (had it saved) with `tf.compat.v1.train.Saver()`, whose
checkpoint holds every global variable by name: the conv kernel `a`, the
deconv kernel `a1`, and (a kept quirk) the image itself, `Variable`. The TF2
module saves with `tf.train.Checkpoint(demo=module)`, keyed by the object
path (`demo/conv_kernel/.ATTRIBUTES/VARIABLE_VALUE`). Both are the same
tensor-bundle format, so, as TensorFlow's "Migrating model checkpoints"
guide shows, either side can read the other's by mapping names:

- TF1 -> TF2: read the bundle with `tf.train.load_checkpoint`, map
  `a -> conv_kernel`, `a1 -> deconv_kernel`, assign (`load_tf1_checkpoint`),
  or re-save as a TF2 checkpoint (`convert_tf1_to_tf2`). `Variable` (the
  image) is present and ignored: the TF2 module takes the image as input.
- TF2 -> TF1: a `tf.compat.v1.train.Saver` whose `var_list` maps each TF2
  key to the graph's variable (`restore_tf2_checkpoint_in_graph`).

Every problem with a user's checkpoint (missing, unreadable, a variable
missing, mis-shaped or of the wrong dtype) is one `deconv_io.InputError`.
Which files a SRC or DST path names, and atomic writes, are in
`migration_audit.checkpoint_files`.
"""

import contextlib
from typing import NamedTuple

import numpy as np

from deconv_io.errors import InputError
from deconv_io.weights import KERNEL_SHAPE
from migration_audit.checkpoint_files import (check_checkpoint_destination, checkpoint_source,
                                              write_checkpoint_atomically)

__all__ = ["IMAGE_VARIABLE", "TF1_NAMES", "TF2_ROOT", "Tf1Checkpoint", "convert_tf1_to_tf2",
           "load_tf1_checkpoint", "read_tf1_checkpoint", "restore_tf2_checkpoint_in_graph",
           "save_tf1_checkpoint", "save_tf2_checkpoint", "tf2_checkpoint", "tf2_key"]

#: TF2 module attribute -> the original's variable name.
TF1_NAMES = {"conv_kernel": "a", "deconv_kernel": "a1"}
#: The original's image variable (default name of an unnamed `tf.Variable`).
IMAGE_VARIABLE = "Variable"
# Metadata of an object-based checkpoint, not a variable.
_OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"
#: The key the TF2 module is saved under: `tf.train.Checkpoint(demo=module)`.
TF2_ROOT = "demo"


def tf2_key(name):
    """The TF2 checkpoint key of a module variable.

    Example:
    >>> tf2_key("conv_kernel")
    'demo/conv_kernel/.ATTRIBUTES/VARIABLE_VALUE'
    """
    return f"{TF2_ROOT}/{name}/.ATTRIBUTES/VARIABLE_VALUE"


class Tf1Checkpoint(NamedTuple):
    """What `read_tf1_checkpoint` found.

    Attributes:
        prefix: the checkpoint prefix read (a folder resolved to its latest).
        kernels: `{"conv_kernel", "deconv_kernel"}`, float32 [3, 3, 3, 64].
        ignored: `{name: (shape, dtype name)}` of the other variables (the
            image `Variable`, a global step, optimizer slots, ...).
    """

    prefix: str
    kernels: dict
    ignored: dict


def _reader(prefix):
    """`tf.train.load_checkpoint`, with a missing or bad checkpoint as InputError.

    A missing prefix is refused before TensorFlow is imported.

    Returns:
        `(prefix, reader, read)`: the prefix read, the reader, and
        `read(name)`, which returns a tensor's value or raises InputError
        (a missing or damaged data file only shows when a tensor is read).
    """
    prefix = checkpoint_source(prefix)
    import tensorflow as tf

    @contextlib.contextmanager
    def user_errors():
        try:
            yield
        except (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError) as e:
            # A truncated data file raises IndexError ("Read less bytes than
            # requested") from the reader's C++ code.
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            raise InputError(f"Cannot read checkpoint {prefix}: {message}") from None

    with user_errors():
        reader = tf.train.load_checkpoint(str(prefix))

    def read(name):
        with user_errors():
            return reader.get_tensor(name)

    return prefix, reader, read


def read_tf1_checkpoint(prefix):
    """Reads and validates the original's kernels from a TF1 checkpoint.

    Args:
        prefix: a checkpoint prefix (`model.ckpt`, beside `model.ckpt.index`)
            or a folder with a `checkpoint` file.

    Returns:
        A `Tf1Checkpoint`.

    Raises:
        InputError: the checkpoint is missing or unreadable, `a` or `a1` is
            missing, not [3, 3, 3, 64] or not float32.
    """
    prefix, reader, read = _reader(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    missing = [tf1 for tf1 in TF1_NAMES.values() if tf1 not in shapes]
    if missing:
        found = sorted(shapes)
        hint = ""
        if any(key.startswith(f"{TF2_ROOT}/") for key in found):
            hint = " (this looks like a TF2 object-based checkpoint of the module)"
        raise InputError(
            f"Checkpoint {prefix} lacks variable(s) {missing} of the original graph "
            f"(expected 'a' = conv kernel and 'a1' = deconv kernel). Found: {found}{hint}"
        )
    kernels = {}
    for name, tf1 in TF1_NAMES.items():
        if dtypes[tf1].name != "float32":
            raise InputError(f"Checkpoint variable '{tf1}' ({name}) must be float32. "
                             f"Received: dtype={dtypes[tf1].name}")
        if tuple(shapes[tf1]) != KERNEL_SHAPE:
            raise InputError(f"Checkpoint variable '{tf1}' ({name}) must have shape "
                             f"{KERNEL_SHAPE}. Received: shape={tuple(shapes[tf1])}")
        value = read(tf1)
        if not np.isfinite(value).all():
            raise InputError(f"Checkpoint variable '{tf1}' ({name}) contains NaN or Inf values")
        kernels[name] = value
    ignored = {key: (tuple(shapes[key]), dtypes[key].name) for key in sorted(shapes)
               if key not in TF1_NAMES.values() and key != _OBJECT_GRAPH}
    return Tf1Checkpoint(prefix=str(prefix), kernels=kernels, ignored=ignored)


def load_tf1_checkpoint(demo, prefix):
    """Assigns the kernels of a TF1 checkpoint to a `tf2.DeconvDemo`.

    Args:
        demo: the TF2 module.
        prefix: the TF1 checkpoint (see `read_tf1_checkpoint`).

    Returns:
        The `Tf1Checkpoint` read (its `ignored` names what was not loaded).

    Raises:
        InputError: as `read_tf1_checkpoint`.
    """
    found = read_tf1_checkpoint(prefix)
    demo.set_kernels(**found.kernels)
    return found


def tf2_checkpoint(demo):
    """The TF2 checkpoint object of a module: `tf.train.Checkpoint(demo=demo)`."""
    import tensorflow as tf

    return tf.train.Checkpoint(**{TF2_ROOT: demo})


def save_tf2_checkpoint(demo, prefix):
    """Writes `demo`'s kernels as a TF2 checkpoint at exactly `prefix`.

    Written atomically (see `write_checkpoint_atomically`).

    Returns:
        `prefix` as a string.
    """
    return write_checkpoint_atomically(prefix, tf2_checkpoint(demo).write)


def convert_tf1_to_tf2(src, dst):
    """Converts a TF1 checkpoint of the original into a TF2 checkpoint of the module.

    Args:
        src: the TF1 checkpoint (prefix or folder).
        dst: the TF2 checkpoint prefix to write (`dst.index`,
            `dst.data-00000-of-00001`); read it back with
            `tf2_checkpoint(DeconvDemo()).read(dst)`.

    Returns:
        The `Tf1Checkpoint` read from `src`.

    Raises:
        InputError: as `read_tf1_checkpoint`, or `dst` would overwrite `src`.
    """
    found = read_tf1_checkpoint(src)
    check_checkpoint_destination(dst, found.prefix)
    from tf2.demo import DeconvDemo  # imports TensorFlow: only once SRC is known good

    save_tf2_checkpoint(DeconvDemo(**found.kernels), dst)
    return found


def save_tf1_checkpoint(prefix, images, seed=None, weights=None):
    """Runs the original graph and saves it as the original would have.

    A fresh graph (`legacy_tf1.graph.build_graph`), the variable
    initializer, optional `weights` assigned over the drawn kernels, then
    `tf.compat.v1.train.Saver().save`: every global variable, `Variable`
    (the image), `a` and `a1`, under those names.

    Args:
        prefix: the checkpoint prefix to write.
        images: `(N, H, W, 3)` array.
        seed: graph-level seed of the Glorot draw.
        weights: optional `{"conv_kernel", "deconv_kernel"}` (either or both).

    Returns:
        `(path, results)`: the prefix written, and the session's stages
        (`conv_kernel`, `deconv_kernel`, `conv1`, `pool`, `output`) fetched
        right after saving.
    """
    import tensorflow as tf

    from legacy_tf1.graph import build_graph

    images = np.asarray(images, np.float32)
    with tf.Graph().as_default() as graph:
        stages = build_graph(images, seed=seed)
        assign = [tf.compat.v1.assign(getattr(stages, name), np.asarray(value, np.float32))
                  for name, value in (weights or {}).items()]
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer(), feed_dict=stages.init_feed)
            sess.run(assign)
            path = saver.save(sess, str(prefix), write_meta_graph=False)
            results = sess.run({name: getattr(stages, name) for name in
                                ("conv_kernel", "deconv_kernel", "conv1", "pool", "output")})
    return path, results


def restore_tf2_checkpoint_in_graph(sess, stages, prefix):
    """Restores a TF2 checkpoint of the module into the original TF1 graph.

    A `tf.compat.v1.train.Saver` with `var_list={tf2_key(name): variable}`
    reads the object-based keys into `a` and `a1`. The image variable keeps
    its value: the TF2 module never saved an image.

    Args:
        sess: a session on the graph `stages` was built in, its variables
            initialized.
        stages: `legacy_tf1.graph.build_graph`'s `Stages`.
        prefix: the TF2 checkpoint prefix.
    """
    import tensorflow as tf

    var_list = {tf2_key(name): getattr(stages, name) for name in TF1_NAMES}
    tf.compat.v1.train.Saver(var_list=var_list).restore(sess, str(prefix))
