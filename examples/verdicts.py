"""Every example port audited in each CPU configuration: the table of docs/examples.md.

    python -m examples.verdicts             # each configuration in a subprocess; markdown table
    python -m examples.verdicts --here      # this process's configuration; one JSON line a port

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` and `ONEDNN_MAX_CPU_ISA` once, when
it loads, so each configuration is a child process of its own; the parent
never imports TensorFlow. `CASES` is also the tests' table
(tests/test_examples.py): each port with the stages its bug must fail.
"""

import argparse
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

from migration_audit.configurations import NAMED

__all__ = ["CASES", "CONFIGS", "Case", "audit_case", "main"]

EXAMPLES = Path(__file__).resolve().parent
ROOT = EXAMPLES.parent

#: The configurations a table can hold (the matrix's; all intra-op threads).
CONFIGS = {"onednn-off": NAMED["onednn-off"], "onednn-avx2": NAMED["onednn-avx2"],
           "onednn-default": NAMED["onednn-on"]}


@dataclasses.dataclass(frozen=True)
class Case:
    """One port of one example script and the verdict it must get.

    Attributes:
        example: the folder under examples/ (`mlp`, `cnn`, ...).
        port: the port's file name in that folder (its function is `port`).
        stages: every stage (port key) the port returns, each a TF1 op name.
        fails: the stages its bug must fail (empty for a correct port).
    """

    example: str
    port: str
    stages: tuple
    fails: frozenset = frozenset()

    @property
    def script(self):
        return EXAMPLES / self.example / "original.py"

    @property
    def port_spec(self):
        return f"{EXAMPLES / self.example / self.port}:port"

    @property
    def name(self):
        return f"{self.example}/{self.port}"


_MLP = ("hidden/relu", "out/logits", "probs")
_CNN = ("conv1/relu", "pool", "conv2/relu", "deconv/output")
_SGD = ("layer1/tanh", "layer2/logits", "probs")
_BN = ("conv/conv2d", "bn/relu", "pool", "dense/logits")

CASES = (
    Case("mlp", "port.py", _MLP),
    Case("mlp", "alt_per_image.py", _MLP),
    Case("mlp", "alt_float64.py", _MLP),
    Case("mlp", "buggy_softmax_axis.py", _MLP, frozenset({"probs"})),
    Case("mlp", "buggy_bias_after_relu.py", _MLP, frozenset(_MLP)),
    Case("mlp", "buggy_float16.py", _MLP, frozenset(_MLP)),
    Case("cnn", "port.py", _CNN),
    Case("cnn", "alt_im2col.py", _CNN),
    Case("cnn", "buggy_flipped_kernel.py", _CNN, frozenset({"deconv/output"})),
    Case("cnn", "buggy_valid_padding.py", _CNN, frozenset({"conv2/relu", "deconv/output"})),
    Case("sgd", "port.py", _SGD),
    Case("sgd", "alt_float64.py", _SGD),
    Case("sgd", "buggy_fresh_weights.py", _SGD, frozenset(_SGD)),
    Case("batchnorm", "port.py", _BN),
    Case("batchnorm", "alt_per_image.py", _BN),
    Case("batchnorm", "buggy_batch_statistics.py", _BN, frozenset(_BN[1:])),
)


def _largest(values):
    """The largest finite-or-infinite error/bound among `values` (None when there is none)."""
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return max(values) if values else None


