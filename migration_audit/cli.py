"""`python -m migration_audit`: the migration audit, and checkpoint conversion.

    python -m migration_audit [IMAGE] [--seed N] [--weights W.npz] [--report DIR]
    python -m migration_audit matrix [IMAGE] [--report DIR]
    python -m migration_audit script ORIGINAL.py --port PORT [--compare TENSOR=KEY ...]
    python -m migration_audit convert-checkpoint SRC DST
    python -m migration_audit convert-checkpoint SRC DST.weights.h5   (TF1 -> Keras)
    python -m migration_audit convert-checkpoint SRC.weights.h5 DST   (Keras -> TF1)

The audit reads one image (the packaged 750x500 `timg.jpg` by default) with
the same Pillow decode both ports' command lines use, runs the TF1 port
(which draws the kernels, or takes `--weights`), then TF2 eager,
`tf.function`, XLA and the fast output path with those very kernels, and
the float64 reference; on a 750x500 8-bit image, the published script and
the TF2 port through the script engine (`migration_audit.demo_engine`). It
prints a table per stage and comparison and, with `--report DIR`, writes
`DIR/report.json` and `DIR/report.png`.

Exit status: 0 when every comparison holds its claim (bit-identical by
construction, or within the derived rounding bound), 1 when one does not,
2 for bad input or usage (one line on stderr, no file written).

`matrix` runs the audit once per CPU configuration (`migration_audit.matrix`).
`script` audits any TF1 script against its port (`migration_audit.script_cli`).
`matrix`, `script` and `convert-checkpoint` are recognised only as the first argument
(an image file of that name is passed as `./matrix`).
"""

import sys
from pathlib import Path

from deconv_io.errors import InputError
from deconv_io.images import check_image_path, default_image_path, load_image
from deconv_io.paths import check_input_file, check_output_file
from deconv_io.weights import load_weights
from deconv_runtime.cli import (ArgumentParser, add_verbose_argument, add_version_argument,
                                add_weights_argument, parse_and_run, positive_int)
from deconv_runtime.interrupts import run_interruptible
from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow
from migration_audit.options import AUDIT_MAX_PIXELS, check_report_dir

__all__ = ["CONVERT", "MATRIX", "PROG", "SCRIPT", "build_convert_parser", "build_parser",
           "main"]

PROG = "migration_audit"
CONVERT = "convert-checkpoint"
MATRIX = "matrix"
SCRIPT = "script"
KERAS_SUFFIX = ".weights.h5"

_MAX_SEED = 2**63 - 1


def build_parser():
    """Returns the audit's parser."""
    parser = ArgumentParser(
        prog=PROG,
        description="Audit the TF1 -> TF2 migration: run the original TF1 graph and the "
                    "TF2 module (eager, tf.function, XLA, fast output path) on the same "
                    "image and kernels, plus a float64 NumPy reference, and compare every "
                    "stage (conv1, pool, output, and the original's displayed picture). On a "
                    "750x500 8-bit image (the default) the published script itself also runs, "
                    "unchanged, through the script engine against the TF2 port and the "
                    "float64 shadow of its own graph (rows tf2_port vs original_script, ... "
                    "vs float64_shadow).",
        epilog=f"Also: {PROG} {MATRIX} [IMAGE] runs this audit in every CPU configuration "
               f"(oneDNN off/on, ISA caps, threads); see '{PROG} {MATRIX} --help'. "
               f"{PROG} {CONVERT} SRC DST converts a TF1 checkpoint of the original "
               f"(variables a, a1) to a TF2 checkpoint of tf2.DeconvDemo; see "
               f"'{PROG} {CONVERT} --help'. Exit status: 0 every comparison holds its claim "
               "(bit-identical, or within its rounding bound), 1 some do not, 2 bad input. "
               f"{PROG} {SCRIPT} ORIGINAL.py --port PORT audits any TF1 script's migration "
               f"(see '{PROG} {SCRIPT} --help').",
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", default=None,
                        help="any image Pillow opens, used as convert('RGB') gives it "
                             "(default: the packaged data/timg.jpg, 750x500)")
    parser.add_argument("--seed", type=int, default=None,
                        help="graph-level seed of the TF1 port's Glorot/Xavier draw of the "
                             "conv kernel (both ports then use that kernel); without it "
                             "each run draws anew, like the original")
    add_weights_argument(parser)
    parser.add_argument("--report", metavar="DIR", type=Path, default=None,
                        help="write DIR/report.json (every figure, versions, oneDNN "
                             "setting) and DIR/report.png (input, both outputs, difference "
                             "heat maps); DIR is created if its parent exists")
    parser.add_argument("--max-pixels", type=positive_int, default=AUDIT_MAX_PIXELS,
                        help="refuse larger images before decoding them (default "
                             f"{AUDIT_MAX_PIXELS}: the audit holds every witness's 64-channel "
                             "stages in memory, ~4 KB per pixel)")
    add_verbose_argument(parser)
    add_version_argument(parser, PROG)
    return parser


