"""report.png's verdict panels: error/bound per compared stage, the bound and the worst element.

One panel per stage (a demo stage, or a port key of a script audit). Each
row of that stage is one line: its error/bound (|difference| / per-element
bound, the verdict's measure) along the flattened elements, as the maximum
over equal bins (`Comparison.profile`), so no element's peak is lost. The
dashed line at 1 is the bound (a row passes when its line stays at or
under it); the worst element of each row is marked with its index. The y
axis is linear up to 1 and logarithmic above, so a failure far beyond the
bound stays on the panel. Missing keys, shape mismatches and non-finite
values are written on the panel instead of drawn.
"""

import numpy as np

__all__ = ["draw_stage_panel", "stage_order", "write_panels_png"]

_LINEAR_UP_TO = 1.0


def stage_order(rows):
    """The stages of `rows`, in the order they first appear."""
    return list(dict.fromkeys(row.stage for row in rows))


def _notes(rows):
    notes = []
    for row in rows:
        if row.missing:
            notes.append(f"{row.name}: missing from the port's output")
        elif row.shape != row.expected_shape:
            notes.append(f"{row.name}: shapes differ {row.shape} vs {row.expected_shape}")
        elif row.nonfinite and (row.nonfinite["actual"] or row.nonfinite["expected"]):
            nf = row.nonfinite
            agree = "agree" if nf["agree"] else "disagree"
            notes.append(f"{row.name}: inf/NaN {nf['actual']} vs {nf['expected']} ({agree}, "
                         f"first at {nf['first_index']})")
    return notes


def draw_stage_panel(ax, stage, rows):
    """Draws one stage's rows on `ax` (see the module docstring)."""
    top = 1.0
    drawn = 0
    for row in rows:
        profile = row.profile
        if row.missing or profile is None or not np.size(profile):
            continue
        with np.errstate(all="ignore"):
            shown = np.where(np.isfinite(profile), profile, np.nan)
        finite = shown[np.isfinite(shown)]
        if finite.size:
            top = max(top, float(finite.max()))
        x = (np.arange(shown.size) + 0.5) / shown.size
        verdict = "ok" if row.passed else "FAIL"
        line, = ax.plot(x, shown, linewidth=0.9,
                        label=f"{row.name} [{row.claim}] {_figure(row.error_over_bound)} "
                              f"{verdict}")
        drawn += 1
        if row.worst_index is not None and 0 < row.error_over_bound < np.inf:
            flat = int(np.ravel_multi_index(row.worst_index, row.shape)) if row.shape else 0
            size = int(np.prod(row.shape)) if row.shape else 1
            bin_x = (min(flat * shown.size // max(size, 1), shown.size - 1) + 0.5) / shown.size
            ax.plot([bin_x], [row.error_over_bound], marker="x", color=line.get_color(),
                    markersize=7)
            ax.annotate(f"worst {list(row.worst_index)}", (bin_x, row.error_over_bound),
                        textcoords="offset points", xytext=(4, 4), fontsize=6,
                        color=line.get_color())
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8, label="bound (=1)")
    if top > _LINEAR_UP_TO:
        ax.set_yscale("symlog", linthresh=_LINEAR_UP_TO, linscale=2.0)
    ax.set_ylim(0.0, top * 1.5 if top > 1 else 1.15)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("element (flattened, fraction of the tensor)", fontsize=7)
    ax.set_ylabel("error / bound (max per bin)", fontsize=7)
    ax.tick_params(labelsize=7)
    notes = _notes(rows)
    if notes:
        ax.text(0.02, 0.97, "\n".join(notes), transform=ax.transAxes, va="top", ha="left",
                fontsize=6, color="firebrick")
    failed = sum(not row.passed for row in rows)
    status = "all rows hold" if not failed else f"{failed} row(s) FAIL"
    ax.set_title(f"{stage}: {status}", fontsize=9)
    if drawn:
        ax.legend(fontsize=5.5, loc="center right")


def _figure(value):
    return "0" if value == 0 else f"{value:.3g}"


def write_panels_png(path, rows, title):
    """One figure of every stage's panel, written atomically as a PNG."""
    import matplotlib.pyplot as plt

    from deconv_io.atomic import atomic_path

    stages = stage_order(rows)
    columns = min(3, max(1, len(stages)))
    lines = (len(stages) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.4 * lines + 0.8),
                             squeeze=False)
    for ax, stage in zip(axes.flat, stages):
        draw_stage_panel(ax, stage, [row for row in rows if row.stage == stage])
    for ax in list(axes.flat)[len(stages):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
