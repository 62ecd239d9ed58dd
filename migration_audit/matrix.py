"""The audit in every CPU configuration TensorFlow can run here, side by side.

    python -m migration_audit matrix [IMAGE] [--seed N] [--weights W.npz] [--report DIR]

Each configuration (`migration_audit.configurations`: oneDNN off; oneDNN on
with each `ONEDNN_MAX_CPU_ISA` cap this CPU supports among SSE41 and AVX2,
and uncapped; each with 1 intra-op thread and with every core) runs the
audit in a subprocess of its own, on the same image and kernels.

Each child prints nothing and writes its `report.json` (the audit's rows,
with their claims and bounds, and the environment it ran in) and its
witnesses' `output` arrays. The parent, which never imports TensorFlow,
prints configuration x comparison (bit-identical / error over bound / FAIL),
then across configurations each one's `output` against the float64
reference and whether the TF1 session's own bits change
(`migration_audit.matrix_report`), and writes `DIR/matrix.json` and
`DIR/matrix.png` (the heat map of error/bound). Exit status: 0 when every
claim holds everywhere, 1 when one does not, 2 for bad input.

The kernels: `--weights`, or a NumPy Glorot-uniform conv kernel (the
original's bound, seeded) and the original's FCN bilinear deconv kernel, so
the fast path takes its own route (window conv, depthwise upsampling);
`--dense-deconv` draws a uniform(-1, 1) deconv kernel instead, so that every
one of the 64 channels reaches the output.
"""

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deconv_io.atomic import write_bytes_atomic
from deconv_io.checks import parse_int
from deconv_io.errors import InputError
from deconv_io.images import check_image_path, default_image_path, load_image
from deconv_io.paths import check_input_file
from deconv_io.weights import KERNEL_SHAPE, load_weights
from deconv_runtime.cli import (ArgumentParser, add_version_argument, add_weights_argument,
                                parse_and_run, positive_int)
from migration_audit.bounds import demo_bounds, error_over_bound, pair_bound
from migration_audit.configurations import configurations
from migration_audit.options import AUDIT_MAX_PIXELS, check_report_dir

__all__ = ["kernels_for", "main", "run_matrix"]

PROG = "migration_audit matrix"
def kernels_for(seed=0, dense_deconv=False):
    """The matrix's kernels, drawn with NumPy (no TensorFlow in the parent).

    Example:
    >>> k = kernels_for(0)
    >>> k["conv_kernel"].shape, float(k["deconv_kernel"][1, 1, 0, 0])
    ((3, 3, 3, 64), 0.5625)
    """
    from tf2.kernels import bilinear_kernel

    rng = np.random.default_rng(seed)
    limit = math.sqrt(6.0 / (27 + 576))  # Glorot uniform for [3, 3, 3, 64]
    conv = rng.uniform(-limit, limit, KERNEL_SHAPE).astype(np.float32)
    if dense_deconv:
        deconv = rng.uniform(-1.0, 1.0, KERNEL_SHAPE).astype(np.float32)
    else:
        deconv = np.asarray(bilinear_kernel(3, 3, mode="fcn", in_channels=64), np.float32)
    return {"conv_kernel": conv, "deconv_kernel": deconv}


def _child(inputs, out_dir):
    """One configuration: the audit on the saved inputs; writes report.json, outputs.npz."""
    from deconv_runtime.tf_import import import_tensorflow

    import_tensorflow()
    from migration_audit.audit import run_audit
    from migration_audit.report import environment, report_dict

    with np.load(inputs, allow_pickle=False) as saved:
        images = saved["images"]
        weights = {name: saved[name] for name in ("conv_kernel", "deconv_kernel")}
    env = environment()
    # The matrix compares the registry's runners across configurations; the
    # script engine's float64 shadow of the original is the demo audit's.
    result = run_audit(images, weights=weights, engine=False)
    report = report_dict(result, inputs, None, inputs, env)
    out_dir = Path(out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    np.savez(out_dir / "outputs.npz", **{name: stages["output"]
                                         for name, stages in result.witnesses.items()
                                         if stages.get("output") is not None})


def run_matrix(images, kernels, configs, workdir, log=print):
    """Runs the audit once per configuration and compares the runs.

    Args:
        images: float32 `(N, H, W, 3)`.
        kernels: `{"conv_kernel", "deconv_kernel"}`, float32 [3, 3, 3, 64].
        configs: `Configuration`s to run.
        workdir: a folder for the children's files.
        log: where progress lines go.

    Returns:
        The `matrix.json` dict: `configurations` (each with its environment,
        rows and verdict), `across` (each configuration's witnesses' output
        against the first configuration's, within twice the float32 bound,
        and whether they are bit-identical), and `passed`.

    Raises:
        RuntimeError: a child failed (the end of its stderr in the message).
    """
    workdir = Path(workdir)
    inputs = workdir / "inputs.npz"
    np.savez(inputs, images=images, **kernels)
    runs = []
    for index, config in enumerate(configs, 1):
        out = workdir / f"config{index}"
        out.mkdir()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "migration_audit.matrix", "--child",
                               str(inputs), str(out)], env=config.child_env(),
                              capture_output=True, text=True)
        if done.returncode != 0:
            tail = " ".join(done.stderr.strip().splitlines()[-3:])[-400:]
            raise RuntimeError(f"configuration '{config.name}' failed "
                               f"(exit {done.returncode}): {tail}")
        report = json.loads((out / "report.json").read_text())
        with np.load(out / "outputs.npz") as saved:
            outputs = {name: saved[name] for name in saved.files}
        runs.append((config, report, outputs))
        log(f"[{index}/{len(configs)}] {config.name}: oneDNN "
            f"{'on' if report['environment']['onednn'] else 'off'}, audit "
            f"{'PASS' if report['passed'] else 'FAIL'} ({time.perf_counter() - start:.0f} s)")

    bound = pair_bound(demo_bounds(images, **kernels)["output"])
    first_config, _, first = runs[0]
    across = []
    for config, _, outputs in runs:
        for name in sorted(outputs):
            if name == "float64_reference":
                continue
            ratio, _ = error_over_bound(outputs[name], first[name], bound)
            identical = outputs[name].tobytes() == first[name].tobytes()
            across.append({"configuration": config.name, "witness": name,
                           "against": first_config.name, "bit_identical": identical,
                           "error_over_bound": ratio, "passed": identical or ratio <= 1})
    return {
        "configurations": [{**config.as_dict(), "environment": report["environment"],
                            "passed": report["passed"], "comparisons": report["comparisons"]}
                           for config, report, _ in runs],
        "across": across,
        "passed": all(r["passed"] for _, r, _ in runs) and all(a["passed"] for a in across),
    }


