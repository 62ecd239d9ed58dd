"""`migration_audit matrix`'s outputs: the printed tables and the heat map `matrix.png`.

The first table has one row per comparison and one narrow column per
configuration (`c1`, `c2`, ... named one per line above it), so that it fits
in 100 columns however many configurations this CPU has. A cell is `same`
(bit-identical), the measure of a bound claim (max |difference| / derived
bound: <= 1 holds), or `FAIL`. The heat map shows the same measure,
configurations x comparisons.
"""

import numpy as np

from deconv_io.atomic import atomic_path

__all__ = ["cell_value", "format_matrix", "write_matrix_png"]

#: Short names of the runners in the printed rows.
_SHORT = {"tf1_session": "tf1", "float64_reference": "f64", "original_script": "original",
          "tf2_function": "tf2_func"}


def _label(row):
    def short(name):
        return " ".join(_SHORT.get(word, word) for word in name.split())

    return f"{row['stage']} {short(row['actual'])} vs {short(row['expected'])}"


def cell_value(row):
    """A row's error/bound as a float (0 where bit-identical, NaN where undefined)."""
    if row["bit_identical"]:
        return 0.0
    ratio = row["error_over_bound"]
    try:
        return float(ratio)
    except (TypeError, ValueError):
        return float("nan")


def _cell(row):
    if not row["passed"]:
        return "FAIL"
    if row["bit_identical"]:
        return "same"
    return "n/a" if row["claim"] == "bit-identical" else f"{cell_value(row):.2g}"


def _format(header, rows, align_right=()):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(str(c).rjust(w) if i in align_right else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in [header] + rows)


def format_matrix(matrix):
    """The printed tables of a `run_matrix` result, each line under 100 columns."""
    configs = matrix["configurations"]
    short = [f"c{i}" for i in range(1, len(configs) + 1)]
    keys = [_label(row) for row in configs[0]["comparisons"]]
    cells = {(s, _label(row)): _cell(row) for s, c in zip(short, configs)
             for row in c["comparisons"]}
    lines = [f"{s}: {c['name']}" for s, c in zip(short, configs)]
    lines += ["each comparison in each configuration: same = bit-identical; a number =",
              "max |difference| / derived bound (<= 1 holds); FAIL = breaks its claim",
              _format(["comparison"] + short,
                      [[key] + [cells.get((s, key), "-") for s in short] for key in keys],
                      align_right=range(1, len(short) + 1))]
    reference_rows = []
    for s, c in zip(short, configs):
        row = next(r for r in c["comparisons"] if r["stage"] == "output"
                   and r["actual"] == "tf1_session" and r["expected"] == "float64_reference")
        tf1 = next(a for a in matrix["across"] if a["configuration"] == c["name"]
                   and a["witness"] == "tf1_session")
        same = ("(first)" if c["name"] == tf1["against"] else
                "yes" if tf1["bit_identical"] else f"no ({tf1['error_over_bound']:.3g} of bound)")
        reference_rows.append([s, "on" if c["environment"]["onednn"] else "off",
                               f"{float(row['error_over_bound']):.3g}",
                               f"{float(row['max_rel_diff']):.3g}", same])
    lines += ["", "across configurations: tf1_session output against the float64 reference "
              "and c1's",
              _format(["config", "oneDNN", "error/bound vs f64", "max rel diff vs f64",
                       "tf1 bits same as c1"], reference_rows)]
    failed = [f"{c['name']}: {r['stage']} {r['actual']} vs {r['expected']}"
              for c in configs for r in c["comparisons"] if not r["passed"]]
    failed += [f"{a['configuration']}: {a['witness']} output vs {a['against']}"
               for a in matrix["across"] if not a["passed"]]
    rows = sum(len(c["comparisons"]) for c in configs) + len(matrix["across"])
    lines.append("")
    lines.append(f"verdict: FAIL - {len(failed)} of {rows} break their claim: "
                 + "; ".join(failed) if failed else
                 f"verdict: PASS - all {rows} comparisons in {len(configs)} configurations "
                 "hold their claim")
    return "\n".join(lines)


def write_matrix_png(path, matrix):
    """Draws configurations x comparisons coloured by error/bound; writes a PNG atomically.

    0 (bit-identical) to 1 (at the bound) on one colour scale; a cell over 1
    (a broken bound claim) in red, a broken bit-identical claim marked `X`.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    configs = matrix["configurations"]
    keys = [_label(row) for row in configs[0]["comparisons"]]
    values = np.full((len(configs), len(keys)), np.nan)
    broken = []
    for i, c in enumerate(configs):
        by_key = {_label(row): row for row in c["comparisons"]}
        for j, key in enumerate(keys):
            row = by_key.get(key)
            if row is not None:
                values[i, j] = cell_value(row)
                if not row["passed"]:
                    broken.append((i, j))
    cmap = matplotlib.colormaps["viridis"].with_extremes(over="red", bad="lightgrey")
    fig, ax = plt.subplots(figsize=(max(8, 0.32 * len(keys) + 3), 1.6 + 0.45 * len(configs)))
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, j in broken:
        ax.text(j, i, "X", ha="center", va="center", color="white", fontsize=8)
    ax.set_xticks(range(len(keys)), keys, rotation=90, fontsize=7)
    ax.set_yticks(range(len(configs)), [c["name"] for c in configs], fontsize=8)
    fig.colorbar(image, ax=ax, extend="max",
                 label="error / bound (0: bit-identical)")
    verdict = "PASS" if matrix["passed"] else "FAIL"
    ax.set_title(f"migration_audit matrix: {verdict} (red: over the bound; X: claim broken)",
                 fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
