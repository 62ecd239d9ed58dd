"""Benchmark: `tf2.BilinearUpsample2D` against `keras.layers.UpSampling2D("bilinear")`.

    python -m benchmarks.upsample [--quick] [--json OUT.json] [--repeats N]

Where the two compute the same thing (`border="clamp"`, a frozen layer with
its bilinear kernel): per factor, both layers' `call` as one `tf.function`,
on the same float32 NHWC batch, interleaved (round-robin, one untimed call
before each timed one), after checking the outputs agree within float32
rounding. Also timed: the general (polyphase) form of `BilinearUpsample2D`
(`trainable=True`, the form any kernel takes), for reference. Medians in ms.
Times are what this machine gives in this run; no test asserts them.
"""

import json
import sys
import time
from pathlib import Path

PROG = "upsample"
VARIANTS = ("upsampling2d", "bilinear_upsample2d", "bilinear_upsample2d_general")


def build_parser():
    """Returns the command line's parser."""
    from deconv_runtime.cli import ArgumentParser, add_version_argument, positive_int

    parser = ArgumentParser(
        prog=PROG,
        description="Time tf2.BilinearUpsample2D(border='clamp') against "
                    "keras.layers.UpSampling2D(interpolation='bilinear') (the same numbers), "
                    "and the layer's general polyphase form, on one batch per factor.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="a small batch and 3 repeats (a smoke run)")
    parser.add_argument("--json", metavar="OUT.json", type=Path, default=None,
                        help="write the results as JSON")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed calls per variant and factor (default 15, 3 with --quick)")
    parser.add_argument("--factors", default="2,4",
                        help="comma-separated factors (default 2,4)")
    add_version_argument(parser, PROG)
    return parser


def _factors(text):
    from deconv_io.errors import InputError

    try:
        factors = [int(f) for f in text.split(",")]
    except ValueError:
        raise InputError(f"--factors: expected ints >= 1 separated by commas, got {text!r}") \
            from None
    if not factors or min(factors) < 1:
        raise InputError(f"--factors: expected ints >= 1 separated by commas, got {text!r}")
    return factors


def _run(args):
    from deconv_runtime.cli import check_output_path
    from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow

    quiet_tensorflow(False)
    factors = _factors(args.factors)
    json_path = check_output_path(args.json, "--json")
    tf = import_tensorflow()
    import keras
    import numpy as np

    from migration_audit.compare import relative_error
    from tf2.layers import BilinearUpsample2D

    shape = (2, 64, 48, 21) if args.quick else (8, 375, 250, 21)
    repeats = args.repeats or (3 if args.quick else 15)
    x = tf.constant(np.random.default_rng(0).random(shape, dtype=np.float32))
    results = []
    for factor in factors:
        layers = {
            "upsampling2d": keras.layers.UpSampling2D(factor, interpolation="bilinear",
                                                      data_format="channels_last"),
            "bilinear_upsample2d": BilinearUpsample2D(factor, border="clamp",
                                                      data_format="channels_last"),
            "bilinear_upsample2d_general": BilinearUpsample2D(factor, border="clamp",
                                                              trainable=True,
                                                              data_format="channels_last"),
        }
        calls = {}
        for name, layer in layers.items():
            layer(x)  # builds the layer
            calls[name] = tf.function(layer.call)
        expected = calls["upsampling2d"](x).numpy()
        for name in VARIANTS[1:]:
            error = relative_error(calls[name](x).numpy(), expected)
            # 1e-4: resize computes its sample positions in float32, which for
            # factors other than powers of two costs it a few 1e-5 of relative
            # error at factor 3; a wrong tap or offset is an O(1) error.
            if not error <= 1e-4:
                print(f"{PROG}: {name} differs from upsampling2d by {error:g} (relative) at "
                      f"factor {factor}", file=sys.stderr)
                return 1
        times = {name: [] for name in VARIANTS}
        for _ in range(repeats):
            for name in VARIANTS:
                calls[name](x).numpy()  # settle: follow a call of the same variant
                start = time.perf_counter()
                calls[name](x).numpy()
                times[name].append(time.perf_counter() - start)
        base = float(np.median(times["upsampling2d"]))
        for name in VARIANTS:
            median = float(np.median(times[name]))
            results.append({"variant": name, "factor": factor, "shape": list(shape),
                            "median_s": median, "min_s": float(min(times[name])),
                            "max_s": float(max(times[name])),
                            "over_upsampling2d": median / base})
    print(f"input {shape} float32, {repeats} timed calls each; medians")
    print(f"{'factor':>6}  {'variant':<28} {'ms':>8} {'/ UpSampling2D':>15}")
    for r in results:
        print(f"{r['factor']:>6}  {r['variant']:<28} {r['median_s'] * 1e3:>8.1f} "
              f"{r['over_upsampling2d']:>15.2f}")
    if json_path is not None:
        from deconv_io.atomic import write_bytes_atomic

        doc = {"tensorflow": tf.__version__, "keras": keras.__version__, "results": results}
        write_bytes_atomic(json_path, (json.dumps(doc, indent=1) + "\n").encode())
    return 0


def main(argv=None):
    """Runs the benchmark; 0 on success, 1 when the layers disagree, 2 for usage errors."""
    from deconv_runtime.cli import parse_and_run

    return parse_and_run(build_parser(), argv, _run, PROG)


if __name__ == "__main__":
    sys.exit(main())