def audit_case(case):
    """Audits one case in this process; a JSON-ready summary of its rows.

    The engine gives three rows a stage: the port against TF1, TF1 against
    the float64 shadow, the port against the float64 shadow. `failing` names
    the stages where a port row fails; `original_failing` those where TF1's
    own row does (never, if the derived bound is sound).
    """
    from migration_audit import audit_script

    result = audit_script(case.script, case.port_spec)
    port_rows = [r for r in result.rows if r.actual == "port"]
    original_rows = [r for r in result.rows if r.actual != "port"]
    return {
        "port": case.name,
        "passed": bool(result.passed),
        "failing": sorted({r.stage for r in port_rows if not r.passed}),
        "original_failing": sorted({r.stage for r in original_rows if not r.passed}),
        "claims": sorted({r.claim for r in result.rows}),
        "bit_identical": all(r.bit_identical for r in port_rows if r.expected == "tf1"),
        "unsupported_ops": list(result.unsupported_ops),
        "worst_passing": _largest(r.error_over_bound for r in port_rows if r.passed),
        "worst_vs_tf1": _largest(r.error_over_bound for r in port_rows if r.expected == "tf1"),
        "worst_vs_float64": _largest(r.error_over_bound for r in port_rows
                                     if r.expected != "tf1"),
        "worst_failing": _largest(r.error_over_bound for r in port_rows if not r.passed),
        "worst_original": _largest(r.error_over_bound for r in original_rows),
    }


def _run_configuration(name):
    """`--here` in a child with configuration `name`: its summaries."""
    proc = subprocess.run([sys.executable, "-m", "examples.verdicts", "--here"], cwd=ROOT,
                          env=CONFIGS[name].child_env(),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: the child failed:\n{proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _figure(value):
    if value is None:
        return "-"
    return "inf (shapes differ)" if math.isinf(value) else f"{value:.2g}"


def _cell(summary):
    claims = "" if summary["claims"] == ["bound"] else f"; claims {summary['claims']}"
    if summary["passed"]:
        if summary["bit_identical"]:
            against_tf1 = "bit-identical to TF1"
        else:
            against_tf1 = f"vs TF1 {_figure(summary['worst_vs_tf1'])}"
        return f"pass ({against_tf1}; vs float64 {_figure(summary['worst_vs_float64'])}{claims})"
    upstream = ""
    if summary["worst_passing"] is not None:
        upstream = f"; the others pass, at most {_figure(summary['worst_passing'])}"
    return (f"FAIL at {', '.join(summary['failing'])} "
            f"({_figure(summary['worst_failing'])}{upstream}{claims})")


def format_table(results):
    """The markdown table: port x configuration, each cell verdict and largest error/bound.

    The last line: TF1 itself against the float64 shadow, its largest
    error/bound over every case's rows.
    """
    names = list(results)
    lines = ["| port | expected | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for i, case in enumerate(CASES):
        expected = "fail at " + ", ".join(sorted(case.fails)) if case.fails else "pass"
        cells = [_cell(results[name][i]) for name in names]
        lines.append(f"| `{case.name}` | {expected} | " + " | ".join(cells) + " |")
    originals = []
    for name in names:
        failing = sorted({stage for s in results[name] for stage in s["original_failing"]})
        worst = _largest(s["worst_original"] for s in results[name])
        originals.append(f"FAIL at {failing}" if failing else f"pass ({_figure(worst)})")
    lines.append("| TF1 against float64 (every script) | pass | " + " | ".join(originals) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m examples.verdicts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--here", action="store_true",
                        help="audit every case in this process's configuration; JSON lines")
    parser.add_argument("--configs", default="onednn-off,onednn-avx2,onednn-default",
                        help="comma-separated configurations among " + ", ".join(CONFIGS))
    args = parser.parse_args(argv)
    if args.here:
        for case in CASES:
            print(json.dumps(audit_case(case)), flush=True)
        return 0
    names = args.configs.split(",")
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; expected among {list(CONFIGS)}")
    results = {name: _run_configuration(name) for name in names}
    print(format_table(results))
    expected = all(bool(s["passed"]) == (not case.fails) and set(s["failing"]) == case.fails
                   and not s["original_failing"] and s["claims"] == ["bound"]
                   for summaries in results.values() for case, s in zip(CASES, summaries))
    return 0 if expected else 1


if __name__ == "__main__":
    sys.exit(main())