def build_convert_parser():
    """Returns the `convert-checkpoint` subcommand's parser."""
    parser = ArgumentParser(
        prog=f"{PROG} {CONVERT}",
        description="Convert a TF1 (tf.compat.v1.train.Saver) checkpoint of the original "
                    "graph to a TF2 checkpoint of tf2.DeconvDemo: a -> conv_kernel, "
                    "a1 -> deconv_kernel (float32 [3,3,3,64] each). The image variable "
                    "'Variable' is reported and ignored: the TF2 module takes the image as "
                    "input. Read the result with "
                    "tf.train.Checkpoint(demo=DeconvDemo()).read(DST). "
                    "With DST ending in .weights.h5: convert to the Keras weights of "
                    "tf2.build_keras_demo() (model.load_weights(DST)); with SRC ending in "
                    ".h5: convert such a Keras weights file back to a TF1 checkpoint (a, a1). "
                    "Both print the name map and the missing, unexpected and mismatched "
                    "variables before writing, and write nothing when a kernel is missing "
                    "or mismatched.",
    )
    parser.add_argument("src", metavar="SRC",
                        help="the TF1 checkpoint prefix (beside SRC.index), or a folder with "
                             "a 'checkpoint' file")
    parser.add_argument("dst", metavar="DST",
                        help="the TF2 checkpoint prefix to write: DST.index and "
                             "DST.data-00000-of-00001 (an existing checkpoint there is "
                             "replaced, the .index last; missing folders are created, as "
                             "TensorFlow's Saver does). An existing folder gets DST/ckpt "
                             "inside it; an empty DST, a DST ending in / that is not a "
                             "folder, or files of DST that are folders, devices or SRC's "
                             "own are refused")
    add_verbose_argument(parser)
    add_version_argument(parser, f"{PROG} {CONVERT}")
    return parser


def _summary(result):
    # Bit identity per pair of witnesses, over every stage they share.
    stages_by_pair = {}
    for c in result.comparisons:
        if c.bit_identical is not None:
            stages_by_pair.setdefault(c.name, []).append(c)
    identical = [name for name, rows in stages_by_pair.items()
                 if all(c.bit_identical for c in rows)]
    differing = [f"{name} ({', '.join(c.stage for c in rows if not c.bit_identical)})"
                 for name, rows in stages_by_pair.items() if name not in identical]
    worst = max((c for c in result.comparisons if c.claim == "bound"),
                key=lambda c: c.error_over_bound, default=None)
    lines = [f"{name}: not run on this image ({why})" for name, why in result.skipped.items()]
    lines += [f"bit-identical at every stage: {', '.join(identical) or 'none'}",
              f"not bit-identical: {', '.join(differing) or 'none'}"]
    if worst is not None:
        from migration_audit.report import ULP_MEANINGFUL_BELOW

        ulps = f"; {worst.ulps} ULPs" if 0 <= worst.ulps < ULP_MEANINGFUL_BELOW else ""
        lines.append(f"largest error/bound: {worst.error_over_bound:.3g} ({worst.stage} "
                     f"{worst.name}{ulps})")
    failed = [c for c in result.comparisons if not c.passed]
    if failed:
        lines.append(f"verdict: FAIL - {len(failed)} of {len(result.comparisons)} comparisons "
                     "break their claim (bit-identical, or error/bound <= 1): "
                     + "; ".join(f"{c.stage} {c.name}" for c in failed))
    else:
        lines.append(f"verdict: PASS - all {len(result.comparisons)} comparisons hold their "
                     "claim (bit-identical by construction, or within the derived rounding "
                     "bound)")
    return "\n".join(lines)


def _run(args):
    quiet_tensorflow(args.verbose)
    if args.seed is not None and not 0 <= args.seed <= _MAX_SEED:
        raise InputError(f"--seed must be in [0, 2**63 - 1]. Received: {args.seed}")
    image_path = check_image_path(Path(args.image) if args.image else default_image_path())
    if args.weights is not None:
        check_input_file(args.weights, "Weights file")
    report_dir = check_report_dir(args.report, inputs=(image_path, args.weights))
    image = run_interruptible(load_image, image_path, max_pixels=args.max_pixels)
    weights = load_weights(args.weights) if args.weights is not None else None

    # TensorFlow and matplotlib are imported only now, every input checked.
    from deconv_io.display import choose_backend

    choose_backend(False)  # never a window: the report is a file
    import_tensorflow()
    from migration_audit.audit import run_audit
    from migration_audit.report import environment, environment_line, format_table, \
        nonfinite_lines, report_dict, ulp_note, write_report_json, write_report_png

    env = environment()

    def progress(line):
        print(f"{PROG}: {line}", file=sys.stderr, flush=True)

    progress(f"auditing {image_path}, image {image.shape}, one line per runner ...")
    # In a worker thread, so that a signal stops the audit mid-computation.
    result = run_interruptible(run_audit, image, seed=args.seed, weights=weights, log=progress)
    kernels = (f"from {args.weights}" if weights is not None
               else f"drawn by tf1_session (seed={args.seed})")
    print(environment_line(env))
    print(f"{image_path}: image {tuple(result.images.shape)}, kernels {kernels}")
    print(format_table(result.comparisons))
    if ulp_note(result.comparisons):
        print(ulp_note(result.comparisons))
    for line in nonfinite_lines(result.comparisons):
        print(line)
    print(_summary(result))
    if report_dir is not None:
        report_dir.mkdir(exist_ok=True)
        write_report_png(report_dir / "report.png", result)
        write_report_json(report_dir / "report.json",
                          report_dict(result, image_path, args.seed, args.weights, env))
        print(f"report: {report_dir / 'report.json'}, {report_dir / 'report.png'}")
    return 0 if result.passed else 1


