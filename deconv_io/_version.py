"""The project's version: the one place it is written.

setup.cfg reads it (`version = attr: deconv_io._version.__version__`, parsed
without importing the package) and every package re-exports it as
`__version__`, so a source checkout and an installed wheel report the same.
"""

__version__ = "0.1.0"
