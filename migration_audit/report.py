"""The audit's outputs: the printed table, `report.json` and `report.png`.

Both files are written atomically (a temporary file beside the target, then
`os.replace`), so a failed run never leaves a half-written report.
"""

import importlib.metadata
import json
import os
import platform
import sys

import numpy as np

from deconv_io.atomic import atomic_path, write_bytes_atomic
from deconv_io.display import normalize_for_display, quiet_imshow_clipping

__all__ = ["COLUMNS", "ISA_FLAGS", "SCHEMA_VERSION", "cpu_fingerprint", "environment",
           "environment_line", "format_table", "nonfinite_lines", "onednn_enabled",
           "report_dict", "report_header", "script_report_dict", "ulp_note",
           "write_report_json", "write_report_png"]

#: report.json's layout version (docs/report.md describes every field).
SCHEMA_VERSION = 2

#: The table's columns, as printed and as named in report.json.
COLUMNS = ("stage", "comparison", "shape", "dtype", "max abs diff", "max rel diff", "ULPs",
           "bit-identical", "claim", "max bound", "error/bound", "verdict")


def _figure(value):
    if value == 0:
        return "0"
    return f"{value:.3g}"


#: A ULP distance of a binade or more (2**23 float32 values) means the two
#: values at that element differ by a factor of about 2: an element near
#: zero, where a ULP is no unit of error. The table shows "-" there.
ULP_MEANINGFUL_BELOW = 2**23
#: The line printed under a table that shows "-" for ULPs.
ULP_NOTE = ("ULPs: '-' where the largest distance is 2**23 float32 ULPs or more (an element "
            "near zero, where ULPs measure nothing); error/bound is the verdict's measure")


def _ulps(comparison):
    if comparison.ulps < 0:
        return "n/a"
    return str(comparison.ulps) if comparison.ulps < ULP_MEANINGFUL_BELOW else "-"


def ulp_note(comparisons):
    """`ULP_NOTE` when the table hides some row's ULPs, else None."""
    hidden = any(c.ulps >= ULP_MEANINGFUL_BELOW for c in comparisons)
    return ULP_NOTE if hidden else None


def nonfinite_lines(comparisons):
    """One line per row with an inf or NaN on either side: where, and whether they agree."""
    lines = []
    for c in comparisons:
        nf = c.nonfinite
        if not nf or not (nf["actual"] or nf["expected"]):
            continue
        agree = ("both sides agree exactly there" if nf["agree"]
                 else f"they disagree; {nf['where_expected_finite']} where {c.expected} is "
                      f"finite ({nf['failing']} failing)")
        lines.append(f"inf/NaN: {c.stage} {c.name}: {nf['actual']} in {c.actual}, "
                     f"{nf['expected']} in {c.expected}, first at {nf['first_index']}; {agree}")
    return lines


def _row(comparison):
    identical = {True: "yes", False: "no", None: "n/a"}[comparison.bit_identical]
    shape = str(comparison.shape)
    if comparison.missing:
        shape = f"missing (expected {comparison.expected_shape})"
    elif comparison.shape != comparison.expected_shape:
        shape = f"{comparison.shape} != {comparison.expected_shape}"
    ratio = _figure(comparison.error_over_bound)
    if comparison.unbounded:
        ratio += f" ({comparison.unbounded} unbounded)"
    return (comparison.stage, comparison.name, shape, comparison.dtype,
            _figure(comparison.max_abs_diff), _figure(comparison.max_rel_diff),
            _ulps(comparison), identical, comparison.claim, _figure(comparison.bound), ratio,
            "ok" if comparison.passed else "FAIL")


def format_table(comparisons):
    """Returns the comparisons as an aligned text table, one row each.

    Example:
    >>> from migration_audit.compare import compare_arrays
    >>> print(format_table([compare_arrays("pool", "b", np.ones(2, np.float32),
    ...                                    "a", np.ones(2, np.float32), bound=1e-6)]))
    ... # doctest: +NORMALIZE_WHITESPACE
    stage  comparison  shape  dtype    max abs diff  max rel diff  ULPs  bit-identical  claim  max bound  error/bound  verdict
    pool   b vs a      (2,)   float32  0             0             0     yes            bound  1e-06      0            ok
    """
    rows = [COLUMNS] + [_row(c) for c in comparisons]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