def build_parser():
    """Returns the `matrix` subcommand's parser."""
    parser = ArgumentParser(
        prog=PROG,
        description="Run the migration audit once per CPU configuration (oneDNN off; oneDNN "
                    "on with each ONEDNN_MAX_CPU_ISA cap this CPU supports among SSE41, AVX2 "
                    "and none; 1 intra-op thread and all), each in its own subprocess on the "
                    "same image and kernels, and compare every claim and the outputs across "
                    "them.",
        epilog="Exit status: 0 every claim holds in every configuration, 1 some do not, "
               "2 bad input.")
    parser.add_argument("image", nargs="?", metavar="IMAGE", default=None,
                        help="any image Pillow opens (default: the packaged data/timg.jpg)")
    parser.add_argument("--seed", type=int, default=0,
                        help="NumPy seed of the Glorot conv kernel (default 0)")
    add_weights_argument(parser)
    parser.add_argument("--dense-deconv", action="store_true",
                        help="a uniform(-1, 1) deconv kernel instead of the bilinear one, so "
                             "every conv channel reaches the output")
    parser.add_argument("--threads", default="1,all", metavar="LIST",
                        help="intra-op thread counts, comma-separated ints or 'all' "
                             "(default 1,all)")
    parser.add_argument("--report", metavar="DIR", type=Path, default=None,
                        help="write DIR/matrix.json and DIR/matrix.png (configurations x "
                             "comparisons, coloured by error/bound); DIR is created if its "
                             "parent exists")
    parser.add_argument("--max-pixels", type=positive_int, default=AUDIT_MAX_PIXELS,
                        help=f"refuse larger images before decoding (default "
                             f"{AUDIT_MAX_PIXELS})")
    add_version_argument(parser, PROG)
    return parser


def _thread_counts(text):
    counts = []
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            counts.append(None)
        elif (count := parse_int(part, 1)) is not None:
            counts.append(count)
        else:
            raise InputError(f"--threads: expected ints >= 1 or 'all', comma-separated. "
                             f"Received: {text!r}")
    return list(dict.fromkeys(counts))


def _run(args):
    from migration_audit.matrix_report import format_matrix, write_matrix_png
    from migration_audit.report import cpu_fingerprint

    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be in [0, 2**63 - 1]. Received: {args.seed}")
    counts = _thread_counts(args.threads)
    image_path = check_image_path(Path(args.image) if args.image else default_image_path())
    if args.weights is not None:
        check_input_file(args.weights, "Weights file")
    report_dir = check_report_dir(args.report, inputs=(image_path, args.weights),
                                  names=("matrix.json", "matrix.png"))
    image = load_image(image_path, max_pixels=args.max_pixels)
    kernels = kernels_for(args.seed, args.dense_deconv)
    if args.weights is not None:
        kernels.update(load_weights(args.weights))
    cpu = cpu_fingerprint()
    configs = configurations(cpu["isa"], counts)
    print(f"{image_path}: image {image.shape}; {cpu['cpu']} [{' '.join(cpu['isa'])}]; "
          f"{len(configs)} configurations", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        try:
            matrix = run_matrix(image[np.newaxis], kernels, configs, workdir,
                                log=lambda line: print(line, flush=True))
        except RuntimeError as e:  # a child crashed: no verdict for that configuration
            print(f"{PROG}: {e}", file=sys.stderr)
            return 1
    matrix = {"image": str(image_path), "images_shape": [1, *image.shape], **cpu,
              "kernels_from": (str(args.weights) if args.weights else
                               f"NumPy seed {args.seed}, "
                               f"{'dense' if args.dense_deconv else 'bilinear'} deconv"),
              **matrix}
    print(format_matrix(matrix))
    if report_dir is not None:
        report_dir.mkdir(exist_ok=True)
        write_bytes_atomic(report_dir / "matrix.json",
                           (json.dumps(matrix, indent=2) + "\n").encode())
        write_matrix_png(report_dir / "matrix.png", matrix)
        print(f"report: {report_dir / 'matrix.json'}, {report_dir / 'matrix.png'}")
    return 0 if matrix["passed"] else 1


def main(argv=None):
    """Runs the matrix (or, with `--child INPUTS OUT_DIR`, one configuration's audit).

    Returns:
        The exit status: 0 every claim holds, 1 some do not, 2 bad input.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"] and len(argv) == 3:
        _child(argv[1], argv[2])
        return 0
    return parse_and_run(build_parser(), argv, _run, PROG)


if __name__ == "__main__":
    from deconv_runtime.cli import run_as_program

    run_as_program(main)
