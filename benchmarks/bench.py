"""Benchmark: the faithful TF1 session against the TF2 variants, in one run.

What is timed, per variant, for one batch of float32 images (N, H, W, 3)
given as a NumPy array, until the NumPy `output` (N, 2*ceil(H/2),
2*ceil(W/2), 3) is in hand:

- `tf1_session`: the faithful port's graph (`legacy_tf1.build_graph`:
  image variable, kernels `a`/`a1`, conv2d -> max_pool -> conv2d_transpose)
  is built ONCE per batch shape, outside the timing, and its variables are
  initialised; the kernels are then set to the TF2 module's. Each timed call
  is one `sess.run(output, feed_dict={image_read: batch})`, where
  `image_read` is the tensor through which conv2d reads the image variable:
  the batch is fed in place of the variable's value (checked once against
  the variable itself, bit for bit). Timed: the feed, the three ops (all 64
  conv channels), the fetch of `output`.
- `tf2_eager`: `tf2.demo_stages(batch, conv_kernel, deconv_kernel)["output"]
  .numpy()` with the module's kernel variables, op by op (all 64 channels).
- `tf2_function`: the same function as one `tf.function` (input signature
  `[None, None, None, 3]`, traced once in the warm-up) returning `output`
  only, as `sess.run(output)` fetches only `output`. (`DeconvDemo.stages`
  returns all three stages, so its `conv1`, 1.5 GB at batch 16, outlives
  the call: measured 10-30% slower at batch 16, the cost of the extra
  output, not of TF2.)
- `tf2_xla`: that `tf.function` with `jit_compile=True` (compiled in the
  warm-up, one compile per shape).
- `tf2_fast`: `DeconvDemo.fast_path(batch)`, what `demo.output(x)`
  runs: the output-only implementation measured fastest for this shape here
  (`tf2.fast_path`: the choice is made in the warm-up and reported).
- `tf2_fast_window`: `DeconvDemo.output_window(batch)`: only the conv channels the
  deconv kernel reads (3 of 64), the conv and pool as one stride-2 3 -> 12
  channel conv over each pool window and an XLA max, then a depthwise
  transposed conv; traced once for all sizes.
- `tf2_fast_xla`: `DeconvDemo.output_parity(batch)`: the same channels by three
  fused XLA kernels on parity-split, planar copies of the image (compiled in
  the warm-up, once per shape).

Every TF2 variant takes the batch through `tf2.demo.as_tensor` (DLPack, no
copy of the 64-byte aligned array) and returns `tf2.demo.as_numpy(output)`
(a view, no copy), as the TF1 session feeds an aligned array and fetches
its result without copying; `.numpy()` would copy (10 ms at batch 16).
- `memory_floor`: `np.copyto` of the input's bytes into an output-sized
  float32 buffer: reading the input and writing the output once, the least
  any variant must do (single-threaded NumPy).

Every pipeline variant's output is compared with `tf1_session`'s (max
|difference| <= 1e-5 of max |tf1_session|) BEFORE it is timed; a mismatch
stops the run with exit status 1. Then, after warm-up, the variants are
timed round-robin (one timed call of each per repeat, the order rotated
every repeat, so slow drifts of a shared machine hit all alike); each timed
call follows `--settle` (default 1) untimed calls of the same variant, so
that it measures the variant running repeatedly rather than its first call
after another variant's gigabytes went through the caches (measured at
batch 16 without it: the memory floor 7.0 ms instead of 5.6, the fast path
31 ms instead of 23). The table gives the median, min and max. Peak memory is each variant's peak RSS
(`ru_maxrss`) in a fresh subprocess that builds the same batch and variant
and runs it twice, since a process's RSS peak covers everything it ever
did.

Usage:
    python benchmarks/bench.py [--quick] [--json OUT.json] [--plot OUT.png] [--repeats N]
"""

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(_ROOT))

__all__ = ["PIPELINES", "VARIANTS", "build_parser", "machine_info", "main",
           "make_runner", "run_benchmark"]

#: Variants, in table order. `tf1_session` is the reference of every check.
VARIANTS = ("tf1_session", "tf2_eager", "tf2_function", "tf2_xla", "tf2_fast", "tf2_fast_window",
            "tf2_fast_xla", "memory_floor")

