"""Benchmark: folder mode end to end, against the computation alone and the TF1 demo per image.

It makes a folder of seeded, photo-like JPEGs (smooth gradients and blobs
plus noise, 750 high x 500 wide like `data/timg.jpg`) in a temporary folder
and measures, in images per second:

- `compute_only`: `DeconvDemo.fast_path` on each decoded image already in
  memory (batch 1, tensor in and NumPy out), after a warm-up that makes the
  fast path's measured choice for the shape: what folder mode's default
  outputs need computed, with no decoding or writing;
- `folder_default_process`: `python -m tf2 FOLDER --output-dir OUT` with the
  default outputs (picture and output array), the whole process's wall
  time, TensorFlow's import and the fast path's warm-up included;
- `folder_default_in_process`: `tf2.batch.run_batch` in this process with a
  fresh `DeconvDemo` (tracing and the fast path's measurement included,
  TensorFlow's import not), and `folder_default_in_process_warm`: the same
  run again into another folder with that demo (steady state);
- `folder_stages_process`: as the first process run, with `--outputs stages`
  (the full 64-channel dump, folder mode's only output before `--outputs`);
- `legacy_tf1_per_image`: `python -m legacy_tf1 IMAGE --save X.png
  --no-show` once per image for the first `--legacy-images` images (a whole
  process each), extrapolated to the folder as images per second.

The ratio folder mode / compute only (`ratios`) is reported for each folder
run; the issue's target (>= 0.7) is judged on the steady state, since a
64-image process run is dominated by TensorFlow's import (both reported).

`--memory N` (default 2000; 0 skips it) runs `python -m tf2` over N hard links
of one small JPEG (`--memory-size`, default 160x120, so the outputs fit a
small disk) and samples the child's resident memory (VmRSS from /proc) as
the outputs appear: `memory` gives the RSS once 100 images are written and
the highest RSS over the last 100, to show that memory stays flat.

Timings on a shared machine are noisy; nothing here asserts a speed.

Usage:
    python -m benchmarks.folder [--quick] [--json OUT.json] [--images 64] [--memory 2000]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["build_parser", "main", "make_images"]

_REPO = Path(__file__).resolve().parents[1]
_HEIGHT, _WIDTH = 750, 500
TARGET_RATIO = 0.7


def make_images(folder, count, height=_HEIGHT, width=_WIDTH, seed=0, quality=90):
    """Writes `count` seeded, photo-like JPEGs `img0000.jpg`... into `folder`.

    Each is smooth colour gradients and a few soft blobs plus pixel noise:
    what a camera JPEG costs to decode and compress, unlike flat colour or
    pure noise.

    Returns:
        The list of paths.

    Example:
    >>> import tempfile
    >>> [p.name for p in make_images(Path(tempfile.mkdtemp()), 2, 12, 8)]
    ['img0000.jpg', 'img0001.jpg']
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / max(height - 1, 1), x / max(width - 1, 1)
    paths = []
    for i in range(count):
        base = rng.uniform(0, 255, 3)
        slope = rng.uniform(-120, 120, (2, 3))
        picture = base + y[..., None] * slope[0] + x[..., None] * slope[1]
        for _ in range(4):
            cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
            blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
            picture += blob[..., None] * rng.uniform(-100, 100, 3)
        picture += rng.normal(0, 6, picture.shape)
        path = Path(folder) / f"img{i:04d}.jpg"
        Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(path, quality=quality)
        paths.append(path)
    return paths


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    return env