def onednn_enabled():
    """Whether TensorFlow's oneDNN (MKL) CPU kernels are on in this process.

    Reads TensorFlow's own runtime flag (`TF_ENABLE_ONEDNN_OPTS` and the
    build's default decide it); `None` where that private hook is missing.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # pragma: no cover - a TensorFlow without the hook
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


#: The CPU flags that decide which kernels TensorFlow and oneDNN run.
ISA_FLAGS = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
             "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd")


def _cpuinfo():
    """(model name, set of flags) from /proc/cpuinfo; (platform's, empty) elsewhere."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and value.strip():
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def cpu_fingerprint():
    """`{"cpu": model name, "isa": [relevant flags present]}` without importing TensorFlow.

    Example:
    >>> sorted(cpu_fingerprint())
    ['cpu', 'isa']
    """
    model, flags = _cpuinfo()
    return {"cpu": model, "isa": [flag for flag in ISA_FLAGS if flag in flags]}


def _threads():
    import tensorflow as tf

    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    return {"intra_op": intra or None, "inter_op": inter or None,
            "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS"),
            "TF_NUM_INTEROP_THREADS": os.environ.get("TF_NUM_INTEROP_THREADS"),
            "cpu_count": os.cpu_count()}


def environment():
    """What decides float rounding here: CPU, ISA, oneDNN, threads, versions (report.json).

    `threads.intra_op`/`inter_op` are TensorFlow's settings (None: its
    default, one thread per core), beside the variables that set them.
    """
    import tensorflow as tf

    return {
        **cpu_fingerprint(),
        "onednn": onednn_enabled(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "threads": _threads(),
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": _version("keras"),
        "tf_keras": _version("tf_keras"),
        "numpy": np.__version__,
        "pillow": _version("pillow"),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def environment_line(env):
    """One line of `environment()` for the top of the printed table.

    Example:
    >>> environment_line({"cpu": "X", "isa": ["avx2"], "onednn": False,
    ...     "onednn_max_cpu_isa": None, "threads": {"intra_op": None, "cpu_count": 2},
    ...     "tensorflow": "2.21.0", "keras": "3", "numpy": "2", "pillow": "11"})
    'environment: X [avx2]; oneDNN off (ONEDNN_MAX_CPU_ISA unset); intra-op threads default (2 cores); TensorFlow 2.21.0, Keras 3, NumPy 2, Pillow 11'
    """
    onednn = {True: "on", False: "off", None: "unknown"}[env["onednn"]]
    cap = env["onednn_max_cpu_isa"] or "unset"
    threads = env["threads"]["intra_op"] or f"default ({env['threads']['cpu_count']} cores)"
    return (f"environment: {env['cpu']} [{' '.join(env['isa'])}]; oneDNN {onednn} "
            f"(ONEDNN_MAX_CPU_ISA {cap}); intra-op threads {threads}; TensorFlow "
            f"{env['tensorflow']}, Keras {env['keras']}, NumPy {env['numpy']}, "
            f"Pillow {env['pillow']}")


def report_header():
    """The fields every report.json starts with: its schema and the project's version."""
    return {"schema_version": SCHEMA_VERSION, "project": "bilinear-deconv-migration",
            "project_version": _version("bilinear-deconv-migration")}


def _rows(comparisons, passed, unsupported_ops, env):
    return {
        "passed": passed,
        "columns": list(COLUMNS),
        "comparisons": [c.as_dict() for c in comparisons],
        "unsupported_ops": list(unsupported_ops),
        "environment": environment() if env is None else env,
    }


def report_dict(result, image_path, seed, weights_path, env=None):
    """Everything the demo's report.json holds, as a JSON-ready dict (`env`: `environment()`).

    `unsupported_ops` lists the script engine's ops without a rule (none for
    the demo's graph: its bounds are derived for each op).
    """
    bit_identical = [f"{c.stage} {c.name}" for c in result.comparisons if c.bit_identical]
    return {
        **report_header(),
        "kind": "demo",
        "image": str(image_path),
        "images_shape": list(result.images.shape),
        "seed": seed,
        "weights": None if weights_path is None else str(weights_path),
        "kernels_from": ("weights file" if weights_path is not None
                         else f"tf1_session Glorot draw (seed={seed})"),
        **_rows(result.comparisons, result.passed, result.unsupported_ops, env),
        "bit_identical": bit_identical,
        "seconds": {name: round(s, 4) for name, s in result.seconds.items()},
        "skipped": dict(result.skipped),
    }


def script_report_dict(result, variables_path=None, env=None):
    """Everything a script audit's report.json holds (`result`: a `ScriptAuditResult`)."""
    return {
        **report_header(),
        "kind": "script",
        "script": str(result.script),
        "port": result.port,
        "run_index": result.run_index,
        "runs": result.runs,
        "inputs": dict(result.inputs),
        "variables": dict(result.variables),
        "variables_file": None if variables_path is None else str(variables_path),
        "compared": dict(result.compared),
        **_rows(result.rows, result.passed, result.unsupported_ops, env),
        "unsupported_by_tensor": dict(result.unsupported_by_tensor),
        "extra_outputs": list(result.extra_outputs),
    }


def write_report_json(path, report):
    """Writes `report` (a dict) as indented JSON, atomically."""
    write_bytes_atomic(path, (json.dumps(report, indent=2) + "\n").encode())


def _output_title(name, output):
    return (f"{name} output[0]\nnormalised from [{_figure(float(output.min()))}, "
            f"{_figure(float(output.max()))}]")


def write_report_png(path, result):
    """Draws the audit's picture and writes it as a PNG, atomically.

    Top row: the input image, then the TF1 and the TF2 (`tf.function`)
    outputs as the original showed them (raw floats passed to `imshow`,
    which clips them to [0, 1], mostly saturated). Second row: the two
    outputs rescaled to their own min..max so a person can see them. Below:
    every stage's verdict panel (`migration_audit.report_png`): error/bound
    of each comparison along the elements, the bound (=1) and each row's
    worst element marked.
    """
    import matplotlib.pyplot as plt

    from migration_audit.report_png import draw_stage_panel, stage_order

    quiet_imshow_clipping()
    tf1 = result.witnesses["tf1_session"]["output"][0]
    tf2 = result.witnesses["tf2_function"]["output"][0]
    stages = stage_order(result.comparisons)
    panel_lines = (len(stages) + 1) // 2
    fig = plt.figure(figsize=(13.0, 7.0 + 4.2 * panel_lines))
    grid = fig.add_gridspec(2 + panel_lines, 6, height_ratios=[1, 1] + [1.3] * panel_lines)
    pictures = [fig.add_subplot(grid[line, 2 * col:2 * col + 2]) for line in range(2)
                for col in range(3)]
    image = np.clip(result.images[0] / 255.0, 0.0, 1.0)
    shown = [(pictures[0], image, f"input {result.images.shape[1]}x{result.images.shape[2]}"),
             (pictures[1], tf1, "tf1_session output[0]\nas the original showed it"),
             (pictures[2], tf2, "tf2_function output[0]\nas the original showed it"),
             (pictures[4], normalize_for_display(tf1), _output_title("tf1_session", tf1)),
             (pictures[5], normalize_for_display(tf2), _output_title("tf2_function", tf2))]
    for ax, picture, title in shown:
        ax.imshow(picture, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    pictures[3].text(0.5, 0.5, "raw float output:\nimshow clips to [0, 1]\n\nbeside it: "
                     "rescaled\nto its own min..max\n\nbelow: each stage's\nerror/bound "
                     "(the verdict)", ha="center", va="center", fontsize=9,
                     transform=pictures[3].transAxes)
    for ax in pictures:
        ax.set_xticks([])
        ax.set_yticks([])
        if ax is pictures[3]:
            ax.axis("off")
    for i, stage in enumerate(stages):
        ax = fig.add_subplot(grid[2 + i // 2, 3 * (i % 2):3 * (i % 2) + 3])
        draw_stage_panel(ax, stage, [c for c in result.comparisons if c.stage == stage])
    failed = sum(not c.passed for c in result.comparisons)
    verdict = "PASS" if failed == 0 else f"FAIL ({failed} comparisons out of tolerance)"
    fig.suptitle(f"Migration audit: {verdict}; output "
                 f"{tuple(result.witnesses['tf1_session']['output'].shape)}", fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
