"""One image from the command line: `python -m tf2` against `python -m legacy_tf1`, whole processes.

Both programs run `IMAGE --save OUT.png --no-show` as a user types it, in
pairs: each pair runs the two back to back, the order swapped every pair,
so that a slow drift of a shared machine hits both alike; the figure is the
median over pairs of tf2's wall time divided by legacy's (and each program's
median wall and CPU time).

Where the seconds go is measured beside it, each in a fresh process:

- `interpreter`: `python -c pass`;
- `import_tensorflow_process`: `python -c "import tensorflow"` (TensorFlow's
  import also imports all of Keras, matplotlib.pyplot included, unless
  deferred as the tf2 command does: `deconv_runtime.tf_import.import_tensorflow`);
- per program, a process that imports TensorFlow, decodes the image, then
  times the program's own computation (`legacy_tf1.graph.run_session`:
  graph, session, variables, run; or the tf2 command's `DeconvDemo` and
  `tf2.cli.run_stages`, eager) and its picture (`render_picture` to a PNG).

Usage:
    python -m benchmarks.startup [--pairs N] [--image PATH] [--json OUT.json]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PROGRAMS", "main", "measure_pairs", "measure_phases"]

#: The two programs compared, as `python -m NAME`.
PROGRAMS = ("legacy_tf1", "tf2")

_PHASES_CHILD = """
import json, sys, time
program, image_path, picture_path = sys.argv[1:]
t = {}
start = time.perf_counter()
from deconv_runtime.tf_import import import_tensorflow
import_tensorflow(defer_keras=program == "tf2")  # as each program imports it
t["import_tensorflow"] = time.perf_counter() - start
from deconv_io.display import render_picture
from deconv_io.images import load_image
start = time.perf_counter()
image = load_image(image_path)
t["decode_image"] = time.perf_counter() - start
start = time.perf_counter()
if program == "legacy_tf1":
    from legacy_tf1.graph import run_session
    picture = run_session(image, seed=0)["display"]
else:
    from tf2.cli import run_stages
    from tf2.demo import DeconvDemo
    picture = run_stages(DeconvDemo(), image[None])["output"][0]
t["compute"] = time.perf_counter() - start
start = time.perf_counter()
render_picture(picture, save=picture_path)
t["render_picture"] = time.perf_counter() - start
print(json.dumps(t))
"""


def _env():
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"
    return env


def _timed(argv):
    """(wall seconds, CPU seconds of the child) of one process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=_env(), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_pairs(image, pairs, folder):
    """Runs each program `pairs` times, alternating which goes first.

    Returns:
        `{"pairs": [{program: {"wall_s", "cpu_s"}}], "median_ratio": tf2/legacy}`.
    """
    runs = []
    for i in range(pairs):
        order = PROGRAMS if i % 2 == 0 else PROGRAMS[::-1]
        run = {}
        for program in order:
            wall, cpu = _timed([sys.executable, "-m", program, str(image), "--save",
                                str(Path(folder) / f"{program}.png"), "--no-show"])
            run[program] = {"wall_s": wall, "cpu_s": cpu}
        runs.append(run)
    ratios = [run["tf2"]["wall_s"] / run["legacy_tf1"]["wall_s"] for run in runs]
    return {"pairs": runs, "median_ratio": statistics.median(ratios)}


def measure_phases(image, folder, repeats=3):
    """Medians (seconds) of the interpreter, TensorFlow's import and each program's steps."""
    samples = {}
    for _ in range(repeats):
        samples.setdefault("interpreter", []).append(
            _timed([sys.executable, "-c", "pass"])[0])
        samples.setdefault("import_tensorflow_process", []).append(
            _timed([sys.executable, "-c", "import tensorflow"])[0])
        for program in PROGRAMS:
            out = subprocess.run([sys.executable, "-c", _PHASES_CHILD, program, str(image),
                                  str(Path(folder) / "phases.png")],
                                 check=True, env=_env(), capture_output=True, text=True)
            for name, seconds in json.loads(out.stdout.strip().splitlines()[-1]).items():
                samples.setdefault(f"{program}: {name}", []).append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def _summary(pairs, phases):
    lines = []
    for program in PROGRAMS:
        walls = [run[program]["wall_s"] for run in pairs["pairs"]]
        cpus = [run[program]["cpu_s"] for run in pairs["pairs"]]
        lines.append(f"{program:>10}: wall {statistics.median(walls):.2f} s (min {min(walls):.2f}, "
                     f"max {max(walls):.2f}), CPU {statistics.median(cpus):.2f} s")
    lines.append(f"tf2 / legacy_tf1 (median of {len(pairs['pairs'])} paired runs): "
                 f"{pairs['median_ratio']:.3f} (target <= 1)")
    lines.append("where the seconds go (medians, each in a fresh process):")
    lines += [f"  {name:>32}: {seconds:.3f} s" for name, seconds in phases.items()]
    return "\n".join(lines)


def main(argv=None):
    """Runs the measurement; prints the summary and writes `--json`."""
    from deconv_runtime.cli import add_version_argument

    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup",
                                     description=__doc__.split("\n\n")[0])
    add_version_argument(parser, "startup")
    parser.add_argument("--pairs", type=int, default=5,
                        help="paired runs of the two programs (default 5)")
    parser.add_argument("--image", type=Path, default=None,
                        help="the image (default: the packaged data/timg.jpg)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error(f"--pairs must be >= 1, got {args.pairs}")
    if args.image is None:
        from deconv_io.images import default_image_path

        args.image = default_image_path()
    with tempfile.TemporaryDirectory() as folder:
        pairs = measure_pairs(args.image, args.pairs, folder)
        phases = measure_phases(args.image, folder)
    print(_summary(pairs, phases))
    if args.json is not None:
        from deconv_runtime.tf_import import import_tensorflow
        from migration_audit.report import environment

        import_tensorflow()  # its start-up lines muted
        args.json.write_text(json.dumps({"environment": environment(), "image": str(args.image),
                                         **pairs, "phases": phases}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
