"""The benchmark's ratios, targets, text table and plot (no TensorFlow here)."""

__all__ = ["RATIOS", "TARGET_SIZE", "add_ratios", "format_table", "targets", "write_plot"]

#: The size the issue's targets are set at: batch 16 of the packaged 750x500 image.
TARGET_SIZE = (16, 750, 500)

#: The ratio rows: name -> (numerator, denominator, target, stretch target).
#: A target is `(">=" or "<=", value)`; None: reported, no target.
RATIOS = {
    "tf2_function_over_tf1_session": ("tf2_function", "tf1_session", ("<=", 1.05), None),
    "tf1_session_over_tf2_fast": ("tf1_session", "tf2_fast", (">=", 10), None),
    "tf2_fast_over_memory_floor": ("tf2_fast", "memory_floor", ("<=", 5), ("<=", 3)),
    "tf2_fast_over_compute_floor": ("tf2_fast", "compute_floor", None, None),
    "tf1_session_over_tf2_fast_window": ("tf1_session", "tf2_fast_window", (">=", 10), None),
    "tf2_fast_window_over_memory_floor": ("tf2_fast_window", "memory_floor", ("<=", 5), None),
    "tf1_session_over_tf2_fast_parity": ("tf1_session", "tf2_fast_parity", (">=", 10), None),
    "tf2_fast_parity_over_memory_floor": ("tf2_fast_parity", "memory_floor", ("<=", 5), None),
}


def _key(r):
    return r["batch"], r["height"], r["width"]


def add_ratios(results, floors=()):
    """Adds each row's ratios against tf1_session, the memory and the compute floor.

    Args:
        results: the rows (`variant`, `batch`, `height`, `width`, `median_s`), changed in place.
        floors: `floor.compute_floor` dicts with `batch`, `height`, `width`.
    """
    by = {(r["variant"], *_key(r)): r for r in results}
    compute = {_key(f): f["compute_floor_ms"] / 1e3 for f in floors}
    for r in results:
        tf1 = by.get(("tf1_session", *_key(r)))
        floor = by.get(("memory_floor", *_key(r)))
        cfloor = compute.get(_key(r))
        r["ratio_vs_tf1_session"] = r["median_s"] / tf1["median_s"] if tf1 else None
        r["speedup_vs_tf1_session"] = tf1["median_s"] / r["median_s"] if tf1 else None
        r["ratio_vs_memory_floor"] = r["median_s"] / floor["median_s"] if floor else None
        r["compute_floor_ms"] = cfloor * 1e3 if cfloor else None
        r["ratio_vs_compute_floor"] = r["median_s"] / cfloor if cfloor else None


def _met(value, target):
    if target is None:
        return None
    op, limit = target
    return value <= limit if op == "<=" else value >= limit


def targets(results, size=None):
    """The ratio rows at one size, from the medians of one run, each against its target.

    Args:
        results: rows with `median_s` (and `compute_floor_ms` for the compute floor).
        size: `(batch, height, width)`; default `TARGET_SIZE` when the run has
            it, else the run's largest size (the ratios are then shown, but
            `at_target_size` is False: the targets are set at `TARGET_SIZE`).

    Returns:
        `{name: {"value", "target", "met", "size", "at_target_size"[, "stretch",
        "stretch_met"]}}` for each ratio of `RATIOS` both of whose terms were run.
    """
    sizes = [_key(r) for r in results]
    if size is None and sizes:
        size = TARGET_SIZE if TARGET_SIZE in sizes else max(sizes, key=lambda s: (s[0] * s[1]
                                                                                 * s[2], s))
    median = {r["variant"]: r["median_s"] for r in results if _key(r) == size}
    floor = [r["compute_floor_ms"] for r in results
             if _key(r) == size and r.get("compute_floor_ms")]
    if floor:
        median["compute_floor"] = floor[0] / 1e3
    out = {}
    for name, (num, den, target, stretch) in RATIOS.items():
        if num not in median or den not in median:
            continue
        value = median[num] / median[den]
        entry = {"value": value, "target": " ".join(map(str, target)) if target else None,
                 "met": _met(value, target), "size": list(size),
                 "at_target_size": size == TARGET_SIZE}
        if stretch:
            entry.update(stretch=" ".join(map(str, stretch)), stretch_met=_met(value, stretch))
        out[name] = entry
    return out


