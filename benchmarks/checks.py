"""Every pipeline's output against `tf1_session`'s, before anything is timed."""

from migration_audit.bounds import demo_bounds, error_over_bound, pair_bound
from migration_audit.compare import relative_error

__all__ = ["MismatchError", "check_against_tf1"]


class MismatchError(Exception):
    """A variant's output differs from `tf1_session`'s."""


def check_against_tf1(variant, expected, actual, images, kernels):
    """Checks one variant's output against tf1_session's.

    Within the pair bound of two float32 runners (`migration_audit.bounds`:
    twice a float32 runner's derived per-element bound), checked on the batch's first and last image
    (the float64 bound of a whole 16-image batch would take gigabytes).

    Returns:
        `(max relative error over the batch, largest error/bound checked)`.

    Raises:
        MismatchError: a shape differs or an image is outside its bound.
    """
    if expected.shape != actual.shape:
        raise MismatchError(f"{variant} output shape {actual.shape} differs from tf1_session's "
                            f"{expected.shape}")
    ratio = 0.0
    for index in sorted({0, len(images) - 1}):
        bound = pair_bound(demo_bounds(images[index:index + 1], **kernels)["output"][0])
        image_ratio, _ = error_over_bound(actual[index], expected[index], bound)
        if not image_ratio <= 1:
            raise MismatchError(
                f"{variant} output differs from tf1_session on image {index} of "
                f"{images.shape}: max |difference| / derived bound = {image_ratio:.3g} > 1")
        ratio = max(ratio, image_ratio)
    return relative_error(actual, expected), ratio
