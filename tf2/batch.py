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

import dataclasses
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from deconv_io import DUMP_NAMES, load_image, save_npz_atomic
from deconv_io.errors import InputError
from deconv_io.images import DEFAULT_MAX_PIXELS

__all__ = ["BatchResult", "check_unique_stems", "dump_path", "expand_inputs", "image_files",
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
    return sorted(
        p for p in Path(folder).iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in extensions
    )


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
        if item.is_dir():
            found = image_files(item)
            if not found:
                raise InputError(f"Folder {item} holds no image files")
        elif item.exists():
            found = [item]
        else:
            raise InputError(f"Image or folder not found: {item}")
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                paths.append(path)
    return paths


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


def _decoded(paths, max_pixels):
    """Yields (index, image, error) for each path; never raises InputError.

    A bad file must not end the `tf.data` iteration, so its error travels as
    data (with an empty image) and is reported by the consumer.
    """
    empty = np.zeros((0, 0, 3), np.float32)
    for index, path in enumerate(paths):
        try:
            yield index, load_image(path, max_pixels=max_pixels), ""
        except InputError as e:
            yield index, empty, str(e)


def run_batch(demo, paths, output_dir, max_pixels=DEFAULT_MAX_PIXELS, skip_existing=False,
              progress=None, prog="tf2"):
    """Runs the demo on each image and writes `output_dir/<stem>.npz`.

    Each `.npz` holds the dump arrays (`image` 4-D, `conv_kernel`,
    `deconv_kernel`, `conv1`, `pool`, `output`), written atomically. A bad
    file (or one that cannot be written) is reported by name on stderr and
    skipped; the others go on.

    Args:
        demo: a `tf2.DeconvDemo`.
        paths: image files (see `expand_inputs`); their stems must be unique.
        output_dir: an existing folder.
        max_pixels: refuse larger images (see `deconv_io.load_image`).
        skip_existing: leave images whose `.npz` exists alone.
        progress: show a tqdm bar on stderr: True, False, or None (only when
            stderr is a terminal).
        prog: prefix of the messages.

    Returns:
        A `BatchResult`.

    Raises:
        InputError: two images share a stem (before anything is written).
    """
    import tensorflow as tf  # kept local: see the module docstring
    from tqdm import tqdm

    paths = [Path(p) for p in paths]
    check_unique_stems(paths)
    todo = [p for p in paths if not (skip_existing and dump_path(output_dir, p).exists())]
    skipped = len(paths) - len(todo)
    kernels = {"conv_kernel": demo.conv_kernel.numpy(),
               "deconv_kernel": demo.deconv_kernel.numpy()}
    dataset = tf.data.Dataset.from_generator(
        lambda: _decoded(todo, max_pixels),
        output_signature=(
            tf.TensorSpec((), tf.int64),
            tf.TensorSpec((None, None, 3), tf.float32),
            tf.TensorSpec((), tf.string),
        ),
    ).prefetch(tf.data.AUTOTUNE)

    written, failed = 0, []
    disable = None if progress is None else not progress  # None: only on a terminal
    with tqdm(total=len(todo), unit="image", file=sys.stderr, disable=disable,
              leave=False) as bar:
        for index, image, error in dataset:
            path = todo[int(index)]
            message = error.numpy().decode()
            if not message:
                try:
                    images = tf.expand_dims(image, 0)
                    stages = {k: v.numpy() for k, v in demo.stages(images).items()}
                    arrays = {"image": images.numpy(), **kernels, **stages}
                    save_npz_atomic(dump_path(output_dir, path),
                                    **{name: arrays[name] for name in DUMP_NAMES})
                    written += 1
                except OSError as e:
                    message = f"Cannot write {dump_path(output_dir, path)}: {e}"
            if message:
                failed.append(path)
                tqdm.write(f"{prog}: skipped {path}: {message}", file=sys.stderr)
            bar.update(1)
    return BatchResult(written=written, skipped=skipped, failed=tuple(failed))