#: The variants that run the pipeline (all but the memory floor).
PIPELINES = VARIANTS[:-1]


PROG = "bench"


class MismatchError(Exception):
    """A variant's output differs from `tf1_session`'s."""


def _size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 750x500, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected HxW with H, W >= 1, got {text!r}")
    return h, w


def _sizes(text):
    return [_size(t) for t in text.split(",") if t]


def _large(text):
    return False if text.lower() in ("none", "") else _size(text)


def _batches(text):
    try:
        values = [int(t) for t in text.split(",") if t]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected batches such as 1,4,16, got {text!r}") \
            from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected batches >= 1, got {text!r}")
    return values


def _variants(text):
    names = [t for t in text.split(",") if t]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variants {unknown}; choose from "
                                         f"{','.join(VARIANTS)}")
    # tf1_session is the reference every other variant is checked against.
    return [v for v in VARIANTS if v in names or v == "tf1_session"]


def _int_at_least(minimum):
    """An argparse type: an int >= `minimum`, else one usage line."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}")
        return value
    return parse


_positive, _non_negative = _int_at_least(1), _int_at_least(0)


def build_parser():
    """Returns the command line's parser."""
    from deconv_io.cli import ArgumentParser

    parser = ArgumentParser(
        prog=PROG,
        description="Time the demo's pipeline per variant (faithful TF1 session, TF2 eager, "
                    "tf.function, XLA, the fast output path) and the memory floor, "
                    "interleaved, in one run; check every output against the TF1 session "
                    "first; record peak memory per variant in fresh subprocesses.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="batches 1 and 4 at 750x500 only, no large image, 5 repeats "
                             "(CI smoke run, under 2 minutes on 2 cores)")
    parser.add_argument("--json", metavar="OUT.json", type=Path, default=None,
                        help="write the machine, the results and the ratios as JSON")
    parser.add_argument("--plot", metavar="OUT.png", type=Path, default=None,
                        help="write a bar chart of the median time per variant and batch "
                             "(log scale)")
    parser.add_argument("--repeats", type=_positive, default=None,
                        help="timed calls per variant and size (default 20, 5 with --quick)")
    parser.add_argument("--warmup", type=_positive, default=2,
                        help="untimed calls per variant before timing (default 2; traces "
                             "and XLA compiles happen here)")
    parser.add_argument("--settle", type=_non_negative, default=1,
                        help="untimed calls of a variant right before each of its timed "
                             "calls (default 1), so that each timed call follows a call of "
                             "the same variant, not the previous variant's memory traffic")
    parser.add_argument("--batches", type=_batches, default=None,
                        help="batch sizes at each --sizes size (default 1,4,16; 1,4 "
                             "with --quick)")
    parser.add_argument("--sizes", type=_sizes, default=None,
                        help="image sizes HxW, comma-separated (default 750x500, the "
                             "packaged image's)")
    parser.add_argument("--large", type=_large, default=None, metavar="HxW|none",
                        help="one more size at batch 1 (default 3000x2000; none with "
                             "--quick)")
    parser.add_argument("--variants", type=_variants, default=list(VARIANTS),
                        help="comma-separated subset of " + ",".join(VARIANTS)
                             + " (tf1_session, the reference, is always run)")
    parser.add_argument("--no-rss", dest="rss", action="store_false",
                        help="skip the peak-memory subprocesses (peak_rss_mb is null)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the images and of the conv kernel (default 0)")
    parser.add_argument("--child-rss", metavar="VARIANT:N:H:W", default=None,
                        help=argparse.SUPPRESS)  # internal: one peak-memory measurement
    from deconv_io.cli import add_version_argument

    add_version_argument(parser, PROG)
    return parser


# --- machine ----------------------------------------------------------------

def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    """The machine and software the numbers were measured on.

    Example:
    >>> sorted(machine_info())[:3]
    ['cpu_count', 'cpu_model', 'load_average']
    """
    import tensorflow as tf

    try:
        from tensorflow.python.util import _pywrap_util_port

        onednn_built = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        onednn_built = None
    env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    from deconv_io.memory import total_memory

    total = total_memory()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "memory_gb": round(total / 2**30, 1) if total else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "onednn": {
            "TF_ENABLE_ONEDNN_OPTS": env,
            "enabled": onednn_built if env is None else env not in ("0", "false", "False"),
        },
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "default",
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# --- variants ---------------------------------------------------------------

