"""`argparse` types of the project's command lines, made of `deconv_io.checks.parse_int`."""

import argparse

from deconv_io.checks import parse_int

__all__ = ["int_argument"]


def int_argument(minimum, maximum=None, multiple_of=1, expected=None):
    """An `argparse` type: an int in a range (`parse_int`), else one usage line.

    Args:
        minimum, maximum, multiple_of: as `parse_int` takes them.
        expected: what the usage error says is expected (default: "an int
            >= `minimum`", or "an int from `minimum` to `maximum`").

    Returns:
        A function of the flag's text that returns the int, or raises
        `argparse.ArgumentTypeError("expected ..., got 'text'")`.

    Example:
    >>> int_argument(0, 9)("9"), int_argument(2, multiple_of=2)("4")
    (9, 4)
    """
    if expected is None:
        expected = (f"an int >= {minimum}" if maximum is None
                    else f"an int from {minimum} to {maximum}")

    def parse(text):
        value = parse_int(text, minimum, maximum, multiple_of)
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse
