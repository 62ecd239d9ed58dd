"""`python -m migration_audit script`: audit any TF1 script's migration to its port.

    python -m migration_audit script ORIGINAL.py --port PORT [--compare TENSOR=KEY ...]
        [--run N] [--variables FILE.npz] [--report DIR] [--verbose] [--version]

Runs ORIGINAL.py unchanged (TF1, through `legacy_tf1.original`'s shim),
captures one `Session.run` (its feeds, every global variable and the
compared tensors, in that same call), calls the port with those inputs and
variables, evaluates the graph in float64 with per-element rounding bounds,
and prints one row per comparison (`migration_audit.script_audit`).

Exit status: 0 every row holds its claim; 1 some row fails (a migration bug:
a shape mismatch, values beyond the bound, a key the port did not return, a
non-finite value where the reference is finite); 2 bad input (one line on
stderr, no report written).
"""

import sys
import zipfile
from pathlib import Path

import numpy as np

from deconv_io.errors import InputError
from deconv_io.paths import check_input_file
from deconv_io.weights import NPZ_READ_ERRORS
from deconv_runtime.cli import (ArgumentParser, add_verbose_argument, add_version_argument,
                                parse_and_run)
from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow

__all__ = ["PROG", "build_parser", "load_variables", "main", "parse_compare"]

PROG = "migration_audit script"


def build_parser():
    """Returns the `script` subcommand's parser."""
    parser = ArgumentParser(
        prog=PROG,
        description="Audit the migration of any TF1 script: run ORIGINAL.py unchanged "
                    "(tf.compat.v1 in a fresh graph), capture one of its Session.run calls "
                    "(its feeds, every global variable and the compared tensors, fetched in "
                    "that same call), call your port as function(inputs, variables) with "
                    "those inputs (keyed by placeholder op name, e.g. 'x') and variables "
                    "(keyed by TF1 name, e.g. 'hidden/w'), and compare each compared tensor: "
                    "port vs tf1, tf1 vs float64 shadow, port vs float64 shadow. Each row's "
                    "bound comes from the graph, op by op (claim 'bound'); where an op has no "
                    "rounding rule the claim is 'empirical' (the port no farther from "
                    "float64 than twice the original, plus 4 float32 ULPs of the tensor's "
                    "largest magnitude) and the report names the op.",
        epilog="Exit status: 0 every row holds its claim; 1 a row fails (a shape mismatch, "
               "values beyond the bound, a key missing from the port's output, inf/NaN where "
               "the reference is finite); 2 bad input (script or port missing or raising, an "
               "unknown tensor, --run out of range, a bad --variables file): one line on "
               "stderr, nothing written.",
    )
    parser.add_argument("script", metavar="ORIGINAL.py", type=Path,
                        help="the TF1 script, run unchanged from its own folder")
    parser.add_argument("--port", required=True, metavar="PORT",
                        help="the port: path/to/port.py:function or package.module:function, "
                             "called as function(inputs, variables) and returning a dict "
                             "{key: array-like} (TF tensors, NumPy arrays, Keras outputs)")
    parser.add_argument("--compare", action="append", default=None, metavar="TENSOR=KEY",
                        help="compare graph tensor TENSOR (a tensor name such as "
                             "out/logits:0, or an op name) with the port's output KEY "
                             "(TENSOR alone: the same name); repeat for more. Without it, "
                             "every port key that names an op or tensor of the graph is "
                             "compared (the script then runs twice: once for the inputs, once "
                             "to fetch those tensors)")
    parser.add_argument("--run", type=int, default=None, metavar="N",
                        help="the Session.run call to capture, 0-based, counting every "
                             "session's runs in order (default: the last run that fetched a "
                             "tensor)")
    parser.add_argument("--variables", type=Path, default=None, metavar="FILE.npz",
                        help="set these variables by TF1 name before the run (an .npz, read "
                             "with allow_pickle=False; names may contain '/'); shapes must "
                             "match and dtypes convert exactly")
    parser.add_argument("--report", metavar="DIR", type=Path, default=None,
                        help="write DIR/report.json (every row, the run, the unsupported ops, "
                             "the environment; fields in docs/report.md) and DIR/report.png "
                             "(error/bound per compared tensor, the bound and the worst "
                             "element marked); DIR is created if its parent exists")
    add_verbose_argument(parser)
    parser.set_defaults(verbose=False)
    add_version_argument(parser, PROG)
    return parser