def make_images(batch, height, width, seed):
    """The benchmark's input: uniform [0, 255) float32, like an 8-bit photo.

    The array is 64-byte aligned, so that TensorFlow can use it without a
    copy: the TF1 session's feed does that for an aligned array, and the
    TF2 variants through `tf2.demo.as_tensor` (DLPack).
    """
    from deconv_io.memory import aligned_empty

    images = aligned_empty((batch, height, width, 3), np.float32)
    images[...] = np.random.default_rng(seed).uniform(0, 255, images.shape)
    return images


class _Tf1Session:
    """The faithful graph, built once for a batch shape; the image is fed."""

    def __init__(self, images, kernels, seed):
        import tensorflow as tf

        from legacy_tf1.graph import build_graph

        self.graph = tf.Graph()
        with self.graph.as_default():
            stages = build_graph(images, seed=seed, feed_image=True)
            holders = {name: tf.compat.v1.placeholder(tf.float32, value.shape)
                       for name, value in kernels.items()}
            assign = [tf.compat.v1.assign(getattr(stages, name), holder)
                      for name, holder in holders.items()]
            init = tf.compat.v1.global_variables_initializer()
        self.output = stages.output
        # conv2d reads the image variable through this tensor; feeding it
        # gives conv2d the batch in place of the variable's value.
        self.image_read = stages.conv1.op.inputs[0]
        self.sess = tf.compat.v1.Session(graph=self.graph)
        self.sess.run(init, feed_dict=stages.init_feed)
        self.sess.run(assign, feed_dict={holders[n]: v for n, v in kernels.items()})
        # The feed is the variable, bit for bit.
        from_variable = self.sess.run(self.output)
        if not np.array_equal(from_variable, self(images)):
            raise RuntimeError("feeding the image read differs from the image variable")

    def __call__(self, images):
        return self.sess.run(self.output, feed_dict={self.image_read: images})

    def close(self):
        self.sess.close()


