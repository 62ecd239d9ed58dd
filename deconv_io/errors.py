"""The one exception type for problems with what a user gave us."""


class InputError(ValueError):
    """A user-input problem: a bad image, weights file, size or flag value.

    Command lines turn it into one line on stderr and exit status 2; it is
    never a bug in this project, so it never needs a traceback.
    """
