"""Benchmark: the faithful TF1 session against the TF2 variants, in one run.

    python -m benchmarks.bench [--quick] [--json OUT.json] [--plot OUT.png] [--repeats N]
                               [--configs onednn-off,onednn-on]

The command line only; the logic is in `benchmarks.variants` (what is
timed), `benchmarks.checks` (every output against tf1_session's before any
timing), `benchmarks.timing` (the interleaved timing), `benchmarks.floor`
(the compute floor), `benchmarks.peak_memory`, `benchmarks.report` (ratios,
targets, table, plot) and `benchmarks.configs` (one subprocess per CPU
configuration, one table). Exit status: 0, 1 when a variant's output
differs from tf1_session's (or a configuration's run failed), 2 for a
usage error.
"""

import argparse
import json
import sys
from pathlib import Path

if not __package__:  # run by file path, `benchmarks.*` would not import
    sys.exit("bench: run it from the repository root as `python -m benchmarks.bench`")

from benchmarks.variants import VARIANTS
from migration_audit.configurations import NAMED

__all__ = ["build_parser", "main"]

PROG = "bench"


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


def _configs(text):
    names = list(dict.fromkeys(t for t in text.split(",") if t))
    unknown = [n for n in names if n not in NAMED]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected configurations from {','.join(NAMED)}, "
                                         f"got {text!r}")
    return names


def build_parser():
    """Returns the command line's parser."""
    from deconv_runtime.arguments import int_argument
    from deconv_runtime.cli import ArgumentParser, add_version_argument, positive_int

    positive, non_negative = positive_int, int_argument(0)
    parser = ArgumentParser(
        prog=PROG,
        description="Time the demo's pipeline per variant (faithful TF1 session, TF2 eager, "
                    "tf.function, XLA, the fast output path), the memory floor and the compute "
                    "floor, interleaved, in one run; check every output against the TF1 session "
                    "first; record peak memory per variant in fresh subprocesses.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="batches 1 and 4 at 750x500 only, no large image, 5 repeats "
                             "(CI smoke run)")
    parser.add_argument("--json", metavar="OUT.json", type=Path, default=None,
                        help="write the machine, the results, the floors and the ratios as "
                             "JSON (with --configs: one entry per configuration)")
    parser.add_argument("--plot", metavar="OUT.png", type=Path, default=None,
                        help="write a bar chart of the median time per variant and batch "
                             "(log scale; with --configs, one per configuration: "
                             "OUT_NAME.png)")
    parser.add_argument("--configs", type=_configs, default=None, metavar="NAME,...",
                        help="run once per CPU configuration, each in its own subprocess, "
                             "and print one combined table; names: " + ", ".join(
                                 f"{n} ({' '.join(f'{k}={v}' for k, v in c.env.items() if v)})"
                                 for n, c in NAMED.items()))
    parser.add_argument("--repeats", type=positive, default=None,
                        help="timed calls per variant and size (default 20, 5 with --quick)")
    parser.add_argument("--warmup", type=positive, default=2,
                        help="untimed calls per variant before timing (default 2; traces "
                             "and XLA compiles happen here)")
    parser.add_argument("--settle", type=non_negative, default=1,
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
    parser.add_argument("--malloc", choices=("keep", "default"), default="keep",
                        help="keep: glibc keeps freed memory for reuse "
                             "(deconv_runtime.allocator.keep_freed_memory, as python -m tf2 does), "
                             "for every variant alike, so large tensors do not fault in "
                             "fresh pages on every call; default: glibc's own settings "
                             "(default keep; the children of --configs and the peak-memory runs "
                             "get the same)")
    parser.add_argument("--no-rss", dest="rss", action="store_false",
                        help="skip the peak-memory subprocesses (peak_rss_mb is null)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the images and of the conv kernel (default 0)")
    parser.add_argument("--child-rss", metavar="VARIANT:N:H:W", default=None,
                        help=argparse.SUPPRESS)  # internal: one peak-memory measurement
    add_version_argument(parser, PROG)
    return parser


def _write_json(path, doc):
    from deconv_io.atomic import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(doc, indent=1) + "\n").encode())
    print(f"{PROG}: wrote {path}")


def _run_configs(args, json_path, plot_path):
    """The parent of --configs: never imports TensorFlow."""
    from benchmarks.configs import format_configs_table, run_configs
    from benchmarks.report import write_plot

    combined = run_configs(args, args.configs, lambda line: print(line, file=sys.stderr))
    print(format_configs_table(combined))
    if json_path is not None:
        _write_json(json_path, combined)
    for entry in combined["configurations"]:
        if plot_path is not None and entry["result"]:
            path = plot_path.with_name(f"{plot_path.stem}_{entry['name']}{plot_path.suffix}")
            write_plot(entry["result"], path)
            print(f"{PROG}: wrote {path}")
    return 0 if all(c["exit_status"] == 0 for c in combined["configurations"]) else 1


def _run(args):
    from benchmarks.checks import MismatchError
    from deconv_runtime.allocator import keep_freed_memory
    from deconv_runtime.cli import check_output_path
    from deconv_runtime.tf_import import quiet_tensorflow

    quiet_tensorflow(False)
    if args.malloc == "keep":
        keep_freed_memory()  # before TensorFlow starts its threads
    if args.child_rss is not None:
        from benchmarks.peak_memory import child_rss

        return child_rss(args.child_rss, args.seed)
    json_path = check_output_path(args.json, "--json")
    plot_path = check_output_path(args.plot, "--plot")
    if args.configs:
        return _run_configs(args, json_path, plot_path)
    from benchmarks.report import format_table, write_plot
    from benchmarks.timing import run_benchmark

    try:
        doc = run_benchmark(args)
    except MismatchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(format_table(doc))
    if json_path is not None:
        _write_json(json_path, doc)
    if plot_path is not None:
        write_plot(doc, plot_path)
        print(f"{PROG}: wrote {plot_path}")
    return 0


def main(argv=None):
    """Runs the benchmark command line.

    Returns:
        0 on success, 1 when a variant's output differs from `tf1_session`'s
        (or, with --configs, a configuration's run failed), 2 for a usage error.
    """
    from deconv_runtime.cli import parse_and_run

    argv = sys.argv[1:] if argv is None else list(argv)

    def run(args):
        args.argv = argv
        return _run(args)

    return parse_and_run(build_parser(), argv, run, PROG)


if __name__ == "__main__":
    from deconv_runtime.cli import run_as_program

    run_as_program(main)