class _MemoryFloor:
    """Reads the input and writes an output-sized buffer once."""

    def __init__(self, images):
        n, h, w, c = images.shape
        self.out = np.empty((n, 2 * -(-h // 2), 2 * -(-w // 2), c), np.float32)

    def __call__(self, images):
        flat = self.out.reshape(-1)
        if flat.size == images.size:
            np.copyto(self.out, images.reshape(self.out.shape))
        else:  # odd sides: the output has more pixels than the input
            np.copyto(flat[:images.size], images.reshape(-1))
            flat[images.size:] = 0
        return self.out

    def close(self):
        pass


class _Tf2:
    """A TF2 variant; like `sess.run(output)`, only `output` is returned.

    Returning every stage (`DeconvDemo.stages`) would keep `conv1` (64
    channels, 1.5 GB at batch 16) alive as a result, which the TF1 session
    frees as soon as `pool` is computed; see `_WHAT_IS_TIMED`.
    """

    def __init__(self, demo, variant):
        import tensorflow as tf

        from tf2.demo import IMAGES_SPEC, as_numpy, as_tensor, demo_stages

        self.demo = demo  # its tf.functions hold it weakly
        self.as_numpy, self.as_tensor = as_numpy, as_tensor

        def full_output(images):
            return demo_stages(images, demo.conv_kernel, demo.deconv_kernel)["output"]

        if variant == "tf2_eager":
            self.call = full_output
        elif variant == "tf2_function":
            self.call = tf.function(full_output, input_signature=[IMAGES_SPEC])
        elif variant == "tf2_xla":
            self.call = tf.function(full_output, input_signature=[IMAGES_SPEC],
                                    jit_compile=True)
        elif variant == "tf2_fast":
            self.call = demo.fast_path
        elif variant == "tf2_fast_window":
            self.call = demo.output_window
        else:
            self.call = demo.output_parity

    def __call__(self, images):
        # In and out without copies (DLPack in, a memoryview out), as the
        # TF1 session feeds an aligned array and fetches its result.
        return self.as_numpy(self.call(self.as_tensor(images)))

    def close(self):
        pass


def make_kernels(seed):
    """The kernels every variant uses: the TF2 module's, drawn with `seed`."""
    from tf2.demo import DeconvDemo

    demo = DeconvDemo(seed=seed)
    return {"conv_kernel": demo.conv_kernel.numpy(), "deconv_kernel": demo.deconv_kernel.numpy()}


def make_runner(variant, images, kernels, seed=0):
    """Builds one variant for a batch shape; the result maps images to output.

    Args:
        variant: one of `VARIANTS`.
        images: the (N, H, W, 3) float32 batch (its shape fixes the TF1 graph).
        kernels: `{"conv_kernel", "deconv_kernel"}` float32 arrays.
        seed: the TF1 graph's seed (its drawn kernel is overwritten).

    Returns:
        A callable `runner(images) -> np.ndarray` with a `close()` method.
    """
    if variant == "memory_floor":
        return _MemoryFloor(images)
    if variant == "tf1_session":
        return _Tf1Session(images, kernels, seed)
    from tf2.demo import DeconvDemo

    return _Tf2(DeconvDemo(**kernels), variant)


def _check_against_tf1(variant, expected, actual, images, kernels):
    """Every pipeline's output against tf1_session's, before it is timed.

    Within twice the derived per-element rounding bound of a float32 witness
    (`migration_audit.bounds`), checked on the batch's first and last image
    (the float64 bound of a whole 16-image batch would take gigabytes).

    Returns:
        `(max relative error over the batch, largest error/bound checked)`.

    Raises:
        MismatchError: a shape differs or an image is outside its bound.
    """
    from migration_audit.bounds import demo_bounds, error_over_bound
    from migration_audit.compare import relative_error

    if expected.shape != actual.shape:
        raise MismatchError(f"{variant} output shape {actual.shape} differs from tf1_session's "
                            f"{expected.shape}")
    ratio = 0.0
    for index in sorted({0, len(images) - 1}):
        bound = 2 * demo_bounds(images[index:index + 1], **kernels)["output"][0]
        image_ratio, _ = error_over_bound(actual[index], expected[index], bound)
        if not image_ratio <= 1:
            raise MismatchError(
                f"{variant} output differs from tf1_session on image {index} of "
                f"{images.shape}: max |difference| / derived bound = {image_ratio:.3g} > 1")
        ratio = max(ratio, image_ratio)
    return relative_error(actual, expected), ratio


# --- peak memory in a subprocess ---------------------------------------------

def _maxrss_mb():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def _vm_hwm_mb():
    """This process's own peak RSS from /proc (Linux), which exec resets."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 2**10, 1)
    except (OSError, ValueError):
        pass
    return None


def _child_rss(spec, seed):
    """Internal: build one variant at one size, run it twice, print peak RSS."""
    from deconv_io.cli import import_tensorflow

    variant, n, h, w = spec.split(":")
    if variant != "memory_floor":
        import_tensorflow()
    images = make_images(int(n), int(h), int(w), seed)
    kernels = make_kernels(seed) if variant != "memory_floor" else {}
    runner = make_runner(variant, images, kernels, seed)
    setup = _maxrss_mb()
    runner(images)
    runner(images)
    print(json.dumps({"peak_rss_mb": round(_maxrss_mb(), 1), "setup_rss_mb": round(setup, 1),
                      "vm_hwm_mb": _vm_hwm_mb()}))
    return 0


def _measure_rss(jobs, seed, log):
    """Runs one fresh subprocess per (variant, batch, h, w), two at a time."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    results, pending = {}, list(jobs)
    running = []
    while pending or running:
        while pending and len(running) < 2:
            job = pending.pop(0)
            spec = ":".join(str(v) for v in job)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child-rss", spec,
                   "--seed", str(seed)]
            running.append((job, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE, env=env, text=True)))
        job, proc = running.pop(0)
        out, err = proc.communicate()
        try:
            results[job] = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            log(f"{PROG}: warning: peak-memory run of {job} failed "
                f"(exit {proc.returncode}): {err.strip()[-300:]}")
            results[job] = {}
    return results


# --- the benchmark ----------------------------------------------------------

def _configs(args):
    batches = args.batches or ([1, 4] if args.quick else [1, 4, 16])
    large = args.large
    if large is None:  # not given: none with --quick, else 3000x2000
        large = False if args.quick else (3000, 2000)
    sizes = args.sizes or [(750, 500)]
    configs = [(b, h, w) for (h, w) in sizes for b in batches]
    if large and (1, *large) not in configs:
        configs.append((1, *large))
    return configs


def _time_config(batch, height, width, variants, kernels, repeats, warmup, seed, log,
                 settle=0):
    """Checks then times every variant at one size; returns {variant: stats}."""
    images = make_images(batch, height, width, seed)
    runners, stats = {}, {}
    try:
        reference = None
        for variant in variants:
            runners[variant] = runner = make_runner(variant, images, kernels, seed)
            for _ in range(warmup):
                result = runner(images)
            if variant == "tf2_fast":
                # The choice is measured on the second call of a shape: make it
                # in the warm-up, whatever --warmup says, never while timing.
                path = runner.demo.fast_path
                while path.forced is None and tuple(images.shape) not in path.choices:
                    result = runner(images)
            if variant == "tf1_session":
                reference = result.copy()
                error, ratio = 0.0, 0.0
            elif variant == "memory_floor":
                error = ratio = None
            else:
                error, ratio = _check_against_tf1(variant, reference, result, images, kernels)
            del result
            stats[variant] = {"max_rel_error_vs_tf1": error, "error_over_bound_vs_tf1": ratio,
                              "times": []}
            if variant == "tf2_fast":
                choice = runner.demo.fast_path.choice_for(images.shape)
                stats[variant]["fast_path_choice"] = choice
                log(f"{PROG}: tf2_fast at {batch}x{height}x{width} runs {choice}")
        gc.collect()
        order = list(variants)
        for r in range(repeats):
            k = r % len(order)
            for variant in order[k:] + order[:k]:
                for _ in range(settle):
                    runners[variant](images)
                start = time.perf_counter()
                runners[variant](images)
                stats[variant]["times"].append(time.perf_counter() - start)
    finally:
        for runner in runners.values():
            runner.close()
    log(f"  {batch}x{height}x{width}: " + ", ".join(
        f"{v} {np.median(s['times']) * 1e3:.1f} ms" for v, s in stats.items()))
    return stats


def _ratios(results):
    by = {(r["variant"], r["batch"], r["height"], r["width"]): r for r in results}
    for r in results:
        key = (r["batch"], r["height"], r["width"])
        tf1 = by.get(("tf1_session", *key))
        floor = by.get(("memory_floor", *key))
        r["ratio_vs_tf1_session"] = r["median_s"] / tf1["median_s"] if tf1 else None
        r["speedup_vs_tf1_session"] = tf1["median_s"] / r["median_s"] if tf1 else None
        r["ratio_vs_memory_floor"] = r["median_s"] / floor["median_s"] if floor else None


def _targets(results):
    """The issue's targets at batch 16, 750x500, from medians of one run."""
    by = {(r["variant"], r["batch"], r["height"], r["width"]): r["median_s"] for r in results}
    key = (16, 750, 500)
    tf1, fn, floor = (by.get((v, *key)) for v in ("tf1_session", "tf2_function", "memory_floor"))
    targets = {}
    if tf1 and fn:
        targets["tf2_function_over_tf1_session"] = {"value": fn / tf1, "target": "<= 1.05",
                                                    "met": fn / tf1 <= 1.05}
    for fast_name in ("tf2_fast", "tf2_fast_window", "tf2_fast_xla"):
        fast = by.get((fast_name, *key))
        if tf1 and fast:
            targets[f"tf1_session_over_{fast_name}"] = {
                "value": tf1 / fast, "target": ">= 10", "met": tf1 / fast >= 10}
        if fast and floor:
            targets[f"{fast_name}_over_memory_floor"] = {
                "value": fast / floor, "target": "<= 5", "met": fast / floor <= 5}
    return targets


def run_benchmark(args, log=print):
    """Runs the benchmark; returns the JSON document. Raises MismatchError."""
    configs = _configs(args)
    repeats = args.repeats or (5 if args.quick else 20)
    jobs = [(v, *c) for c in configs for v in args.variants]
    rss = {}
    if args.rss:
        # First, while this process is small: on Linux a child's ru_maxrss
        # starts from its parent's RSS at fork (exec keeps the larger of the
        # two), so children started after TensorFlow and the big batches are
        # loaded here would all report this process's size.
        log(f"{PROG}: peak memory of {len(jobs)} runs, one fresh subprocess each ...")
        rss = _measure_rss(jobs, args.seed, log)
    from deconv_io.cli import import_tensorflow

    import_tensorflow()  # once, before any timing; its start-up lines muted

    machine = machine_info()
    log(f"{PROG}: {machine['cpu_model']}, {machine['cpu_count']} CPUs, "
        f"{machine['memory_gb']} GB; TensorFlow {machine['tensorflow']}, oneDNN "
        f"{machine['onednn']['enabled']}; load average {machine['load_average']}")
    log(f"{PROG}: sizes {['x'.join(map(str, c)) for c in configs]}, variants "
        f"{args.variants}, {args.warmup} warm-up + {repeats} timed calls each")
    kernels = make_kernels(args.seed)
    started = time.time()
    results = []
    for batch, height, width in configs:
        stats = _time_config(batch, height, width, args.variants, kernels, repeats,
                             args.warmup, args.seed, log, settle=args.settle)
        for variant, s in stats.items():
            times = np.asarray(s["times"])
            error = s["max_rel_error_vs_tf1"]
            memory = rss.get((variant, batch, height, width), {})
            results.append({
                "variant": variant, "batch": batch, "height": height, "width": width,
                "median_s": float(np.median(times)), "min_s": float(times.min()),
                "max_s": float(times.max()), "repeats": len(times),
                "peak_rss_mb": memory.get("peak_rss_mb"),
                "setup_rss_mb": memory.get("setup_rss_mb"),
                "vm_hwm_mb": memory.get("vm_hwm_mb"),
                "checked_vs_tf1_session": error is not None,
                "max_rel_error_vs_tf1": error,
                "error_over_bound_vs_tf1": s["error_over_bound_vs_tf1"],
                "fast_path_choice": s.get("fast_path_choice"),
            })
    timing_s = time.time() - started
    _ratios(results)
    return {
        "machine": dict(machine, load_average_after=list(os.getloadavg())
                        if hasattr(os, "getloadavg") else None),
        "config": {"repeats": repeats, "warmup": args.warmup, "settle": args.settle,
                   "seed": args.seed,
                   "check": "output within twice the derived float32 rounding bound of "
                            "tf1_session's (first and last image of each batch)",
                   "timing_seconds": round(timing_s, 1),
                   "command": " ".join(["benchmarks/bench.py"] + list(args.argv)),
                   "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "timed": {v: line for v, line in _WHAT_IS_TIMED.items() if v in args.variants},
        "results": results,
        "targets": _targets(results),
    }


_WHAT_IS_TIMED = {
    "tf1_session": "sess.run(output, feed_dict={image read: batch}) on the faithful graph "
                   "built once (all 64 conv channels), output fetched to NumPy",
    "tf2_eager": "demo_stages(batch, kernels)['output'].numpy() op by op (all 64 channels)",
    "tf2_function": "tf.function(demo_stages(...)['output']).numpy(), traced once (all 64 "
                    "channels, output only, like sess.run(output))",
    "tf2_xla": "the same tf.function with jit_compile=True (compiled in the warm-up)",
    "tf2_fast": "DeconvDemo.fast_path(batch), what demo.output(x) runs: "
                "tf2_fast_window or tf2_fast_xla, whichever was measured faster for this "
                "shape in the warm-up (fast_path_choice)",
    "tf2_fast_window": "DeconvDemo.output_window(batch): only the conv channels the deconv kernel "
                       "reads (3 of 64); conv + pool as one stride-2 conv over each pool "
                       "window and an XLA max, depthwise transposed conv; traced once",
    "tf2_fast_xla": "DeconvDemo.output_parity(batch): the same channels by three fused XLA "
                    "kernels on parity-split planar data (compiled in the warm-up)",
    "memory_floor": "np.copyto of the input into an output-sized float32 buffer "
                    "(read the input, write the output, once; one thread)",
}


def format_table(doc):
    """The results as a text table with ratios against `tf1_session`."""
    lines = [f"{'size':>16} {'variant':<15} {'median ms':>10} {'min ms':>9} {'max ms':>9} "
             f"{'x tf1':>7} {'tf1/x':>7} {'x floor':>8} {'peak MB':>8} {'max rel err':>11} {'err/bound':>9}"]
    for r in doc["results"]:
        size = f"{r['batch']}x{r['height']}x{r['width']}"

        def num(value, fmt):
            return format(value, fmt) if value is not None else "-"

        lines.append(
            f"{size:>16} {r['variant']:<15} {r['median_s'] * 1e3:>10.2f} "
            f"{r['min_s'] * 1e3:>9.2f} {r['max_s'] * 1e3:>9.2f} "
            f"{num(r['ratio_vs_tf1_session'], '.3f'):>7} "
            f"{num(r['speedup_vs_tf1_session'], '.1f'):>7} "
            f"{num(r['ratio_vs_memory_floor'], '.1f'):>8} {num(r['peak_rss_mb'], '.0f'):>8} "
            f"{num(r['max_rel_error_vs_tf1'], '.1e'):>11} "
            f"{num(r['error_over_bound_vs_tf1'], '.3f'):>9}")
    for name, t in doc["targets"].items():
        lines.append(f"target {name}: {t['value']:.2f} (want {t['target']}): "
                     f"{'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def write_plot(doc, path):
    """A bar chart: median time per variant and size, log scale, min-max bars."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    configs = []
    for r in doc["results"]:
        key = (r["batch"], r["height"], r["width"])
        if key not in configs:
            configs.append(key)
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in doc["results"])]
    by = {(r["variant"], r["batch"], r["height"], r["width"]): r for r in doc["results"]}
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(configs)), 4.5))
    width = 0.8 / len(variants)
    for i, v in enumerate(variants):
        xs, med, lo, hi = [], [], [], []
        for j, key in enumerate(configs):
            r = by.get((v, *key))
            if r is None:
                continue
            xs.append(j + (i - (len(variants) - 1) / 2) * width)
            med.append(r["median_s"] * 1e3)
            lo.append((r["median_s"] - r["min_s"]) * 1e3)
            hi.append((r["max_s"] - r["median_s"]) * 1e3)
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=2, label=v)
    ax.set_yscale("log")
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels([f"batch {b}\n{h}x{w}" for b, h, w in configs])
    ax.set_ylabel("median time per call (ms, log scale; bars: min..max)")
    m = doc["machine"]
    ax.set_title(f"conv2d -> max_pool -> conv2d_transpose, float32, "
                 f"{m['cpu_count']} CPUs, TF {m['tensorflow']}", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    from deconv_io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _run(args):
    from deconv_io.cli import check_output_path, quiet_tensorflow

    quiet_tensorflow(False)
    if args.child_rss is not None:
        return _child_rss(args.child_rss, args.seed)
    json_path = check_output_path(args.json, "--json")
    plot_path = check_output_path(args.plot, "--plot")
    try:
        doc = run_benchmark(args)
    except MismatchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(format_table(doc))
    if json_path is not None:
        from deconv_io import write_bytes_atomic

        write_bytes_atomic(json_path, (json.dumps(doc, indent=1) + "\n").encode())
        print(f"{PROG}: wrote {json_path}")
    if plot_path is not None:
        write_plot(doc, plot_path)
        print(f"{PROG}: wrote {plot_path}")
    return 0


def main(argv=None):
    """Runs the benchmark command line.

    Returns:
        0 on success, 1 when a variant's output differs from `tf1_session`'s,
        2 for a usage error.
    """
    from deconv_io.cli import parse_and_run

    argv = sys.argv[1:] if argv is None else list(argv)

    def run(args):
        args.argv = argv
        return _run(args)

    return parse_and_run(build_parser(), argv, run, PROG)


if __name__ == "__main__":
    sys.exit(main())
