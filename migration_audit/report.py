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

from deconv_io import atomic_path, normalize_for_display, write_bytes_atomic
from deconv_io.display import quiet_imshow_clipping

__all__ = ["COLUMNS", "ISA_FLAGS", "cpu_fingerprint", "environment", "environment_line",
           "format_table", "onednn_enabled", "report_dict", "write_report_json",
           "write_report_png"]

#: The table's columns, as printed and as named in report.json.
COLUMNS = ("stage", "comparison", "shape", "dtype", "max abs diff", "max rel diff", "ULPs",
           "bit-identical", "claim", "max bound", "error/bound", "verdict")


def _figure(value):
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _row(comparison):
    identical = {True: "yes", False: "no", None: "n/a"}[comparison.bit_identical]
    shape = str(comparison.shape)
    if comparison.shape != comparison.expected_shape:
        shape = f"{comparison.shape} != {comparison.expected_shape}"
    ratio = _figure(comparison.error_over_bound)
    if comparison.unbounded:
        ratio += f" ({comparison.unbounded} unbounded)"
    return (comparison.stage, comparison.name, shape, comparison.dtype,
            _figure(comparison.max_abs_diff), _figure(comparison.max_rel_diff),
            str(comparison.ulps), identical, comparison.claim, _figure(comparison.bound), ratio,
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


def report_dict(result, image_path, seed, weights_path, env=None):
    """Everything report.json holds, as a JSON-ready dict (`env`: `environment()`)."""
    bit_identical = [f"{c.stage} {c.name}" for c in result.comparisons if c.bit_identical]
    return {
        "image": str(image_path),
        "images_shape": list(result.images.shape),
        "seed": seed,
        "weights": None if weights_path is None else str(weights_path),
        "kernels_from": ("weights file" if weights_path is not None
                         else f"tf1_session Glorot draw (seed={seed})"),
        "passed": result.passed,
        "columns": list(COLUMNS),
        "comparisons": [c.as_dict() for c in result.comparisons],
        "bit_identical": bit_identical,
        "seconds": {name: round(s, 4) for name, s in result.seconds.items()},
        "skipped": dict(result.skipped),
        "environment": environment() if env is None else env,
    }


def write_report_json(path, report):
    """Writes `report` (a dict) as indented JSON, atomically."""
    write_bytes_atomic(path, (json.dumps(report, indent=2) + "\n").encode())


def _heat_map(fig, ax, actual, expected, title):
    """|actual - expected| max over channels, with a colour bar showing its scale."""
    if actual.shape != expected.shape:
        ax.text(0.5, 0.5, f"shapes differ:\n{actual.shape} vs {expected.shape}",
                ha="center", va="center", fontsize=10, transform=ax.transAxes)
        ax.set_title(title, fontsize=9)
        return
    magnitude = np.abs(np.asarray(actual, np.float64) - expected).max(axis=-1)
    top = float(magnitude.max())
    picture = ax.imshow(magnitude, cmap="magma", vmin=0.0, vmax=top if top > 0 else 1.0,
                        interpolation="nearest")
    ticks = [0.0, top / 2, top] if top > 0 else [0.0]
    bar = fig.colorbar(picture, ax=ax, orientation="horizontal", fraction=0.05, pad=0.03,
                       ticks=ticks, format=lambda value, _: _figure(value))
    bar.ax.tick_params(labelsize=8)
    bar.set_label("|difference|, max over RGB", fontsize=8)
    if top == 0:
        ax.text(0.5, 0.5, "no difference\n(every value equal)", color="white",
                ha="center", va="center", fontsize=10, transform=ax.transAxes)
    ax.set_title(f"{title}\nmax {_figure(top)}", fontsize=9)


def _output_title(name, output):
    return (f"{name} output[0]\nnormalised from [{_figure(float(output.min()))}, "
            f"{_figure(float(output.max()))}]")


def write_report_png(path, result):
    """Draws the audit's picture and writes it as a PNG, atomically.

    Top row: the input image, then the TF1 and the TF2 (`tf.function`)
    outputs as the original showed them (raw floats passed to `imshow`,
    which clips them to [0, 1], mostly saturated). Middle row: the two
    outputs rescaled to their own min..max so a person can see them. Bottom
    row: |TF2 - TF1|, |XLA - TF1| and |float64 reference - TF1| (or |fast -
    TF1| without the reference), each the max over RGB, with its colour bar
    (or the two shapes, where they differ).
    """
    import matplotlib.pyplot as plt

    quiet_imshow_clipping()
    tf1 = result.witnesses["tf1_session"]["output"][0]
    tf2 = result.witnesses["tf2_function"]["output"][0]
    xla = result.witnesses["tf2_xla"]["output"][0]
    third = (result.witnesses["float64_reference"]["output"][0], tf1,
             "|float64 reference - tf1_session|")
    height, width = tf1.shape[:2]
    panel = 3.2
    aspect = height / width
    fig, axes = plt.subplots(3, 3, figsize=(3 * panel + 1.5, 3 * panel * min(max(aspect, 0.4), 2.5)
                                            + 1.2))
    image = np.clip(result.images[0] / 255.0, 0.0, 1.0)
    shown = [(axes[0][0], image, f"input {result.images.shape[1]}x{result.images.shape[2]}"),
             (axes[0][1], tf1, "tf1_session output[0]\nas the original showed it"),
             (axes[0][2], tf2, "tf2_function output[0]\nas the original showed it"),
             (axes[1][1], normalize_for_display(tf1), _output_title("tf1_session", tf1)),
             (axes[1][2], normalize_for_display(tf2), _output_title("tf2_function", tf2))]
    for ax, picture, title in shown:
        ax.imshow(picture, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    axes[1][0].axis("off")
    axes[1][0].text(0.5, 0.5, "raw float output:\nimshow clips to [0, 1]\n\nbelow it: rescaled\n"
                    "to its own min..max", ha="center", va="center", fontsize=9,
                    transform=axes[1][0].transAxes)
    _heat_map(fig, axes[2][0], tf2, tf1, "|tf2_function - tf1_session|")
    _heat_map(fig, axes[2][1], xla, tf1, "|tf2_xla - tf1_session|")
    _heat_map(fig, axes[2][2], *third)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    failed = sum(not c.passed for c in result.comparisons)
    verdict = "PASS" if failed == 0 else f"FAIL ({failed} comparisons out of tolerance)"
    fig.suptitle(f"Migration audit: {verdict}; output {tuple(result.witnesses['tf1_session']['output'].shape)}",
                 fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
