"""Several images or a folder: one `DIR/<stem>.npz` dump per image.

Images are decoded by `deconv_io.load_image` (Pillow, as the original and the
TF1 port read them, so each fed `image` is the very array the single-image
command lines feed; `tf.io.decode_jpeg`'s default DCT differs by up to 10
levels) inside a `tf.data` pipeline that prefetches the next image while
the current one is computed. Each image runs at its own size, batch 1,
through the once-traced `DeconvDemo.stages`.

The path helpers here do not import TensorFlow, so a command line can check
its inputs before TensorFlow is loaded.
"""

import contextlib
import dataclasses
import os
import stat
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from deconv_io import DUMP_NAMES, load_image, save_npz_atomic
from deconv_io.atomic import remove_stale_temps
from deconv_io.dumps import TILED_DUMP_NAMES, dump_bytes, dump_is_complete
from deconv_io.errors import InputError
from deconv_io.images import DEFAULT_MAX_PIXELS, peek_image_size
from deconv_io.paths import check_free_space, describe_mode, is_dir

__all__ = ["BatchResult", "check_batch_outputs", "check_unique_stems", "dump_path", "expand_inputs", "image_files",
           "run_batch"]


def image_files(folder):
    """Lists the image files of a folder (not recursive), sorted by name.

    A file counts as an image by its extension: any Pillow can open. Hidden
    files and sub-folders are ignored. A file with an image extension that
    turns out to be unreadable is still listed: `run_batch` reports it.

    Args:
        folder: a directory.

    Returns:
        A list of `pathlib.Path`.

    Example:
    >>> from deconv_io import default_image_path
    >>> [p.name for p in image_files(default_image_path().parent)]
    ['timg.jpg']
    """
    extensions = {ext.lower() for ext in Image.registered_extensions()}
    try:
        with os.scandir(folder) as entries:
            return sorted(
                Path(e.path) for e in entries
                if not e.name.startswith(".") and Path(e.name).suffix.lower() in extensions
                and e.is_file()
            )
    except OSError as e:
        raise InputError(f"Cannot list folder {folder}: {e.strerror or e}") from None


def expand_inputs(inputs):
    """Turns command-line IMAGE and FOLDER arguments into a list of image files.

    Args:
        inputs: paths; a folder stands for its `image_files`.

    Returns:
        The image paths in the order given (each folder's sorted), with a
        file named twice kept once.

    Raises:
        InputError: a path does not exist, or a folder holds no image file.
    """
    paths, seen = [], set()
    for item in inputs:
        item = Path(item)
        try:
            info = os.stat(item)
        except (FileNotFoundError, NotADirectoryError):
            raise InputError(f"Image or folder not found: {item}") from None
        except (OSError, ValueError) as e:
            raise InputError(f"Cannot access {item}: {getattr(e, 'strerror', None) or e}") \
                from None
        if stat.S_ISDIR(info.st_mode):
            found = image_files(item)
            if not found:
                raise InputError(f"Folder {item} holds no image files")
        else:
            found = [item]
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                paths.append(path)
    return paths


def check_batch_outputs(paths, output_dir, weights=None):
    """Refuses, before any work, a batch whose outputs cannot be written safely.

    Every `output_dir/<stem>.npz` that exists must be a regular file and
    none of the run's inputs (an image given by name, or the weights file).
    Temporary files that a killed run left in `output_dir` are removed.

    Raises:
        InputError: naming the first bad output.
    """
    output_dir = Path(output_dir)
    if not is_dir(output_dir):
        return
    inputs = {}
    for path in [*paths, weights]:
        with contextlib.suppress(OSError, TypeError, ValueError):
            info = os.stat(path)
            inputs[(info.st_dev, info.st_ino)] = path
    for path in paths:
        out = dump_path(output_dir, path)
        try:
            info = os.stat(out)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            raise InputError(f"--output-dir: cannot access {out}: {e.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"--output-dir: {out} is {describe_mode(info.st_mode)}; an "
                             "output must be a regular file or not exist yet")
        given = inputs.get((info.st_dev, info.st_ino))
        if given is not None:
            raise InputError(f"--output-dir: {out} is an input of this run ({given})")
    remove_stale_temps(output_dir)


def dump_path(output_dir, image_path):
    """The dump file of one image: `output_dir/<stem>.npz`."""
    return Path(output_dir) / f"{Path(image_path).stem}.npz"


