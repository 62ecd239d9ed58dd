"""oneDNN against Eigen: every witness with `TF_ENABLE_ONEDNN_OPTS=0` and `=1`.

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it loads, so each
setting runs the audit in a subprocess of its own (`--child`) on the same
image and kernels; the parent compares the two runs stage by stage.

    python -m migration_audit.onednn [IMAGE] [--seed N]

The parent never imports TensorFlow: the kernels are drawn with NumPy (a
Glorot-uniform conv kernel with the original's bound, and a random deconv
kernel so that all 64 channels count) and handed to both children.
"""

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from deconv_io import KERNEL_SHAPE, default_image_path, load_image
from deconv_io.cli import ArgumentParser, run_main
from deconv_io.errors import InputError

__all__ = ["SETTINGS", "compare_settings", "main", "random_kernels"]

#: Setting name -> the value of `TF_ENABLE_ONEDNN_OPTS` its child runs with.
SETTINGS = {"eigen": "0", "onednn": "1"}
PROG = "migration_audit.onednn"


def random_kernels(seed=0):
    """Kernels drawn with NumPy: Glorot-uniform conv, uniform(-1, 1) deconv.

    Example:
    >>> sorted(random_kernels(0))
    ['conv_kernel', 'deconv_kernel']
    """
    rng = np.random.default_rng(seed)
    limit = math.sqrt(6.0 / (27 + 576))  # the original's Glorot bound
    return {"conv_kernel": rng.uniform(-limit, limit, KERNEL_SHAPE).astype(np.float32),
            "deconv_kernel": rng.uniform(-1.0, 1.0, KERNEL_SHAPE).astype(np.float32)}


def _child(in_path, out_path):
    """Runs the audit on the inputs saved at `in_path`; saves every array."""
    from migration_audit.audit import REFERENCE, STAGES, run_audit
    from migration_audit.report import onednn_enabled

    with np.load(in_path, allow_pickle=False) as inputs:
        images = inputs["images"]
        weights = {name: inputs[name] for name in ("conv_kernel", "deconv_kernel")}
    result = run_audit(images, weights=weights)
    # The stages of the TF witnesses (the inputs and the float64 reference
    # are the same under both settings by construction).
    arrays = {f"{witness}/{stage}": value
              for witness, stages in result.witnesses.items() if witness != REFERENCE
              for stage, value in stages.items()
              if stage in STAGES + ("display",) and value is not None}
    identical = [f"{c.stage} {c.name}" for c in result.comparisons if c.bit_identical]
    np.savez(out_path, onednn_enabled=np.array(onednn_enabled()), passed=np.array(result.passed),
             bit_identical=np.array(identical, dtype=str), **arrays)


def compare_settings(images, conv_kernel, deconv_kernel, workdir=None):
    """Runs the audit under both settings and returns both runs' arrays.

    Args:
        images: float32 `(N, H, W, 3)`.
        conv_kernel: float32 [3, 3, 3, 64].
        deconv_kernel: float32 [3, 3, 3, 64].
        workdir: folder for the exchange files (a temporary one if None).

    Returns:
        `{setting: {"onednn_enabled": bool, "passed": bool, "bit_identical":
        [str], "arrays": {"witness/stage": array}}}` for `eigen` and `onednn`.

    Raises:
        RuntimeError: a child failed (its stderr is in the message).
    """
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        inputs = Path(folder) / "inputs.npz"
        np.savez(inputs, images=np.asarray(images, np.float32), conv_kernel=conv_kernel,
                 deconv_kernel=deconv_kernel)
        runs = {}
        for setting, value in SETTINGS.items():
            out = Path(folder) / f"{setting}.npz"
            env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": value, "TF_CPP_MIN_LOG_LEVEL": "2"}
            done = subprocess.run([sys.executable, "-m", PROG, "--child", str(inputs), str(out)],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{setting} child failed ({done.returncode}): {done.stderr}")
            with np.load(out, allow_pickle=False) as saved:
                runs[setting] = {
                    "onednn_enabled": bool(saved["onednn_enabled"]),
                    "passed": bool(saved["passed"]),
                    "bit_identical": saved["bit_identical"].tolist(),
                    "arrays": {k: saved[k] for k in saved.files if "/" in k},
                }
    return runs


def _table(runs):
    from migration_audit.compare import compare_arrays
    from migration_audit.report import format_table

    eigen, onednn = runs["eigen"]["arrays"], runs["onednn"]["arrays"]
    rows = []
    for key in eigen:
        witness, stage = key.split("/")
        rows.append(compare_arrays(stage, f"{witness} onednn", onednn[key],
                                   f"{witness} eigen", eigen[key]))
    return format_table(rows)


def _run(args):
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0. Received: {args.seed}")
    image = load_image(args.image or default_image_path())
    kernels = random_kernels(args.seed)
    runs = compare_settings(image[np.newaxis], **kernels)
    print(f"{args.image or default_image_path()}: TF_ENABLE_ONEDNN_OPTS=1 against =0, "
          "same image and kernels")
    print(_table(runs))
    for setting, run in runs.items():
        print(f"{setting} (TF_ENABLE_ONEDNN_OPTS={SETTINGS[setting]}, oneDNN on: "
              f"{run['onednn_enabled']}): audit {'PASS' if run['passed'] else 'FAIL'}; "
              f"bit-identical: {', '.join(run['bit_identical']) or 'none'}")
    return 0


def main(argv=None):
    """Runs the comparison (or, with `--child IN OUT`, one setting's audit).

    Returns:
        The exit status: 0 on success, 2 for bad input or usage.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"] and len(argv) == 3:
        _child(argv[1], argv[2])
        return 0
    parser = ArgumentParser(prog=PROG, description="Compare every audit witness and stage "
                            "with TF_ENABLE_ONEDNN_OPTS=0 (Eigen) and =1 (oneDNN).")
    parser.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                        help="image file (default: the packaged data/timg.jpg)")
    parser.add_argument("--seed", type=int, default=0,
                        help="NumPy seed of the random kernels (default 0)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    return run_main(lambda: _run(args), PROG)


if __name__ == "__main__":
    sys.exit(main())
