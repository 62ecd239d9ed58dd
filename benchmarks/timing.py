"""The benchmark's run: check every variant, then time them interleaved.

After warm-up, the variants are timed round-robin (one timed call of each
per repeat, the order rotated every repeat, so slow drifts of a shared
machine hit all alike); each timed call follows `settle` untimed calls of
the same variant, so that it measures the variant running repeatedly rather
than its first call after another variant's gigabytes went through the
caches. The FMA rate of the compute floor is measured in the same process,
before and after the timing (the faster of the two is kept).
"""

import gc
import os
import time

import numpy as np

from benchmarks.checks import check_against_tf1
from benchmarks.floor import compute_floor, measure_fma_rate
from benchmarks.peak_memory import measure_rss
from benchmarks.report import add_ratios, targets
from benchmarks.variants import WHAT_IS_TIMED, make_images, make_kernels, make_runner

__all__ = ["machine_info", "run_benchmark", "sizes_to_run", "time_size"]


def machine_info():
    """The machine and software the numbers were measured on.

    The audit's environment fingerprint (`migration_audit.report.environment`:
    CPU, ISA flags, oneDNN, threads, versions) under `environment`, and the
    few figures the table's header line shows.
    """
    from deconv_runtime.allocator import kept
    from deconv_io.memory import total_memory
    from migration_audit.report import environment

    env = environment()
    total = total_memory()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": env["cpu"],
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "memory_gb": round(total / 2**30, 1) if total else None,
        "python": env["python"],
        "tensorflow": env["tensorflow"],
        "numpy": env["numpy"],
        "onednn": {"TF_ENABLE_ONEDNN_OPTS": env["TF_ENABLE_ONEDNN_OPTS"],
                   "ONEDNN_MAX_CPU_ISA": env["onednn_max_cpu_isa"],
                   "enabled": env["onednn"]},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "keep_freed_memory": kept(),
        "environment": env,
    }


def sizes_to_run(args):
    """The `(batch, height, width)` sizes the parsed flags ask for, in order."""
    batches = args.batches or ([1, 4] if args.quick else [1, 4, 16])
    large = args.large
    if large is None:  # not given: none with --quick, else 3000x2000
        large = False if args.quick else (3000, 2000)
    sizes = [(b, h, w) for (h, w) in (args.sizes or [(750, 500)]) for b in batches]
    if large and (1, *large) not in sizes:
        sizes.append((1, *large))
    return sizes


def _warm_up(variant, runner, images, warmup):
    for _ in range(warmup):
        result = runner(images)
    if variant == "tf2_fast":
        # The choice is measured on the second call of a shape: make it in
        # the warm-up, whatever --warmup says, never while timing.
        path = runner.demo.fast_path
        while path.forced is None and tuple(images.shape) not in path.choices:
            result = runner(images)
    return result


def time_size(batch, height, width, variants, kernels, repeats, warmup, seed, log, settle=0):
    """Checks then times every variant at one size; returns {variant: stats}.

    Raises:
        MismatchError: a variant's output differs from tf1_session's.
    """
    images = make_images(batch, height, width, seed)
    runners, stats = {}, {}
    try:
        reference = None
        for variant in variants:
            runners[variant] = runner = make_runner(variant, images, kernels)
            result = _warm_up(variant, runner, images, warmup)
            if variant == "tf1_session":
                reference = result.copy()
                error, ratio = 0.0, 0.0
            elif variant == "memory_floor":
                error = ratio = None
            else:
                error, ratio = check_against_tf1(variant, reference, result, images, kernels)
            del result
            stats[variant] = {"max_rel_error_vs_tf1": error, "error_over_bound_vs_tf1": ratio,
                              "times": []}
            if variant == "tf2_fast":
                choice = runner.demo.fast_path.choice_for(images.shape)
                stats[variant]["fast_path_choice"] = choice
                log(f"  tf2_fast at {batch}x{height}x{width} runs {choice}")
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


