"""Worst relative error per stage of the registry's runners against the float64 reference.

`python -m benchmarks.accuracy` (from the repository root) runs the
`tf1_session` runner, drawing the kernels with graph seeds 0, 1 and 2, on
the packaged 750x500 image and on random images of 333x517, 7x5 and 1x1,
feeds the same kernels to the `tf2_function` and `tf2_fast_window` runners
(`migration_audit.runners`), and prints, per size and stage,
max |reference - actual| / max |reference| (the project's error measure)
and max |reference - actual| / derived bound (the verdict's, <= 1 holds:
the pair bound of `migration_audit.bounds`), worst over the seeds. The
reference is the `float64_reference` runner, written from the op
definitions.
"""

import os
import sys

import numpy as np

from deconv_io.dumps import STAGES
from deconv_io.images import default_image_path, load_image
from deconv_runtime.tf_import import import_tensorflow, quiet_tensorflow

#: Column prefix -> the runner it measures.
RUNS = {"tf1": "tf1_session", "tf2": "tf2_function", "tf2 fast": "tf2_fast_window"}


def main(argv=None):
    """Prints the worst relative error per stage and runner against float64; exit 0."""
    import argparse

    from deconv_runtime.cli import add_version_argument

    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy",
                                     description=__doc__.split("\n\n")[0])
    add_version_argument(parser, "accuracy")
    parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet_tensorflow()
    tf = import_tensorflow()
    # Each runner call prepares its own DeconvDemo (new kernels per seed):
    # TensorFlow's notice about the traces that follow is expected here.
    tf.get_logger().setLevel("ERROR")
    from migration_audit.bounds import error_over_bound
    from migration_audit.compare import relative_error
    from migration_audit.runners import IMAGE, REFERENCE, RUNNERS, TF1, claim_bound, \
        precision_bounds

    rng = np.random.default_rng(0)
    cases = {"750x500 (timg.jpg)": load_image(default_image_path()),
             "333x517": rng.uniform(0, 255, (333, 517, 3)).astype(np.float32),
             "7x5": rng.uniform(0, 255, (7, 5, 3)).astype(np.float32),
             "1x1": rng.uniform(0, 255, (1, 1, 3)).astype(np.float32)}
    columns = [(prefix, stage) for prefix, name in RUNS.items() for stage in STAGES
               if stage in RUNNERS[name].gives]
    print("relative error / error over the derived bound, worst of seeds 0-2")
    print(f"{'size':20s}" + "".join(f"{prefix + ' ' + stage:>20s}" for prefix, stage in columns))
    for name, image in cases.items():
        inputs = {IMAGE: image[np.newaxis]}
        worst = dict.fromkeys(columns, 0.0)
        worst_ratio = dict.fromkeys(columns, 0.0)
        for seed in (0, 1, 2):
            prepared = RUNNERS[TF1].prepare(None, seed=seed)
            try:
                results = {"tf1": prepared(inputs)}
                kernels = prepared.variables()
            finally:
                prepared.close()
            expected = RUNNERS[REFERENCE](inputs, kernels)
            bounds = precision_bounds(inputs[IMAGE], kernels, exact_conv1=expected["conv1"])
            for prefix, runner in RUNS.items():
                if prefix != "tf1":
                    results[prefix] = RUNNERS[runner](inputs, kernels)
            for prefix, stage in columns:
                actual = results[prefix][stage]
                worst[prefix, stage] = max(worst[prefix, stage],
                                           relative_error(actual, expected[stage]))
                ratio, _ = error_over_bound(actual, expected[stage],
                                            claim_bound(RUNS[prefix], REFERENCE, bounds, stage))
                worst_ratio[prefix, stage] = max(worst_ratio[prefix, stage], ratio)
        print(f"{name:20s}" + "".join(f"{worst[c]:11.2e} /{worst_ratio[c]:7.3f}"
                                      for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
