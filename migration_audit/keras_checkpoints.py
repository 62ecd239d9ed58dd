"""TF1 checkpoints <-> Keras `.weights.h5` of `tf2.keras_model.build_keras_demo`.

Keras 3 cannot read a TF1 checkpoint (`load_weights` takes `.weights.h5`
only). The two files name the same two kernels differently:

- the original's `tf.compat.v1.train.Saver` checkpoint: `a` (conv kernel),
  `a1` (deconv kernel), and `Variable` (the image: a quirk, no weight of the
  model);
- the model's `save_weights` file: one HDF5 dataset per weight, keyed by
  the layer's class-derived path (`layers/conv2d/vars/0` for `conv1`'s
  kernel, `layers/conv2d_transpose/vars/0` for `output`'s), which is what
  `load_weights` reads back.

Both kernels have the same layout on both sides (`Conv2D` is `[k, k, in,
out]` like `a`; `Conv2DTranspose` is `[k, k, out, in]` like `a1`), so the
values are copied unchanged. Each conversion first builds a
`ConversionPlan` (the name map, and what is missing, unexpected or
mismatched), which the command line prints before anything is written; a
plan with something missing or mismatched writes nothing.
"""

import dataclasses
from pathlib import Path

import numpy as np

from deconv_io.atomic import write_bytes_atomic
from deconv_io.errors import InputError
from deconv_io.weights import KERNEL_SHAPE
from migration_audit.checkpoint_files import write_checkpoint_atomically
from migration_audit.checkpoints import TF1_NAMES, _reader

__all__ = ["KERAS_H5_KEYS", "ConversionPlan", "convert_keras_to_tf1", "convert_tf1_to_keras",
           "plan_keras_to_tf1", "plan_tf1_to_keras"]

#: Kernel name -> its dataset in the model's `.weights.h5`.
KERAS_H5_KEYS = {"conv_kernel": "layers/conv2d/vars/0",
                 "deconv_kernel": "layers/conv2d_transpose/vars/0"}
_OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclasses.dataclass
class ConversionPlan:
    """What a conversion maps, and what stands in its way.

    Attributes:
        source: what is read.
        target: what would be written.
        mapping: `(source name, target name, shape, dtype)` per kernel found.
        missing: target names whose source variable is absent.
        unexpected: `(name, shape, dtype)` of source entries left out.
        mismatched: `(name, found, expected)` for a wrong shape or dtype.
        kernels: `{"conv_kernel", "deconv_kernel"}` values read (when all
            are present and well-formed).
    """

    source: str
    target: str
    mapping: list
    missing: list
    unexpected: list
    mismatched: list
    kernels: dict

    @property
    def ok(self):
        """Nothing missing or mismatched: the conversion can be written."""
        return not self.missing and not self.mismatched

    def lines(self):
        """The plan as text lines, as the command line prints it."""
        out = [f"{self.source} -> {self.target}"]
        out += [f"  map: {s} -> {t} {list(shape)} {dtype}" for s, t, shape, dtype in self.mapping]
        out.append("  missing: " + (", ".join(self.missing) or "none"))
        out.append("  unexpected (not written): " + (", ".join(
            f"{n} {list(shape)} {dtype}" for n, shape, dtype in self.unexpected) or "none"))
        out.append("  mismatched: " + (", ".join(
            f"{n} is {found}, expected {expected}" for n, found, expected in self.mismatched)
            or "none"))
        return out


def _check(plan, name, source_name, target_name, shape, dtype, read):
    expected = (tuple(KERNEL_SHAPE), "float32")
    if (tuple(shape), dtype) != expected:
        plan.mismatched.append((source_name, f"{list(shape)} {dtype}",
                                f"{list(expected[0])} {expected[1]}"))
        return
    plan.mapping.append((source_name, target_name, tuple(shape), dtype))
    value = np.asarray(read(source_name))
    if not np.isfinite(value).all():
        plan.mismatched.append((source_name, "NaN or Inf values", "finite values"))
        return
    plan.kernels[name] = np.ascontiguousarray(value, dtype=np.float32)


def plan_tf1_to_keras(src, dst):
    """Reads a TF1 checkpoint and plans its `.weights.h5` for the Keras model.

    Raises:
        InputError: the checkpoint is missing or unreadable.
    """
    prefix, reader, read = _reader(src)
    shapes = reader.get_variable_to_shape_map()
    dtypes = {k: v.name for k, v in reader.get_variable_to_dtype_map().items()}
    plan = ConversionPlan(source=f"TF1 checkpoint {prefix}", target=f"Keras weights {dst}",
                          mapping=[], missing=[], unexpected=[], mismatched=[], kernels={})
    for name, tf1 in TF1_NAMES.items():
        if tf1 not in shapes:
            plan.missing.append(f"{KERAS_H5_KEYS[name]} (no '{tf1}' in the checkpoint)")
            continue
        _check(plan, name, tf1, KERAS_H5_KEYS[name], shapes[tf1], dtypes[tf1], read)
    plan.unexpected = [(k, tuple(shapes[k]), dtypes[k]) for k in sorted(shapes)
                       if k not in TF1_NAMES.values() and k != _OBJECT_GRAPH]
    return plan