def verdict(entry):
    """`met`, `MISSED` or `-` (no target), with the stretch target's when there is one.

    Example:
    >>> verdict({"met": True, "stretch": "<= 3", "stretch_met": False})
    'met (stretch <= 3 missed)'
    """
    if entry["met"] is None:
        return "-"
    text = "met" if entry["met"] else "MISSED"
    if entry.get("stretch"):
        text += f" (stretch {entry['stretch']} {'met' if entry['stretch_met'] else 'missed'})"
    return text


def _num(value, fmt):
    return format(value, fmt) if value is not None else "-"


def format_table(doc):
    """The results as a text table with ratios against tf1_session and both floors."""
    lines = [f"{'size':>16} {'variant':<15} {'median ms':>10} {'min ms':>9} {'max ms':>9} "
             f"{'x tf1':>7} {'tf1/x':>7} {'x floor':>8} {'x cfloor':>8} {'peak MB':>8} "
             f"{'max rel err':>11} {'err/bound':>9}"]
    for r in doc["results"]:
        size = "x".join(map(str, _key(r)))
        lines.append(
            f"{size:>16} {r['variant']:<15} {r['median_s'] * 1e3:>10.2f} "
            f"{r['min_s'] * 1e3:>9.2f} {r['max_s'] * 1e3:>9.2f} "
            f"{_num(r['ratio_vs_tf1_session'], '.3f'):>7} "
            f"{_num(r['speedup_vs_tf1_session'], '.1f'):>7} "
            f"{_num(r['ratio_vs_memory_floor'], '.1f'):>8} "
            f"{_num(r.get('ratio_vs_compute_floor'), '.1f'):>8} "
            f"{_num(r['peak_rss_mb'], '.0f'):>8} "
            f"{_num(r['max_rel_error_vs_tf1'], '.1e'):>11} "
            f"{_num(r['error_over_bound_vs_tf1'], '.3f'):>9}")
    floor = doc.get("compute_floor")
    if floor:
        fma = floor["fma"]
        lines.append(f"compute floor: {fma['gfma_per_s']:.1f} GFMA/s (float32 {fma['side']}^3 "
                     f"{fma.get('library', 'matmul')}); " + ", ".join(
                         f"{f['batch']}x{f['height']}x{f['width']} {f['compute_floor_ms']:.3g} ms"
                         f" ({f['compute_floor_full_ms']:.3g} ms full pipeline)"
                         for f in floor["sizes"]))
    for name, t in doc["targets"].items():
        size = "x".join(map(str, t["size"]))
        if not t["at_target_size"]:
            size += " (targets are set at 16x750x500)"
        want = f"want {t['target']}" if t["target"] else "no target"
        lines.append(f"ratio {name} at {size}: {t['value']:.2f} ({want}): {verdict(t)}")
    return "\n".join(lines)


def write_plot(doc, path):
    """A bar chart: median time per variant and size, log scale, min-max bars."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from benchmarks.variants import VARIANTS
    from deconv_io.atomic import atomic_path

    sizes = list(dict.fromkeys(_key(r) for r in doc["results"]))
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in doc["results"])]
    by = {(r["variant"], *_key(r)): r for r in doc["results"]}
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(sizes)), 4.5))
    width = 0.8 / len(variants)
    for i, v in enumerate(variants):
        xs, med, lo, hi = [], [], [], []
        for j, size in enumerate(sizes):
            r = by.get((v, *size))
            if r is None:
                continue
            xs.append(j + (i - (len(variants) - 1) / 2) * width)
            med.append(r["median_s"] * 1e3)
            lo.append((r["median_s"] - r["min_s"]) * 1e3)
            hi.append((r["max_s"] - r["median_s"]) * 1e3)
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=2, label=v)
    ax.set_yscale("log")
    ax.set_xticks(range(len(sizes)))
    ax.set_xticklabels([f"batch {b}\n{h}x{w}" for b, h, w in sizes])
    ax.set_ylabel("median time per call (ms, log scale; bars: min..max)")
    m = doc["machine"]
    ax.set_title(f"conv2d -> max_pool -> conv2d_transpose, float32, "
                 f"{m['cpu_count']} CPUs, TF {m['tensorflow']}", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
