"""The demo's picture: what the original's `plt.imshow(output)` showed."""

import numpy as np

from deconv_io.atomic import atomic_path


def normalize_for_display(hwc):
    """Rescales an (H, W, 3) float array to [0, 1] by its own min and max."""
    hwc = np.asarray(hwc, dtype=np.float64)
    low, high = float(hwc.min()), float(hwc.max())
    if high <= low:
        return np.zeros_like(hwc)
    return (hwc - low) / (high - low)


def import_pyplot():
    """Imports matplotlib and `matplotlib.pyplot` without their warnings.

    Where matplotlib finds no writable config or cache folder (an
    unwritable HOME or MPLCONFIGDIR) it makes a temporary one and logs a
    warning on import; the command lines' stderr is for their own one line.

    Returns:
        The `matplotlib.pyplot` module.
    """
    import logging

    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    finally:
        logger.setLevel(level)
    del matplotlib
    return plt


def choose_backend(show):
    """Selects Agg unless a window may be shown and a display exists.

    Args:
        show: True (`--show`), False (`--no-show`) or None (default: show a
            window when there is a display, as the original's `plt.show()`).

    Called inside `main`, never at import, so importing this project never
    changes a user's matplotlib backend.

    Returns:
        Whether a window will be shown.
    """
    import os

    import_pyplot()
    import matplotlib

    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if show is False or not has_display:
        matplotlib.use("Agg", force=True)
        return False
    return True


def quiet_imshow_clipping():
    """Silences matplotlib's warning that `imshow` clips float RGB to [0, 1].

    That clipping is the original's picture, drawn on purpose here.
    """
    import logging

    logging.getLogger("matplotlib.image").setLevel(logging.ERROR)


def render_picture(hwc, save=None, show=False, normalize=False, title=None):
    """Draws `hwc` with `plt.imshow`, as the original did.

    By default the raw float RGB output is passed to `imshow`, which clips
    it to [0, 1] (the original's mostly saturated picture: a kept quirk).
    `normalize=True` rescales it first so a person can read it.

    Args:
        hwc: (H, W, 3) float array.
        save: optional PNG path, written atomically.
        show: open a window (only when a display exists).
        normalize: rescale to [0, 1] before drawing.
        title: optional figure title.
    """
    plt = import_pyplot()

    image = normalize_for_display(hwc) if normalize else np.asarray(hwc)
    fig, ax = plt.subplots(figsize=(image.shape[1] / 100 + 1, image.shape[0] / 100 + 1))
    quiet_imshow_clipping()
    ax.imshow(image)
    if title:
        ax.set_title(title)
    if save is not None:
        with atomic_path(save) as tmp:
            fig.savefig(tmp, format="png")
    if show:
        plt.show()
    plt.close(fig)
