"""What the audit's command lines share: the pixel limit and the `--report DIR` check.

`migration_audit.cli` (the audit) and `migration_audit.matrix` both import
this module, and neither imports the other at file level.
"""

from deconv_io.paths import check_output_dir, check_output_file, is_dir

__all__ = ["AUDIT_MAX_PIXELS", "REPORT_FILES", "check_report_dir"]

#: The audit's default `--max-pixels` (the command lines of the ports use
#: `deconv_io.images.DEFAULT_MAX_PIXELS`): the audit keeps every runner's
#: stages in memory (four float32 copies of `conv1`, 64 channels, and the
#: float64 reference's with its temporaries), about 4 KB per pixel, so
#: larger images need `--max-pixels`.
AUDIT_MAX_PIXELS = 2_000_000
#: The files `--report DIR` receives from the audit.
REPORT_FILES = ("report.json", "report.png")


def check_report_dir(folder, inputs=(), names=REPORT_FILES):
    """Fails early unless `--report DIR` is, or can be made as, a folder for `names`.

    Returns:
        The folder as a `Path`, or None when `folder` is None.

    Raises:
        deconv_io.errors.InputError: DIR cannot hold those files.
    """
    if folder is None:
        return None
    folder = check_output_dir(folder, "--report", inputs=inputs)
    if is_dir(folder):
        for name in names:
            check_output_file(folder / name, "--report", inputs=inputs)
    return folder
