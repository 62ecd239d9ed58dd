"""Checkpoint files on disk: which prefix a path names, and atomic writes.

The paths side of `migration_audit.checkpoints`, with no TensorFlow at
import: a SRC folder resolves to the prefix its `checkpoint` state file
names, a DST folder to `DST/ckpt`; a DST is refused before any work when it
would overwrite its own source; a checkpoint is written in a scratch folder
and renamed onto its prefix, so a failed write leaves nothing half-written.
"""

import contextlib
import errno
import glob
import os
import re
from pathlib import Path

from deconv_io.atomic import OutputError, remove_stale_temps, temp_folder_beside
from deconv_io.errors import InputError
from deconv_io.paths import check_input_file, check_output_file, folder_of, is_dir, same_file

__all__ = ["DST_IN_FOLDER", "check_checkpoint_destination", "checkpoint_destination",
           "checkpoint_source", "missing_folders_made", "unescape_c",
           "write_checkpoint_atomically"]


#: The prefix written inside DST when DST names an existing folder.
DST_IN_FOLDER = "ckpt"
#: The data file `tf.train.Checkpoint.write` makes (one shard).
_DATA_SUFFIX = ".data-00000-of-00001"
_STATE_LINE = re.compile(rb'^[ \t]*model_checkpoint_path[ \t]*:[ \t]*'
                         rb'("(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')[ \t\r]*$', re.M)
_SIMPLE_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b'"': b'"', b"'": b"'",
                   b"\\": b"\\", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v",
                   b"?": b"?"}
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})"
                     rb"|U([0-9A-Fa-f]{8})|(.))", re.S)


def unescape_c(quoted):
    """The bytes of a text-proto string literal (quotes included), C escapes undone.

    TensorFlow writes the state file with protobuf's text format, which
    escapes every byte outside printable ASCII as octal (`\\303\\250` for
    UTF-8 `è`); `\\xHH`, `\\uHHHH` and the one-letter escapes are read too.

    Raises:
        ValueError: an unknown or incomplete escape (`"a\\x"`).

    Example:
    >>> unescape_c(b'"mod\\\\303\\\\250le"').decode()
    'modèle'
    """
    def one(match):
        octal, hexa, short, long, other = match.groups()
        if octal is not None:
            value = int(octal, 8)
            if value > 0xFF:
                raise ValueError(f"octal escape \\{octal.decode()} is over 255")
            return bytes([value])
        if hexa is not None:
            return bytes([int(hexa, 16)])
        if short is not None or long is not None:
            return chr(int(short or long, 16)).encode("utf-8", "surrogatepass")
        if other in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[other]
        raise ValueError("an unknown or incomplete escape \\"
                         + other.decode("ascii", "backslashreplace"))

    body = quoted[1:-1]
    if body.endswith(b"\\") and not body.endswith(b"\\\\"):
        raise ValueError("a string ends in a lone backslash")
    return _ESCAPE.sub(one, body)



def _latest_in_folder(folder):
    """The prefix a folder's `checkpoint` state file names, read without TensorFlow.

    (`tf.train.latest_checkpoint` logs warnings on a damaged state file and
    then reports no checkpoint at all.)

    Raises:
        InputError: no state file, an unreadable one, one without a
            `model_checkpoint_path` line, or a malformed string in it.
    """
    state = Path(folder) / "checkpoint"
    if not state.exists():
        raise InputError(f"No checkpoint found in folder {folder} (no 'checkpoint' file)")
    check_input_file(state, "Checkpoint state file")
    try:
        data = state.read_bytes()[:1 << 20]
    except OSError as e:
        raise InputError(f"Cannot read the checkpoint state file {state}: "
                         f"{e.strerror or e}") from None
    found = _STATE_LINE.search(data)
    if found is None:
        raise InputError(f"The 'checkpoint' file in {folder} is not a checkpoint state "
                         "(no model_checkpoint_path line)")
    try:
        # A path's bytes, as the file system takes them (UTF-8 where TF wrote it).
        prefix = Path(os.fsdecode(unescape_c(found[1])))
    except ValueError as e:
        raise InputError(f"The 'checkpoint' file in {folder} is malformed: its "
                         f"model_checkpoint_path has {e}") from None
    if "\x00" in str(prefix):
        raise InputError(f"The 'checkpoint' file in {folder} is malformed: its "
                         "model_checkpoint_path holds a NUL byte")
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
    # Whatever a killed run left in the folder written into (unlocked temps only).
    remove_stale_temps(folder_of(prefix))


def _data_files(prefix):
    folder = folder_of(prefix)
    with contextlib.suppress(OSError):
        return sorted(folder.glob(glob.escape(Path(prefix).name) + ".data-*"))
    return []


_OS_REASONS = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded",
               errno.EFBIG: "File too large", errno.EROFS: "Read-only file system",
               errno.EACCES: "Permission denied", errno.EIO: "Input/output error"}


def op_error_reason(error):
    """`(errno, reason)` of a TensorFlow write error: the OS reason, without TF's stack.

    A Saver's `OpError` message carries the failing op's Python stack
    ("defined at (most recent call last)") and, for `ResourceExhaustedError`,
    an out-of-memory hint: neither says why a file could not be written.
    The OS reason is kept when the message names one, else its first line.

    Example:
    >>> class E:
    ...     message = "x; No space left on device\\n\\t [[node save/SaveV2 (defined at a:1)]]"
    >>> op_error_reason(E())
    (28, 'No space left on device')
    """
    message = str(getattr(error, "message", "") or error)
    for number, text in _OS_REASONS.items():
        if text.lower() in message.lower():
            return number, text
    first = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    first = first.split(" [[", 1)[0].split("\t [[", 1)[0].strip()
    return errno.EIO, first or type(error).__name__


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
            number, reason = op_error_reason(e)
            raise OutputError(number, f"Cannot write checkpoint {prefix}: {reason}") from None
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