def _row(variant, size, s, memory):
    times = np.asarray(s["times"])
    error = s["max_rel_error_vs_tf1"]
    batch, height, width = size
    return {
        "variant": variant, "batch": batch, "height": height, "width": width,
        "median_s": float(np.median(times)), "min_s": float(times.min()),
        "max_s": float(times.max()), "repeats": len(times),
        "peak_rss_mb": memory.get("peak_rss_mb"), "setup_rss_mb": memory.get("setup_rss_mb"),
        "vm_hwm_mb": memory.get("vm_hwm_mb"),
        "checked_vs_tf1_session": error is not None, "max_rel_error_vs_tf1": error,
        "error_over_bound_vs_tf1": s["error_over_bound_vs_tf1"],
        "fast_path_choice": s.get("fast_path_choice"),
    }


def run_benchmark(args, log=print):
    """Runs the benchmark the parsed flags describe; returns the JSON document.

    Raises:
        MismatchError: a variant's output differs from tf1_session's.
    """
    sizes = sizes_to_run(args)
    repeats = args.repeats or (5 if args.quick else 20)
    rss = {}
    if args.rss:
        # First, while this process is small: on Linux a child's ru_maxrss
        # starts from its parent's RSS at fork, so children started after
        # TensorFlow and the big batches are loaded would all report this size.
        jobs = [(v, *size) for size in sizes for v in args.variants]
        log(f"bench: peak memory of {len(jobs)} runs, one fresh subprocess each ...")
        rss = measure_rss(jobs, args.seed, log, args.malloc)
    from deconv_runtime.tf_import import import_tensorflow

    import_tensorflow()  # once, before any timing; its start-up lines muted
    machine = machine_info()
    log(f"bench: {machine['cpu_model']}, {machine['cpu_count']} CPUs, "
        f"{machine['memory_gb']} GB; TensorFlow {machine['tensorflow']}, oneDNN "
        f"{machine['onednn']['enabled']}; malloc keeps freed memory: "
        f"{machine['keep_freed_memory']}; load average {machine['load_average']}")
    log(f"bench: sizes {['x'.join(map(str, s)) for s in sizes]}, variants "
        f"{args.variants}, {args.warmup} warm-up + {repeats} timed calls each")
    kernels = make_kernels(args.seed)
    fma = measure_fma_rate()
    started = time.time()
    results = []
    for size in sizes:
        stats = time_size(*size, args.variants, kernels, repeats, args.warmup, args.seed, log,
                          settle=args.settle)
        results.extend(_row(v, size, s, rss.get((v, *size), {})) for v, s in stats.items())
    timing_s = time.time() - started
    after = measure_fma_rate()
    fma = max(fma, after, key=lambda m: m["gfma_per_s"])
    log(f"bench: float32 FMA rate {fma['gfma_per_s']:.1f} GFMA/s ({fma['library']} "
        f"{fma['side']}^3, best of {fma['repeats']} calls before and after the timing; "
        + ", ".join(f"{k} {v:.1f}" for k, v in fma["by_library"].items()) + ")")
    floors = [{"batch": b, "height": h, "width": w,
               **compute_floor(b, h, w, kernels["deconv_kernel"], fma["gfma_per_s"])}
              for b, h, w in sizes]
    add_ratios(results, floors)
    return {
        "machine": dict(machine, load_average_after=list(os.getloadavg())
                        if hasattr(os, "getloadavg") else None),
        "config": {"repeats": repeats, "warmup": args.warmup, "settle": args.settle,
                   "seed": args.seed,
                   "check": "output within twice the derived float32 rounding bound of "
                            "tf1_session's (first and last image of each batch)",
                   "timing_seconds": round(timing_s, 1),
                   "command": " ".join(["python -m benchmarks.bench"] + list(args.argv)),
                   "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "timed": {v: line for v, line in WHAT_IS_TIMED.items() if v in args.variants},
        "compute_floor": {"fma": fma, "sizes": floors},
        "results": results,
        "targets": targets(results),
    }