def _run_process(argv, label):
    """Runs `python ARGV` from the repository root; returns its wall time."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=_REPO, env=_env(), capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"folder benchmark: {label} failed ({done.returncode}): "
                         f"{done.stderr.strip()[-2000:]}")
    return seconds


def _result(variant, images, seconds, note):
    return {"variant": variant, "images": images, "seconds": round(seconds, 4),
            "images_per_s": round(images / seconds, 3), "note": note}


def _compute_only(paths, repeats):
    import tensorflow as tf

    from deconv_io.images import load_image
    from tf2.demo import DeconvDemo

    images = [load_image(p) for p in paths]
    demo = DeconvDemo(seed=0)
    for _ in range(3):  # first call: window; second: both measured; third: the choice
        demo.fast_path(tf.convert_to_tensor(images[0][None])).numpy()
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            demo.fast_path(tf.convert_to_tensor(image[None])).numpy()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    choice = demo.fast_path.choice_for((1, *images[0].shape))
    return best, choice


def _in_process(paths, work, threads):
    from tf2.batch import run_batch
    from tf2.demo import DeconvDemo

    demo = DeconvDemo(seed=0)
    times = []
    for name in ("cold", "warm"):
        out = work / f"in_process_{name}"
        out.mkdir()
        start = time.perf_counter()
        result = run_batch(demo, paths, out, progress=False, threads=threads)
        times.append(time.perf_counter() - start)
        if result.written != len(paths):
            raise SystemExit(f"folder benchmark: run_batch wrote {result.written} of {len(paths)}")
        shutil.rmtree(out)
    return times


def _count(folder, suffix):
    try:
        with os.scandir(folder) as entries:
            return sum(1 for e in entries if e.name.endswith(suffix) and not e.name.startswith("."))
    except OSError:
        return 0


def _memory(count, size, work, threads):
    """Folder mode over `count` links of one small JPEG, the child's RSS sampled."""
    from deconv_io.memory import resident_bytes

    folder, out = work / "memory_images", work / "memory_out"
    folder.mkdir()
    (source,) = make_images(work, 1, *size, seed=1)
    for i in range(count):
        os.link(source, folder / f"m{i:05d}.jpg")
    process = subprocess.Popen([sys.executable, "-m", "tf2", str(folder), "--output-dir",
                                str(out), *threads], cwd=_REPO, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []  # (images written, rss bytes)
    while process.poll() is None:
        rss = resident_bytes(process.pid)
        if rss is not None:
            samples.append((_count(out, ".npy"), rss))
        time.sleep(0.1)
    err = process.stderr.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"folder benchmark: memory run failed: {err.strip()[-2000:]}")
    first = [rss for done, rss in samples if done >= min(100, count)]
    last = [rss for done, rss in samples if done >= count - 100]
    mb = lambda b: round(b / 2**20, 1)  # noqa: E731
    return {"images": count, "height": size[0], "width": size[1], "samples": len(samples),
            "rss_first_mb": mb(first[0]) if first else None,
            "rss_last_mb": mb(max(last)) if last else None,
            "rss_peak_mb": mb(max(rss for _, rss in samples)) if samples else None,
            "note": "rss_first: once min(100, N) images were written; rss_last: the highest "
                    "over the last 100 written (VmRSS of the python -m tf2 child)"}


def build_parser():
    from deconv_runtime.cli import add_version_argument

    parser = argparse.ArgumentParser(prog="python -m benchmarks.folder",
                                     description=__doc__.split("\n\n")[0])
    add_version_argument(parser, "folder")
    parser.add_argument("--images", type=int, default=64,
                        help="JPEGs of 750x500 in the folder (default 64)")
    parser.add_argument("--legacy-images", type=int, default=3,
                        help="images run through python -m legacy_tf1, one process each "
                             "(default 3; extrapolated per image)")
    parser.add_argument("--memory", type=int, default=2000, metavar="N",
                        help="folder mode over N small images for the memory check (0: skip)")
    parser.add_argument("--memory-size", default="160x120", metavar="HxW",
                        help="size of the memory check's image (default 160x120)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="compute-only passes over the images; the fastest is kept")
    parser.add_argument("--io-threads", type=int, default=None, metavar="N",
                        help="passed to every folder-mode run (default: its own)")
    parser.add_argument("--quick", action="store_true",
                        help="8 images, 1 legacy run, a 200-image memory check, 1 repeat")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json",
                        help="also write the results as JSON")
    return parser


