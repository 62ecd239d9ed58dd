"""Peak memory per variant, each in a fresh subprocess.

A process's RSS peak covers everything it ever did, so each (variant, size)
is built and run twice in a process of its own (`python -m benchmarks.bench
--child-rss VARIANT:N:H:W`), which prints its peak as one JSON line.
"""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

__all__ = ["child_rss", "measure_rss"]

#: The folder `python -m benchmarks...` runs from (the repository root).
ROOT = Path(__file__).resolve().parent.parent


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


def child_rss(spec, seed):
    """Internal: build one variant at one size, run it twice, print peak RSS."""
    from benchmarks.variants import make_images, make_kernels, make_runner

    variant, n, h, w = spec.split(":")
    if variant != "memory_floor":
        from deconv_runtime.tf_import import import_tensorflow

        import_tensorflow()
    images = make_images(int(n), int(h), int(w), seed)
    kernels = make_kernels(seed) if variant != "memory_floor" else {}
    runner = make_runner(variant, images, kernels)
    setup = _maxrss_mb()
    runner(images)
    runner(images)
    print(json.dumps({"peak_rss_mb": round(_maxrss_mb(), 1), "setup_rss_mb": round(setup, 1),
                      "vm_hwm_mb": _vm_hwm_mb()}))
    return 0


def measure_rss(jobs, seed, log, malloc="keep"):
    """Runs one fresh subprocess per (variant, batch, h, w), two at a time.

    Returns:
        `{job: {"peak_rss_mb", "setup_rss_mb", "vm_hwm_mb"}}` (`{}` for a failed run).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    results, pending, running = {}, list(jobs), []
    while pending or running:
        while pending and len(running) < 2:
            job = pending.pop(0)
            cmd = [sys.executable, "-m", "benchmarks.bench", "--child-rss",
                   ":".join(str(v) for v in job), "--seed", str(seed), "--malloc", malloc]
            running.append((job, subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT,
                                                  stderr=subprocess.PIPE, env=env, text=True)))
        job, proc = running.pop(0)
        out, err = proc.communicate()
        try:
            results[job] = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            log(f"bench: warning: peak-memory run of {job} failed "
                f"(exit {proc.returncode}): {err.strip()[-300:]}")
            results[job] = {}
    return results
