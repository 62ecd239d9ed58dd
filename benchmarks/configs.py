"""Both CPU configurations in one command: one subprocess each, one table.

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` and `ONEDNN_MAX_CPU_ISA` once, when
it loads, so each configuration runs `python -m benchmarks.bench` with the
same flags in a process of its own (as `migration_audit.matrix` runs the
audit), one after the other so they never share the cores. Each child
writes its JSON document (with its environment fingerprint, from
`migration_audit.report.environment`); the parent, which never imports
TensorFlow, prints configuration x variant and the ratio rows against their
targets, and writes one combined JSON document. The configurations are
`migration_audit.configurations.NAMED`, as the audit's `matrix` defines them.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.peak_memory import ROOT
from benchmarks.report import RATIOS
from benchmarks.variants import VARIANTS
from migration_audit.configurations import NAMED

__all__ = ["child_argv", "format_configs_table", "run_configs"]


def child_argv(args, json_path):
    """The flags a configuration's child runs with: the parent's, and its own --json.

    Example:
    >>> from types import SimpleNamespace as N
    >>> args = N(quick=True, batches=None, sizes=[(9, 7)], large=False, variants=["tf1_session"],
    ...          repeats=2, warmup=1, settle=1, seed=0, rss=False, malloc="keep")
    >>> child_argv(args, "c.json")[:6]
    ['--quick', '--sizes', '9x7', '--large', 'none', '--variants']
    """
    argv = ["--quick"] if args.quick else []
    if args.batches:
        argv += ["--batches", ",".join(map(str, args.batches))]
    if args.sizes:
        argv += ["--sizes", ",".join(f"{h}x{w}" for h, w in args.sizes)]
    if args.large is not None:
        argv += ["--large", "x".join(map(str, args.large)) if args.large else "none"]
    argv += ["--variants", ",".join(args.variants)]
    if args.repeats:
        argv += ["--repeats", str(args.repeats)]
    argv += ["--warmup", str(args.warmup), "--settle", str(args.settle), "--seed", str(args.seed)]
    if not args.rss:
        argv.append("--no-rss")
    argv += ["--malloc", args.malloc]
    return argv + ["--json", str(json_path)]


def _run_child(name, argv, log):
    """Runs one configuration's child, its output passed on line by line; its exit status."""
    cmd = [sys.executable, "-m", "benchmarks.bench", *argv]
    with subprocess.Popen(cmd, cwd=ROOT, env=NAMED[name].child_env(log_level=None),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            log(f"[{name}] {line.rstrip()}")
    return proc.returncode


def run_configs(args, names, log):
    """Runs the benchmark once per configuration, each in its own subprocess.

    Args:
        args: the parsed flags (every child runs with the same ones).
        names: keys of `migration_audit.configurations.NAMED`, in table order.
        log: where the children's output goes, line by line.

    Returns:
        The combined document: `configurations`, a list of `{"name", "env",
        "exit_status", "result"}` (`result`: the child's JSON document, None
        when it failed), and the command and date.
    """
    entries = []
    with tempfile.TemporaryDirectory(prefix="bench-configs-") as tmp:
        for name in names:
            json_path = Path(tmp) / f"{name}.json"
            status = _run_child(name, child_argv(args, json_path), log)
            result = json.loads(json_path.read_text()) if json_path.exists() else None
            entries.append({"name": name, "env": dict(NAMED[name].env), "exit_status": status,
                            "result": result if status == 0 else None})
    return {"command": " ".join(["python -m benchmarks.bench"] + list(args.argv)),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "configurations": entries}


def _cell(value, fmt=".2f"):
    return "-" if value is None else format(value, fmt)


def _ratio_cell(entry, stretch=False):
    """`1.23 met`, `4.10 MISSED`, `0.91` (no target); `stretch`: against the stretch target."""
    met = entry["stretch_met"] if stretch else entry["met"]
    return f"{entry['value']:.2f}" + ("" if met is None else " met" if met else " MISSED")


def format_configs_table(combined):
    """Configuration x variant (median ms per size), then the ratio rows with met/missed."""
    runs = [(c["name"], c["result"]) for c in combined["configurations"]]
    docs = [doc for _, doc in runs if doc]
    names = [name for name, _ in runs]
    width = max(12, *(len(n) for n in names))
    sizes = list(dict.fromkeys((r["batch"], r["height"], r["width"])
                               for doc in docs for r in doc["results"]))
    lines = []

    def row(label, cells):
        lines.append(f"{label:<44}" + "".join(f"  {c:>{width}}" for c in cells))

    for size in sizes:
        by = [{r["variant"]: r for r in doc["results"]
               if (r["batch"], r["height"], r["width"]) == size} if doc else {}
              for _, doc in runs]
        row(f"median ms at {'x'.join(map(str, size))}", names)
        for variant in VARIANTS:
            if any(variant in b for b in by):
                row(f"  {variant}", [_cell(b[variant]["median_s"] * 1e3) if variant in b
                                     else "-" for b in by])
        floors = [next(iter(b.values())).get("compute_floor_ms") if b else None for b in by]
        row("  compute_floor", [_cell(f) for f in floors])
    row("float32 FMA rate, GFMA/s (best matmul)", [_cell(doc["compute_floor"]["fma"]["gfma_per_s"],
                                                      ".1f") if doc else "failed"
                                                for _, doc in runs])
    targets = [doc["targets"] if doc else {} for _, doc in runs]
    sized = [t for ts in targets for t in ts.values()]
    if sized:
        where = "x".join(map(str, sized[0]["size"]))
        note = "" if sized[0]["at_target_size"] else " (the targets are set at 16x750x500)"
        lines.append(f"ratios at {where}{note}")
    for name, (num, den, target, stretch) in RATIOS.items():
        if not any(name in t for t in targets):
            continue
        label = f"  {num}/{den}" + (f" ({' '.join(map(str, target))})" if target else "")
        row(label, [_ratio_cell(t[name]) if name in t else "-" for t in targets])
        if stretch:
            row(f"  {num}/{den} stretch ({' '.join(map(str, stretch))})",
                [_ratio_cell(t[name], stretch=True) if name in t else "-" for t in targets])
    for name, doc in runs:
        if not doc:
            status = next(c["exit_status"] for c in combined["configurations"]
                          if c["name"] == name)
            lines.append(f"{name}: failed (exit status {status})")
    return "\n".join(lines)