def check_unique_stems(paths):
    """Refuses two different images that would write the same `<stem>.npz`.

    Raises:
        InputError: naming both files.
    """
    by_stem = {}
    for path in paths:
        other = by_stem.setdefault(Path(path).stem, path)
        if other is not path:
            raise InputError(
                f"{other} and {path} would both be written to {Path(path).stem}.npz; "
                "rename one or run them separately"
            )


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What a batch did: counts, and the images that failed."""

    written: int
    skipped: int
    failed: tuple

    @property
    def exit_status(self):
        """0 when nothing failed, else 1 (the command line's contract)."""
        return 1 if self.failed else 0


def _decoded(paths, max_pixels, refused):
    """Yields (index, image, error) for each path; never raises InputError.

    A bad file must not end the `tf.data` iteration, so its error travels as
    data (with an empty image) and is reported by the consumer. Files whose
    size the memory plan refused (`refused`: index -> message) are not
    decoded.
    """
    empty = np.zeros((0, 0, 3), np.float32)
    for index, path in enumerate(paths):
        if index in refused:
            yield index, empty, refused[index]
            continue
        try:
            yield index, load_image(path, max_pixels=max_pixels), ""
        except InputError as e:
            yield index, empty, str(e)


def _plans(paths, budget):
    """Each image's memory plan from its header (as single-image mode makes it).

    Returns:
        `(plans, refused)`: index -> `MemoryPlan` for the images whose
        header gives a size, and index -> message for those refused.
    """
    from tf2.memory_plan import plan_memory

    plans, refused = {}, {}
    for index, path in enumerate(paths):
        size = peek_image_size(path)
        if size is None:
            continue  # load_image reports what is wrong with the file
        try:
            plans[index] = plan_memory(1, *size, budget=budget)
        except InputError as e:
            refused[index] = str(e)
    return plans, refused


def _compute(demo, images, plan):
    """The dump arrays of one image: tiled (output only) when the plan says so."""
    from tf2.tiling import run_tiled

    if plan is not None and plan.tiled:
        return {"output": run_tiled(demo, images.numpy(), plan.tile, compute="output")}
    return {k: v.numpy() for k, v in demo.stages(images).items()}


def _is_done(output_dir, path, skip_existing):
    if not skip_existing:
        return False
    out = dump_path(output_dir, path)
    if not out.is_file():
        return False
    size = peek_image_size(path)
    return dump_is_complete(out, *(size or (None, None)))


def run_batch(demo, paths, output_dir, max_pixels=DEFAULT_MAX_PIXELS, skip_existing=False,
              progress=None, prog="tf2", budget=None):
    """Runs the demo on each image and writes `output_dir/<stem>.npz`.

    Each `.npz` holds the dump arrays (`image` 4-D, `conv_kernel`,
    `deconv_kernel`, `conv1`, `pool`, `output`), written atomically. Each
    image's memory is planned as in single-image mode (`tf2.tiling.
    plan_memory`): one too large for the untiled run is computed in tiles
    and its `.npz` holds `image`, the kernels and `output` only. A bad
    file, one that cannot fit even tiled, runs out of memory, or cannot be
    written is reported by name on stderr and skipped; the others go on.

    Args:
        demo: a `tf2.DeconvDemo`.
        paths: image files (see `expand_inputs`); their stems must be unique.
        output_dir: an existing folder.
        max_pixels: refuse larger images (see `deconv_io.load_image`).
        skip_existing: leave images whose `.npz` exists and holds the
            expected arrays alone (`deconv_io.dumps.dump_is_complete`); a
            truncated or damaged one is redone.
        progress: show a tqdm bar on stderr: True, False, or None (only when
            stderr is a terminal).
        prog: prefix of the messages.
        budget: memory budget per image in bytes; None: half the memory
            available.

    Returns:
        A `BatchResult`.

    Raises:
        InputError: two images share a stem (before anything is written).
    """
    import tensorflow as tf  # kept local: see the module docstring
    from tqdm import tqdm

    paths = [Path(p) for p in paths]
    check_unique_stems(paths)
    todo = [p for p in paths if not _is_done(output_dir, p, skip_existing)]
    skipped = len(paths) - len(todo)
    plans, refused = _plans(todo, budget)
    kernels = {"conv_kernel": demo.conv_kernel.numpy(),
               "deconv_kernel": demo.deconv_kernel.numpy()}
    dataset = tf.data.Dataset.from_generator(
        lambda: _decoded(todo, max_pixels, refused),
        output_signature=(
            tf.TensorSpec((), tf.int64),
            tf.TensorSpec((None, None, 3), tf.float32),
            tf.TensorSpec((), tf.string),
        ),
    ).prefetch(1)

    written, failed = 0, []
    disable = None if progress is None else not progress  # None: only on a terminal
    with tqdm(total=len(todo), unit="image", file=sys.stderr, disable=disable,
              leave=False) as bar:
        for index, image, error in dataset:
            index = int(index)
            path = todo[index]
            message = error.numpy().decode()
            if not message:
                out = dump_path(output_dir, path)
                try:
                    plan = plans.get(index)
                    names = TILED_DUMP_NAMES if plan is not None and plan.tiled else DUMP_NAMES
                    check_free_space(output_dir, dump_bytes(*image.shape[:2], names=names),
                                     str(out))
                    images = tf.expand_dims(image, 0)
                    stages = _compute(demo, images, plan)
                    arrays = {"image": images.numpy(), **kernels, **stages}
                    save_npz_atomic(out, **{n: arrays[n] for n in DUMP_NAMES if n in arrays})
                    written += 1
                except InputError as e:  # OutputError too: disk full, a size limit
                    message = str(e)
                except MemoryError:
                    message = "not enough memory for this image (see --max-memory)"
                except tf.errors.ResourceExhaustedError:
                    message = "TensorFlow ran out of memory for this image (see --max-memory)"
            if message:
                failed.append(path)
                tqdm.write(f"{prog}: skipped {path}: {' '.join(message.splitlines())}",
                           file=sys.stderr)
            bar.update(1)
    return BatchResult(written=written, skipped=skipped, failed=tuple(failed))
