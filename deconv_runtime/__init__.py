"""The programs' runtime: process policy shared by this project's command lines.

- `deconv_runtime.cli`: argparse plumbing, a user's mistake as one line on stderr and exit
  status 2, `--version`, the run's path checks;
- `deconv_runtime.arguments`: `argparse` types (`int_argument`);
- `deconv_runtime.interrupts`: signals while TensorFlow computes in a worker thread;
- `deconv_runtime.tf_import`: TensorFlow's import, quiet, with Keras deferred;
- `deconv_runtime.allocator`: malloc tuning (`keep_freed_memory`);
- `deconv_runtime.lazy`: lazy package exports (PEP 562) and import hooks;
- `deconv_runtime.process_env`: environment variables and standard streams, checked
  before any work.

Plain, TensorFlow-free I/O lives in `deconv_io`, which imports nothing from
here; the ports and the audit import both. This `__init__` exports only the
project's `__version__`: import each name from the module that defines it.
"""

from deconv_io._version import __version__

__all__ = ["__version__"]