def main(argv=None):
    """Runs the benchmark, prints a table, optionally writes JSON; returns 0."""
    args = build_parser().parse_args(argv)
    if args.quick:
        args.images, args.legacy_images, args.repeats = 8, 1, 1
        args.memory = min(args.memory, 200)
    memory_size = tuple(int(v) for v in args.memory_size.lower().split("x"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The machine description is bench.py's, so both benchmarks say the same.
    from benchmarks.timing import machine_info

    work = Path(tempfile.mkdtemp(prefix="folder-bench-"))
    try:
        folder = work / "images"
        folder.mkdir()
        paths = make_images(folder, args.images)
        n = len(paths)
        results = []
        compute, choice = _compute_only(paths, args.repeats)
        results.append(_result("compute_only", n, compute,
                               f"DeconvDemo.fast_path per decoded image, fastest of "
                               f"{args.repeats} passes after warm-up (choice: {choice})"))
        cold, warm = _in_process(paths, work, args.io_threads)
        threads = [] if args.io_threads is None else ["--io-threads", str(args.io_threads)]
        results.append(_result("folder_default_in_process", n, cold,
                               "run_batch, default outputs, fresh DeconvDemo (tracing and the "
                               "fast path's measurement included; TensorFlow's import not)"))
        results.append(_result("folder_default_in_process_warm", n, warm,
                               "run_batch again with the same DeconvDemo (steady state)"))
        process = _run_process(["-m", "tf2", str(folder), "--output-dir", str(work / "out"),
                                *threads], "python -m tf2")
        results.append(_result("folder_default_process", n, process,
                               "python -m tf2 FOLDER --output-dir OUT, whole process"))
        shutil.rmtree(work / "out")
        stages = _run_process(["-m", "tf2", str(folder), "--output-dir", str(work / "out"),
                               "--outputs", "stages", *threads],
                              "python -m tf2 --outputs stages")
        results.append(_result("folder_stages_process", n, stages,
                               "python -m tf2 FOLDER --output-dir OUT --outputs stages, whole "
                               "process"))
        shutil.rmtree(work / "out")
        legacy = [_run_process(["-m", "legacy_tf1", str(p), "--save", str(work / "l.png"),
                                "--no-show"], "python -m legacy_tf1")
                  for p in paths[:args.legacy_images]]
        per_image = sum(legacy) / len(legacy)
        results.append(_result("legacy_tf1_per_image", n, per_image * n,
                               f"python -m legacy_tf1 IMAGE --save X.png --no-show, one process "
                               f"per image: {len(legacy)} run(s), mean {per_image:.2f} s, "
                               f"extrapolated to {n} images"))
        by = {r["variant"]: r["images_per_s"] for r in results}
        ratios = {f"{name}_over_compute_only": round(by[variant] / by["compute_only"], 3)
                  for name, variant in (("default", "folder_default_in_process_warm"),
                                        ("default_cold", "folder_default_in_process"),
                                        ("default_process", "folder_default_process"),
                                        ("stages_process", "folder_stages_process"))}
        ratios["default_process_over_legacy"] = round(
            by["folder_default_process"] / by["legacy_tf1_per_image"], 2)
        memory = _memory(args.memory, memory_size, work, threads) if args.memory > 0 else {}
        doc = {"machine": machine_info(), "io_threads": args.io_threads, "images": n,
               "height": _HEIGHT, "width": _WIDTH,
               "results": results, "ratios": ratios,
               "target": {"ratio": TARGET_RATIO, "on": "default_over_compute_only",
                          "met": ratios["default_over_compute_only"] >= TARGET_RATIO},
               "memory": memory}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'variant':34} {'images':>6} {'seconds':>9} {'images/s':>9}")
    for r in results:
        print(f"{r['variant']:34} {r['images']:6d} {r['seconds']:9.3f} {r['images_per_s']:9.2f}")
    for name, value in ratios.items():
        print(f"{name}: {value}")
    print(f"target: default_over_compute_only >= {TARGET_RATIO}: "
          f"{'met' if doc['target']['met'] else 'not met'}")
    if memory:
        print(f"memory over {memory['images']} images of {memory['height']}x{memory['width']}: "
              f"RSS {memory['rss_first_mb']} MB after 100, at most {memory['rss_last_mb']} MB "
              f"over the last 100 (peak {memory['rss_peak_mb']} MB)")
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
