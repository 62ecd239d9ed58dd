"""Checkpoint files on disk: which prefix a path names, and atomic writes.

The paths side of `migration_audit.checkpoints`, with no TensorFlow at
import: a SRC folder resolves to the prefix its `checkpoint` state file
names, a DST folder to `DST/ckpt`; a DST is refused before any work when it
would overwrite its own source; a checkpoint is written in a scratch folder
and renamed onto its prefix, so a failed write leaves nothing half-written.
"""

import contextlib
import glob
import os
import re
from pathlib import Path

from deconv_io.atomic import OutputError, remove_stale_temps, temp_folder_beside
from deconv_io.errors import InputError
from deconv_io.paths import check_input_file, check_output_file, folder_of, is_dir, same_file

__all__ = ["DST_IN_FOLDER", "check_checkpoint_destination", "checkpoint_destination",
           "checkpoint_source", "missing_folders_made", "write_checkpoint_atomically"]


#: The prefix written inside DST when DST names an existing folder.
DST_IN_FOLDER = "ckpt"
#: The data file `tf.train.Checkpoint.write` makes (one shard).
_DATA_SUFFIX = ".data-00000-of-00001"
_STATE_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"\s*$', re.M)


def _latest_in_folder(folder):
    """The prefix a folder's `checkpoint` state file names, read without TensorFlow.

    (`tf.train.latest_checkpoint` logs warnings on a damaged state file and
    then reports no checkpoint at all.)

    Raises:
        InputError: no state file, an unreadable one, or one without a
            `model_checkpoint_path` line.
    """
    state = Path(folder) / "checkpoint"
    if not state.exists():
        raise InputError(f"No checkpoint found in folder {folder} (no 'checkpoint' file)")
    check_input_file(state, "Checkpoint state file")
    try:
        text = state.read_bytes()[:1 << 20].decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"Cannot read the checkpoint state file {state}: {e}") from None
    found = _STATE_LINE.search(text)
    if found is None:
        raise InputError(f"The 'checkpoint' file in {folder} is not a checkpoint state "
                         "(no model_checkpoint_path line)")
    prefix = Path(found[1].encode().decode("unicode_escape"))
    return str(prefix if prefix.is_absolute() else Path(folder) / prefix)


def checkpoint_source(src):
    """SRC of `convert-checkpoint`, checked before TensorFlow is imported.

    Args:
        src: a checkpoint prefix (beside `SRC.index`) or a folder whose
            `checkpoint` state file names one.

    Returns:
        The prefix, a string.

    Raises:
        InputError: an empty name, no such checkpoint, an unreadable
            `.index`, a damaged state file.
    """
    if not str(src):
        raise InputError("SRC is empty: expected a checkpoint prefix or a folder")
    prefix = _latest_in_folder(src) if is_dir(src) else str(src)
    index = Path(f"{prefix}.index")
    if not index.exists():
        raise InputError(f"Checkpoint not found: {prefix} (expected the prefix of "
                         f"{prefix}.index and its data files)")
    check_input_file(index, "Checkpoint index")
    return prefix


def checkpoint_destination(dst):
    """DST of `convert-checkpoint`, as a checkpoint prefix.

    The contract: DST is a prefix; `DST.index` and `DST.data-00000-of-00001`
    are written. An existing folder (with or without a trailing slash)
    gets `DST/ckpt` inside it; a trailing slash on a folder that does not
    exist, or an empty DST, is refused.

    Example:
    >>> checkpoint_destination("out/model")
    'out/model'
    """
    dst = str(dst)
    if not dst:
        raise InputError("DST is empty: expected a checkpoint prefix such as out/ckpt")
    if is_dir(dst):
        return str(Path(dst) / DST_IN_FOLDER)
    if dst.endswith(os.sep):
        raise InputError(f"DST {dst}: folder {dst.rstrip(os.sep)} does not exist (a DST "
                         "ending in / names a folder to write ckpt.index in)")
    return dst


@contextlib.contextmanager
def missing_folders_made(path, label="DST"):
    """Creates the missing folders above `path`, as TensorFlow's `Saver.save` does.

    For the block that writes `path`: if the block fails, the folders made
    here are removed again (deepest first, only while empty), so a refused
    or failed conversion leaves the disk as it found it.

    Raises:
        InputError: a folder cannot be made (a file in the way, no
            permission), naming it.
    """
    missing = []
    folder = folder_of(path)
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made = []

    def remove_made():
        for made_folder in reversed(made):
            with contextlib.suppress(OSError):
                made_folder.rmdir()

    for new_folder in reversed(missing):
        try:
            new_folder.mkdir()
        except OSError as e:
            remove_made()
            raise InputError(f"{label} {path}: cannot create folder {new_folder}: "
                             f"{e.strerror}") from None
        made.append(new_folder)
    try:
        yield
    except BaseException:
        remove_made()
        raise


def check_checkpoint_destination(prefix, src_prefix):
    """Refuses a DST prefix whose files cannot be written safely, before any work.

    `DST.index` and `DST.data-00000-of-00001` must each be a regular file
    or absent (see `deconv_io.paths.check_output_file`), and neither of them
    a file of the source checkpoint. An existing checkpoint at DST is
    replaced (data file first, `.index` last).

    Raises:
        InputError: naming the first problem.
    """
    if same_file(f"{prefix}.index", f"{src_prefix}.index"):
        raise InputError(f"DST {prefix} is the source checkpoint itself; choose "
                         "another prefix")
    src_files = [Path(f"{src_prefix}.index"), *_data_files(src_prefix)]
    for suffix in (".index", _DATA_SUFFIX):
        check_output_file(f"{prefix}{suffix}", "DST", inputs=src_files, extra=0,
                          clean_stale=False)
    # The scratch folder a killed conversion to this prefix left behind.
    remove_stale_temps(folder_of(prefix), names={Path(prefix).name})


def _data_files(prefix):
    folder = folder_of(prefix)
    with contextlib.suppress(OSError):
        return sorted(folder.glob(glob.escape(Path(prefix).name) + ".data-*"))
    return []


def write_checkpoint_atomically(prefix, write):
    """Calls `write(scratch_prefix)`, then moves the files onto `prefix`.

    The files are written in a temporary folder `.NAME.<12 hex>.tmp` beside
    `prefix` (`deconv_io.atomic.temp_folder_beside`), flushed to disk, then
    renamed onto `prefix` (data files first, the `.index` last), so a failed
    write never leaves a half-written checkpoint under `prefix`.

    Returns:
        `prefix` as a string.
    """
    import tensorflow as tf

    prefix = Path(prefix)
    with temp_folder_beside(prefix) as scratch:
        try:
            write(str(scratch / "ckpt"))
        except tf.errors.OpError as e:
            raise OutputError(0, f"Cannot write checkpoint {prefix}: {e.message}") from None
        # Data files first, the .index (which makes the prefix readable) last.
        for path in sorted(scratch.iterdir(), key=lambda p: p.name.endswith(".index")):
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            target = f"{prefix}{path.name[len('ckpt'):]}"
            try:
                os.replace(path, target)
            except OSError as e:
                raise OutputError(e.errno, f"Cannot write {target}: {e.strerror}") from None
    return str(prefix)