def parse_compare(items):
    """`["T=K", "T2"]` -> `{"T": "K", "T2": "T2"}`, or `InputError`."""
    if not items:
        return None
    compare = {}
    for item in items:
        tensor, sep, key = item.partition("=")
        tensor, key = tensor.strip(), (key.strip() if sep else tensor.strip())
        if not tensor or not key:
            raise InputError(f"--compare {item!r}: expected TENSOR=KEY")
        compare[tensor] = key
    return compare


def load_variables(path):
    """Reads `--variables FILE.npz`: `{name: array}` (allow_pickle=False), or `InputError`."""
    path = check_input_file(path, "Variables file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"--variables {path}: not a readable .npz (not a zip archive of "
                         "arrays; write one with np.savez)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.array(data[name]) for name in data.files}
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise InputError(f"--variables {path}: holds Python objects (pickles are not "
                             "read); save plain arrays with np.savez") from None
        raise InputError(f"--variables {path}: not a readable .npz ({e})") from None
    except (*NPZ_READ_ERRORS, KeyError) as e:
        raise InputError(f"--variables {path}: not a readable .npz ({e})") from None


def _verdict(result):
    failed = [r for r in result.rows if not r.passed]
    if failed:
        return (f"verdict: FAIL - {len(failed)} of {len(result.rows)} rows break their claim: "
                + "; ".join(f"{r.stage} {r.name}" for r in failed))
    claims = sorted({r.claim for r in result.rows})
    return (f"verdict: PASS - all {len(result.rows)} rows hold their claim "
            f"({', '.join(claims)})")


def _progress(line):
    print(line, flush=True)


def _run(args):
    quiet_tensorflow(args.verbose)
    from legacy_tf1.original.shim import read_script

    from migration_audit.options import check_report_dir

    if args.run is not None and args.run < 0:
        raise InputError(f"--run must be an int >= 0. Received: {args.run}")
    check_input_file(args.script, "Script")
    compare = parse_compare(args.compare)
    inputs = (args.script,) + ((args.variables,) if args.variables else ())
    report_dir = check_report_dir(args.report, inputs=inputs)
    read_script(args.script)  # refuse a bad file before TensorFlow
    variables = load_variables(args.variables) if args.variables is not None else None
    _progress(f"{PROG}: importing TensorFlow ...")
    from deconv_io.display import choose_backend

    choose_backend(False)  # never a window: the report is a file
    tf = import_tensorflow()
    if not args.verbose:
        tf.get_logger().setLevel("ERROR")  # the script's own TF1 deprecation notices
    from deconv_runtime.interrupts import run_interruptible
    from migration_audit.port import PortError
    from migration_audit.report import environment, environment_line, format_table, \
        nonfinite_lines, script_report_dict, ulp_note, write_report_json
    from migration_audit.script_audit import audit_script

    try:
        result = run_interruptible(audit_script, args.script, args.port, compare=compare,
                                   run=args.run, variables=variables, progress=_progress)
    except PortError as e:
        if args.verbose and e.frames:
            print(e.frames, file=sys.stderr, end="" if e.frames.endswith("\n") else "\n")
        raise
    env = environment()
    print(environment_line(env))
    print(f"{result.script}: run {result.run_index} of {result.runs} Session.run calls; "
          f"inputs {result.inputs or 'none (no feeds)'}; {len(result.variables)} variables")
    print(format_table(result.rows))
    if ulp_note(result.rows):
        print(ulp_note(result.rows))
    for line in nonfinite_lines(result.rows):
        print(line)
    if result.unsupported_ops:
        print(f"ops without a rounding rule (their rows' claim is empirical): "
              f"{', '.join(result.unsupported_ops)}")
    if result.extra_outputs:
        print(f"port outputs not compared: {', '.join(result.extra_outputs)}")
    print(_verdict(result))
    if report_dir is not None:
        from migration_audit.report_png import write_panels_png

        report_dir.mkdir(exist_ok=True)
        verdict = "PASS" if result.passed else "FAIL"
        write_panels_png(report_dir / "report.png", result.rows,
                         f"Script audit: {verdict}; {result.script.name} run {result.run_index} "
                         f"vs {result.port}")
        write_report_json(report_dir / "report.json",
                          script_report_dict(result, args.variables, env))
        print(f"report: {report_dir / 'report.json'}, {report_dir / 'report.png'}")
    return 0 if result.passed else 1


def main(argv=None):
    """Runs `migration_audit script`.

    Args:
        argv: the arguments after `script`; `None` reads `sys.argv`.

    Returns:
        The exit status: 0 every row holds its claim, 1 some row fails, 2 bad
        input or usage (one line on stderr, nothing written).

    Example:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: migration_audit script ...
    0
    """
    return parse_and_run(build_parser(), argv, _run, "migration_audit")
