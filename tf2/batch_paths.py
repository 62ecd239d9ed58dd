"""Folder mode's paths: the images a run reads and the files it writes, checked up front.

No TensorFlow here: a command line checks every input and output path
before TensorFlow is loaded (`tf2.batch` runs the images).
"""

import contextlib
import os
import stat
from pathlib import Path

from PIL import Image

from deconv_io.atomic import remove_stale_temps
from deconv_io.errors import InputError
from deconv_io.outputs import DEFAULT_OUTPUTS, output_path
from deconv_io.paths import describe_mode, is_dir

__all__ = ["check_batch_outputs", "check_unique_stems", "expand_inputs", "image_files",
           "output_paths"]


def image_files(folder):
    """Lists the image files of a folder (not recursive), sorted by name.

    A file counts as an image by its extension: any Pillow can open. Hidden
    files and sub-folders are ignored. An entry with an image extension that
    turns out to be unreadable (a looping or dangling link, a file removed
    meanwhile) is still listed: `run_batch` reports it as that file's failure.

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
            return sorted(Path(e.path) for e in entries
                          if not e.name.startswith(".")
                          and Path(e.name).suffix.lower() in extensions and _listed(e))
    except OSError as e:
        raise InputError(f"Cannot list folder {folder}: {e.strerror or e}") from None


def _listed(entry):
    """Whether a folder entry with an image extension is one of the run's images.

    Sub-folders (and links to them) are not. Anything else is: a file, and
    also an entry that cannot be looked at (a looping or dangling link, one
    gone since the listing), which the run then reports as that file's
    failure instead of failing the whole folder.
    """
    try:
        return not entry.is_dir()
    except OSError:
        return True


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
            key = os.path.realpath(path)  # never raises, even on a looping link
            if key not in seen:
                seen.add(key)
                paths.append(path)
    return paths


def output_paths(output_dir, image_path, outputs=DEFAULT_OUTPUTS):
    """`{kind: path}` of one image's outputs: `output_dir/<stem>.png`, `.npy`, `.npz`.

    Example:
    >>> {k: p.name for k, p in output_paths("out", "a/b.jpg", ("picture", "output")).items()}
    {'picture': 'b.png', 'output': 'b.npy'}
    """
    stem = Path(image_path).stem
    return {kind: output_path(output_dir, stem, kind) for kind in outputs}


def check_batch_outputs(paths, output_dir, weights=None, outputs=DEFAULT_OUTPUTS):
    """Refuses, before any work, a batch whose outputs cannot be written safely.

    Every output of `outputs` (see `output_paths`) that exists must be a
    regular file and none of the run's inputs (an image, e.g. `<stem>.png`
    when the output folder is the input folder, or the weights file).
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
        for out in output_paths(output_dir, path, outputs).values():
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


def check_unique_stems(paths):
    """Refuses two different images that would write the same `<stem>.*` files.

    Raises:
        InputError: naming both files.
    """
    by_stem = {}
    for path in paths:
        other = by_stem.setdefault(Path(path).stem, path)
        if other is not path:
            raise InputError(
                f"{other} and {path} would both be written to {Path(path).stem}.*; "
                "rename one or run them separately"
            )
