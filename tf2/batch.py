"""Several images or a folder: the outputs each image produces, in `DIR`.

What each image produces is chosen by `outputs` (`deconv_io.outputs`): the
picture `DIR/<stem>.png`, the `output` array `DIR/<stem>.npy`, and/or the
full dump `DIR/<stem>.npz`; by default the first two. Without the dump only
the `output` stage is computed (`DeconvDemo.fast_path`: only the conv
channels the deconv kernel reads); with it, every stage (`DeconvDemo.stages`,
the dump's `output` then being the one written everywhere).

Three stages overlap, each bounded so that memory stays flat however many
images a folder holds:

- decoding: a small thread pool runs `deconv_io.load_image` (Pillow, as the
  single-image command lines read files, so each fed `image` is the very
  array they feed; Pillow and NumPy's casts release the GIL) a few images
  ahead, at most `_AHEAD_BYTES` of decoded pixels, and never a second image
  while one too large for the untiled run is held;
- computing: in the calling thread, one image at a time, at its own size,
  batch 1, tiled where its memory plan says so (as single-image mode);
- writing: a pool of writer threads writes image k's files (atomically)
  while image k+1 is computed, at most a few images and `_AHEAD_BYTES` of
  arrays behind.

A bad file, or one that cannot fit, cannot be computed or written, is
reported by name and skipped; the others go on. The path helpers
(`tf2.batch_paths`) do not import TensorFlow, so a command
line can check its inputs before TensorFlow is loaded.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from deconv_io.atomic import atomic_path, save_npz_atomic
from deconv_io.dumps import DUMP_NAMES
from deconv_io.errors import InputError, is_tensorflow_out_of_memory
from deconv_io.images import DEFAULT_MAX_PIXELS, load_image, peek_image_size
from deconv_io.outputs import DEFAULT_OUTPUTS, output_bytes, output_is_complete, outputs_bytes
from deconv_io.paths import check_free_space
from deconv_io.picture import PNG_COMPRESS_LEVEL, save_picture_atomic

# The inputs and outputs of a folder run, checked before TensorFlow is loaded.
from tf2.batch_paths import check_unique_stems, output_paths

__all__ = ["BatchResult", "run_batch"]


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


# --- the calls into tf2 (kept here, together) ------------------------------------


def _plans(paths, budget):
    """Each image's size and memory plan from its header (as single-image mode makes it).

    Returns:
        `(sizes, plans, refused)`: index -> `(height, width)` and index ->
        `MemoryPlan` for the images whose header gives a size, and index ->
        message for those the plan refuses.
    """
    from tf2.memory_plan import plan_memory

    sizes, plans, refused = {}, {}, {}
    for index, path in enumerate(paths):
        size = peek_image_size(path)
        if size is None:
            continue  # load_image reports what is wrong with the file
        sizes[index] = size
        try:
            plans[index] = plan_memory(1, *size, budget=budget)
        except InputError as e:
            refused[index] = str(e)
    return sizes, plans, refused


def _compute(demo, image, plan, all_stages):
    """The arrays of one (H, W, 3) image: `output`, and every stage when asked.

    Returns:
        A dict of NumPy arrays: `output` (1, H', W', 3), plus `conv1` and
        `pool` when `all_stages` and the image runs untiled.
    """
    import tensorflow as tf

    if plan is not None and plan.tiled:
        from tf2.tiling import run_tiled

        return {"output": run_tiled(demo, image[None], plan.tile, compute="output")}
    images = tf.convert_to_tensor(image[None])
    if all_stages:
        return {name: t.numpy() for name, t in demo.stages(images).items()}
    return {"output": demo.fast_path(images).numpy()}


# --- the pipeline ----------------------------------------------------------------

#: Decoded images held ahead of the computation, and arrays waiting to be
#: written, each at most this many bytes (besides one image, however large).
_AHEAD_BYTES = 256 * 2**20


def _default_threads():
    return max(1, min(4, os.cpu_count() or 1))


def _is_done(output_dir, path, outputs, skip_existing):
    """Whether every requested output of `path` exists and is whole."""
    if not skip_existing:
        return False
    size = peek_image_size(path) or (None, None)
    return all(out.is_file() and output_is_complete(kind, out, *size)
               for kind, out in output_paths(output_dir, path, outputs).items())


def _decode(path, max_pixels, refused):
    """`(image, message)`: the decoded image, or why not (never raises InputError)."""
    if refused is not None:
        return None, refused
    try:
        return load_image(path, max_pixels=max_pixels), ""
    except InputError as e:
        return None, str(e)


def _save_output(path, array):
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def _write(kind, path, arrays, normalize, png_level):
    """Writes one output file; returns "" or why it failed."""
    try:
        if kind == "picture":
            save_picture_atomic(path, arrays["output"][0], normalize=normalize, level=png_level)
        elif kind == "output":
            _save_output(path, arrays["output"])
        else:
            save_npz_atomic(path, **{n: arrays[n] for n in DUMP_NAMES if n in arrays})
    except InputError as e:  # OutputError too: disk full, a size limit, interrupted
        return str(e)
    except MemoryError:
        return "not enough memory to write this image's outputs"
    return ""


class _Pipeline:
    """Bounded queues of decodes ahead and writes behind the computation."""

    def __init__(self, todo, max_pixels, refused, sizes, plans, decoders):
        self._todo, self._max_pixels, self._refused = todo, max_pixels, refused
        self._plans = plans
        self._bytes = {i: 4 * h * w * 3 for i, (h, w) in sizes.items()}
        self._decoders = decoders
        self._next = 0
        self.decoding = collections.deque()  # (index, future, bytes)
        self.writing = collections.deque()  # (index, futures, bytes)

    def _heavy(self, index):
        plan = self._plans.get(index)
        return plan is not None and plan.tiled

    def fill(self, limit):
        """Submits decodes while fewer than `limit` images and `_AHEAD_BYTES` are ahead.

        An image that will be tiled is decoded only with nothing else ahead,
        and nothing is queued behind it.
        """
        while self._next < len(self._todo) and len(self.decoding) < limit:
            index, need = self._next, self._bytes.get(self._next, 0)
            held = sum(b for _, _, b in self.decoding)
            if self.decoding and (held + need > _AHEAD_BYTES or self._heavy(index)
                                  or self._heavy(self.decoding[-1][0])):
                return
            future = self._decoders.submit(_decode, self._todo[index], self._max_pixels,
                                           self._refused.get(index))
            self.decoding.append((index, future, need))
            self._next += 1

    def pending_write_bytes(self):
        return sum(b for _, _, b in self.writing)


def run_batch(demo, paths, output_dir, max_pixels=DEFAULT_MAX_PIXELS, skip_existing=False,
              progress=None, prog="tf2", budget=None, outputs=DEFAULT_OUTPUTS,
              normalize=False, threads=None, png_level=PNG_COMPRESS_LEVEL):
    """Runs the demo on each image and writes the `outputs` of each to `output_dir`.

    Each image's memory is planned as in single-image mode
    (`tf2.memory_plan.plan_memory`): one too large for the untiled run is computed in tiles,
    and its dump (`stages`) then holds `image`, the kernels and `output`
    only. A bad file, one that cannot fit even tiled, runs out of memory,
    or whose outputs cannot be written is reported by name on stderr and
    skipped; the others go on. Every file is written atomically; an image
    counts as written when all its outputs are.

    Args:
        demo: a `tf2.DeconvDemo`.
        paths: image files (see `expand_inputs`); their stems must be unique.
        output_dir: an existing folder.
        max_pixels: refuse larger images (see `deconv_io.load_image`).
        skip_existing: leave images all of whose requested outputs exist and
            are whole (`deconv_io.outputs.output_is_complete`) alone; one
            with a truncated, damaged or missing output is redone.
        progress: show a tqdm bar on stderr: True, False, or None (only when
            stderr is a terminal).
        prog: prefix of the messages.
        budget: memory budget per image in bytes; None: half the memory
            available.
        outputs: the kinds each image produces (`deconv_io.outputs`:
            "picture", "output", "stages").
        normalize: draw the picture rescaled to its own min..max.
        threads: decoding threads, and writing threads (None: up to 4).
        png_level: zlib level of the picture, 0 (stored, the default) to 9.

    Returns:
        A `BatchResult`.

    Raises:
        InputError: two images share a stem (before anything is written).
    """
    from tqdm import tqdm

    outputs = tuple(outputs)
    threads = threads or _default_threads()
    paths = [Path(p) for p in paths]
    check_unique_stems(paths)
    todo = [p for p in paths if not _is_done(output_dir, p, outputs, skip_existing)]
    skipped = len(paths) - len(todo)
    sizes, plans, refused = _plans(todo, budget)
    kernels = demo.kernels() if "stages" in outputs else {}
    written, failed = 0, []
    disable = None if progress is None else not progress  # None: only on a terminal

    def report(index, messages):
        nonlocal written
        message = "; ".join(m for m in messages if m)
        if message:
            failed.append(todo[index])
            tqdm.write(f"{prog}: skipped {todo[index]}: {' '.join(message.splitlines())}",
                       file=sys.stderr)
        else:
            written += 1
        bar.update(1)

    def finish_writes(keep):
        """Reports finished writes in order, waiting until at most `keep` are left."""
        while pipe.writing and (len(pipe.writing) > keep or all(
                f.done() for f in pipe.writing[0][1])):
            index, futures, _ = pipe.writing.popleft()
            report(index, [f.result() for f in futures])

    with contextlib.ExitStack() as stack:
        decoders = stack.enter_context(concurrent.futures.ThreadPoolExecutor(
            threads, thread_name_prefix="deconv-decode"))
        writers = stack.enter_context(concurrent.futures.ThreadPoolExecutor(
            threads, thread_name_prefix="deconv-write"))
        bar = stack.enter_context(tqdm(total=len(todo), unit="image", file=sys.stderr,
                                       disable=disable, leave=False))
        pipe = _Pipeline(todo, max_pixels, refused, sizes, plans, decoders)
        while True:
            if not pipe.decoding:
                pipe.fill(threads + 1)
                if not pipe.decoding:
                    break
            index, future, _ = pipe.decoding.popleft()
            plan = plans.get(index)
            tiled = plan is not None and plan.tiled
            if not tiled:  # a tiled image is held alone: nothing is decoded meanwhile
                pipe.fill(threads + 1)
            image, message = future.result()
            if message:
                report(index, [message])
                continue
            height, width = image.shape[:2]
            need = outputs_bytes(outputs, height, width, tiled)
            # Writes behind, and the arrays they hold, stay bounded too, and
            # within the image's memory budget beside its computation.
            while pipe.writing and (pipe.pending_write_bytes() + need > _AHEAD_BYTES
                                    or len(pipe.writing) >= threads or tiled
                                    or (plan is not None and pipe.pending_write_bytes()
                                        + plan.estimate > plan.budget)):
                finish_writes(len(pipe.writing) - 1)
            files = output_paths(output_dir, todo[index], outputs)
            try:
                for kind, out in files.items():  # each file: the free space, `ulimit -f`
                    check_free_space(output_dir, output_bytes(kind, height, width, tiled),
                                     str(out))
                arrays = _compute(demo, image, plan, "stages" in outputs and not tiled)
            except InputError as e:  # the free-space check
                report(index, [str(e)])
                continue
            except MemoryError:
                report(index, ["not enough memory for this image (see --max-memory)"])
                continue
            except Exception as e:  # noqa: BLE001 - TensorFlow's, without importing it here
                if not is_tensorflow_out_of_memory(e):
                    raise
                report(index, ["TensorFlow ran out of memory for this image (see --max-memory)"])
                continue
            if "stages" in outputs:
                arrays = {"image": image[None], **kernels, **arrays}
            futures = [writers.submit(_write, kind, out, arrays, normalize, png_level)
                       for kind, out in files.items()]
            pipe.writing.append((index, futures, need))
            del arrays, image
            finish_writes(len(pipe.writing))
        finish_writes(0)
    return BatchResult(written=written, skipped=skipped, failed=tuple(failed))
