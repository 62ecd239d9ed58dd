"""The demo's picture: what the original's `plt.imshow(output)` showed."""

import contextlib

import numpy as np

from deconv_io.atomic import atomic_path


def normalize_for_display(hwc):
    """Rescales an (H, W, 3) float array to [0, 1] by its own min and max."""
    hwc = np.asarray(hwc, dtype=np.float64)
    low, high = float(hwc.min()), float(hwc.max())
    if high <= low:
        return np.zeros_like(hwc)
    return (hwc - low) / (high - low)


@contextlib.contextmanager
def quiet_matplotlib_import():
    """For the block: matplotlib's import logs errors only.

    Where matplotlib finds no writable config or cache folder (an
    unwritable HOME or MPLCONFIGDIR) it makes a temporary one and logs a
    warning on import; the command lines' stderr is for their own one line.
    """
    import logging

    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def import_pyplot():
    """Imports matplotlib and `matplotlib.pyplot` without their warnings.

    Returns:
        The `matplotlib.pyplot` module.
    """
    with quiet_matplotlib_import():
        import matplotlib.pyplot as plt
    return plt


def choose_backend(show, prog=None):
    """Chooses matplotlib's backend for a command line, inside `main`.

    Args:
        show: True (`--show`), False (`--no-show`) or None (default: show a
            window wherever matplotlib can, as the original's `plt.show()`).
        prog: the program name for the one-line notice that `--show` cannot
            open a window.

    `--no-show` selects Agg. Otherwise matplotlib makes its own choice (its
    `MPLBACKEND` / rc setting, or the first interactive backend that works
    here, falling back to Agg when none can, e.g. without a display); when
    that choice cannot open a window, `--show` says so in one line on
    stderr. Called inside `main`, never at import, so importing this
    project never changes a user's matplotlib backend.

    Returns:
        Whether a window will be shown.
    """
    import sys

    import_pyplot()
    import matplotlib

    if show is False:
        matplotlib.use("Agg", force=True)
        return False
    import matplotlib.pyplot  # noqa: F401  (resolves matplotlib's own choice)

    backend = matplotlib.get_backend()
    if is_interactive_backend(backend):
        return True
    if show:
        print(f"{prog or 'matplotlib'}: cannot open a window: matplotlib's backend here is "
              f"{backend!r}, which has none (no display, or MPLBACKEND); use --save OUT.png",
              file=sys.stderr)
    return False


def is_interactive_backend(backend):
    """Whether matplotlib backend `backend` can open a window.

    Example:
    >>> is_interactive_backend("agg"), is_interactive_backend("TkAgg")
    (False, True)
    """
    from matplotlib.backends import BackendFilter, backend_registry

    backend = str(backend).lower()
    if backend.startswith("module://"):
        return True  # a third-party backend: let it try
    return backend not in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)


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