def _convert_keras(args, to_keras):
    from deconv_io.atomic import TEMP_EXTRA_BYTES
    from migration_audit.checkpoint_files import checkpoint_source

    if to_keras:
        if not str(args.dst).endswith(KERAS_SUFFIX):
            raise InputError(f"DST {args.dst}: a Keras weights file must end in {KERAS_SUFFIX}")
        src = checkpoint_source(args.src)
        check_output_file(args.dst, "DST", inputs=(Path(f"{src}.index"),),
                          extra=TEMP_EXTRA_BYTES + len(KERAS_SUFFIX))
        args.src = src
    else:
        src = check_input_file(args.src, "Keras weights file")
        check_output_file(f"{args.dst}.index", "DST", inputs=(src,), extra=0)
        check_output_file(f"{args.dst}.data-00000-of-00001", "DST", inputs=(src,), extra=0,
                          clean_stale=False)
    import_tensorflow()
    from migration_audit.keras_checkpoints import convert_keras_to_tf1, convert_tf1_to_keras, \
        plan_keras_to_tf1, plan_tf1_to_keras

    plan = (plan_tf1_to_keras if to_keras else plan_keras_to_tf1)(args.src, args.dst)
    print("\n".join(plan.lines()))
    (convert_tf1_to_keras if to_keras else convert_keras_to_tf1)(args.src, args.dst, plan)
    print(f"wrote {args.dst}")
    return 0


def _convert(args):
    quiet_tensorflow(args.verbose)
    from migration_audit.checkpoint_files import missing_folders_made
    from migration_audit.checkpoint_files import checkpoint_destination

    keras = str(args.dst).endswith(".h5") or str(args.src).endswith(".h5")
    to_keras = keras and str(args.dst).endswith(".h5")
    if not to_keras:  # a TF checkpoint prefix, or a folder to write DST/ckpt in
        args.dst = checkpoint_destination(args.dst)
    # DST's missing folders are made, as TensorFlow's Saver does, and removed
    # again if the conversion is refused or fails.
    with missing_folders_made(args.dst):
        return _convert_keras(args, to_keras) if keras else _convert_tf1_to_tf2(args)


def _convert_tf1_to_tf2(args):
    from migration_audit.checkpoint_files import check_checkpoint_destination, checkpoint_source

    dst = args.dst
    src = checkpoint_source(args.src)
    check_checkpoint_destination(dst, src)
    import_tensorflow()
    from migration_audit.checkpoints import IMAGE_VARIABLE, TF1_NAMES, convert_tf1_to_tf2

    found = convert_tf1_to_tf2(src, dst)
    mapping = ", ".join(f"{tf1} -> {name}" for name, tf1 in TF1_NAMES.items())
    print(f"converted {found.prefix} -> {dst}: {mapping} (float32 [3, 3, 3, 64])")
    for name, (shape, dtype) in found.ignored.items():
        why = ("the original's image variable; the TF2 module takes the image as input"
               if name == IMAGE_VARIABLE else "not a variable of the TF2 module")
        print(f"ignored: '{name}' {list(shape)} {dtype}, present in SRC ({why})")
    return 0


def main(argv=None):
    """Runs the command line.

    Args:
        argv: the arguments after the program name; `None` reads `sys.argv`.

    Returns:
        The exit status: 0 when every comparison holds its claim (or the
        checkpoint was converted), 1 when some comparison is not, 2 for bad
        input or usage (one line on stderr, no output file written).

    Example:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: migration_audit ...
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == MATRIX:
        from migration_audit.matrix import main as matrix_main

        return matrix_main(argv[1:])
    if argv and argv[0] == SCRIPT:
        from migration_audit.script_cli import main as script_main

        return script_main(argv[1:])
    if argv and argv[0] == CONVERT:
        return parse_and_run(build_convert_parser(), argv[1:], _convert, PROG)
    return parse_and_run(build_parser(), argv, _run, PROG)


def console_main():
    """The console script's entry point (setup.cfg): `main` as a program."""
    from deconv_runtime.cli import run_as_program

    run_as_program(main)