def _h5_datasets(path):
    """`{key: dataset}` of an HDF5 file opened for reading, and the open file."""
    import h5py

    path = Path(path)
    if path.is_dir():
        raise InputError(f"Expected a .weights.h5 file, got a directory: {path}")
    if not path.is_file():
        raise InputError(f"Keras weights file not found: {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"Not an HDF5 (.weights.h5) file: {path} ({e})") from None
    datasets = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            datasets[name] = obj

    handle.visititems(visit)
    return handle, datasets


def plan_keras_to_tf1(src, dst):
    """Reads a model's `.weights.h5` and plans the TF1 checkpoint (`a`, `a1`).

    Raises:
        InputError: the file is missing or not HDF5.
    """
    handle, datasets = _h5_datasets(src)
    with handle:
        plan = ConversionPlan(source=f"Keras weights {src}", target=f"TF1 checkpoint {dst}",
                              mapping=[], missing=[], unexpected=[], mismatched=[],
                              kernels={})
        for name, key in KERAS_H5_KEYS.items():
            if key not in datasets:
                plan.missing.append(f"{TF1_NAMES[name]} (no '{key}' in the file)")
                continue
            dataset = datasets[key]
            _check(plan, name, key, TF1_NAMES[name], dataset.shape, dataset.dtype.name,
                   lambda k: datasets[k][()])
        plan.unexpected = [(k, tuple(d.shape), d.dtype.name) for k, d in sorted(datasets.items())
                           if k not in KERAS_H5_KEYS.values()]
    return plan


def _refuse_unless_ok(plan):
    if not plan.ok:
        problems = plan.missing + [f"{n} is {f}, expected {e}" for n, f, e in plan.mismatched]
        raise InputError(f"cannot convert: {'; '.join(problems)}; nothing written")


def convert_tf1_to_keras(src, dst, plan=None):
    """Writes the Keras model's `.weights.h5` from a TF1 checkpoint of the original.

    Args:
        src: the TF1 checkpoint (prefix or folder).
        dst: the `.weights.h5` to write (atomically).
        plan: the plan already made by `plan_tf1_to_keras` (made if None).

    Returns:
        The `ConversionPlan`.

    Raises:
        InputError: unreadable source, a kernel missing or mismatched, or a
            `dst` not ending in `.weights.h5` (Keras's rule).
    """
    if not str(dst).endswith(".weights.h5"):
        raise InputError(f"DST {dst}: a Keras weights file must end in .weights.h5")
    plan = plan or plan_tf1_to_keras(src, dst)
    _refuse_unless_ok(plan)
    from tf2.keras_model import build_keras_demo

    model = build_keras_demo(**plan.kernels)
    write_bytes_atomic(dst, weights_h5_bytes(model))
    return plan


def weights_h5_bytes(model):
    """The bytes `model.save_weights` writes to a `.weights.h5`, made in memory.

    HDF5 writing onto a full disk can crash the process (h5py's error
    handling ends in SIGSEGV); in memory nothing can fail that way, and the
    bytes then go through `deconv_io.write_bytes_atomic`, whose disk-full
    error is one line with the old file intact. Keras's own HDF5 store
    takes an `io.BytesIO` (as for `.keras` archives in memory); its state
    walk is what `save_weights` runs, so the file is the same.
    """
    import io

    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None,  # noqa: SLF001
                           inner_path="", visited_saveables=set())
    store.close()
    return buffer.getvalue()


def convert_keras_to_tf1(src, dst, plan=None):
    """Writes a TF1 checkpoint (`a`, `a1`) from the Keras model's `.weights.h5`.

    The checkpoint holds the two kernels under the original's names, as a
    `tf.compat.v1.train.Saver` of the original graph restores them (with
    `var_list` naming `a` and `a1`: the image `Variable` was never a weight).

    Args:
        src: the `.weights.h5`.
        dst: the TF1 checkpoint prefix to write.
        plan: the plan already made by `plan_keras_to_tf1` (made if None).

    Returns:
        The `ConversionPlan`.

    Raises:
        InputError: unreadable source, a kernel missing or mismatched.
    """
    plan = plan or plan_keras_to_tf1(src, dst)
    _refuse_unless_ok(plan)
    import tensorflow as tf

    def write(prefix):
        with tf.Graph().as_default() as graph:
            variables = {TF1_NAMES[name]: tf.compat.v1.get_variable(
                TF1_NAMES[name], initializer=tf.constant(value)) for name, value in
                plan.kernels.items()}
            saver = tf.compat.v1.train.Saver(var_list=variables)
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                saver.save(sess, prefix, write_meta_graph=False, write_state=False)

    write_checkpoint_atomically(dst, write)
    return plan
