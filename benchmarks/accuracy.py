"""Worst relative error per stage of both ports against the float64 reference.

`python -m benchmarks.accuracy` (from the repository root) runs the faithful
TF1 session with graph seeds 0, 1 and 2 on the packaged 750x500 image and on
random images of 333x517, 7x5 and 1x1, feeds the same kernels to the TF2
module (`tf.function` stages and the fast `output` path), and prints, per
size and stage, max |reference - actual| / max |reference| (the project's
error measure) and max |reference - actual| / derived bound (the verdict's,
<= 1 holds: `migration_audit.bounds`), worst over the seeds. The reference
is `migration_audit.reference`, written from the op definitions.
"""

import os
import sys

import numpy as np

from deconv_io import default_image_path, load_image
from deconv_io.cli import import_tensorflow, quiet_tensorflow

STAGES = ("conv1", "pool", "output")


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet_tensorflow()
    import_tensorflow()
    from legacy_tf1.graph import run_session
    from migration_audit import reference
    from migration_audit.bounds import FLOAT64_UNIT_ROUNDOFF, demo_bounds, error_over_bound
    from migration_audit.compare import relative_error
    from benchmarks._tf2_api import new_demo

    rng = np.random.default_rng(0)
    cases = {"750x500 (timg.jpg)": load_image(default_image_path()),
             "333x517": rng.uniform(0, 255, (333, 517, 3)).astype(np.float32),
             "7x5": rng.uniform(0, 255, (7, 5, 3)).astype(np.float32),
             "1x1": rng.uniform(0, 255, (1, 1, 3)).astype(np.float32)}
    demo = new_demo(seed=0)
    columns = [f"tf1 {s}" for s in STAGES] + [f"tf2 {s}" for s in STAGES] + ["tf2 fast output"]
    print("relative error / error over the derived bound, worst of seeds 0-2")
    print(f"{'size':20s}" + "".join(f"{c:>20s}" for c in columns))
    for name, image in cases.items():
        worst = dict.fromkeys(columns, 0.0)
        worst_ratio = dict.fromkeys(columns, 0.0)
        for seed in (0, 1, 2):
            tf1 = run_session(image, seed=seed)
            kernels = (tf1["image"], tf1["conv_kernel"], tf1["deconv_kernel"])
            expected = reference.demo_stages(*kernels)
            single = demo_bounds(*kernels, exact_conv1=expected["conv1"])
            double = demo_bounds(*kernels, FLOAT64_UNIT_ROUNDOFF, exact_conv1=expected["conv1"])
            demo.set_kernels(tf1["conv_kernel"], tf1["deconv_kernel"])
            tf2 = {s: t.numpy() for s, t in demo(tf1["image"]).items()}
            tf2["fast output"] = demo.output_window(tf1["image"]).numpy()
            for stage in STAGES:
                pairs = [(f"tf1 {stage}", tf1[stage]), (f"tf2 {stage}", tf2[stage])]
                if stage == "output":
                    pairs.append(("tf2 fast output", tf2["fast output"]))
                for column, actual in pairs:
                    error = relative_error(actual, expected[stage])
                    worst[column] = max(worst[column], error)
                    ratio, _ = error_over_bound(actual, expected[stage],
                                                single[stage] + double[stage])
                    worst_ratio[column] = max(worst_ratio[column], ratio)
        print(f"{name:20s}" + "".join(f"{worst[c]:11.2e} /{worst_ratio[c]:7.3f}"
                                      for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
