"""Package names loaded on first use (PEP 562), shared by `tf2` and the audit.

Their command lines quiet TensorFlow's logs and reject bad input before
TensorFlow is imported, so their `__init__` modules must not import it.
"""

import importlib
import sys


def lazy_exports(package, where):
    """Returns `(__getattr__, __dir__)` for a package's module namespace.

    Args:
        package: the package's `__name__`.
        where: public name -> the module that defines it.

    Returns:
        The two module-level functions PEP 562 looks up. A name is imported
        on first access and then stored in the package, so later look-ups
        never call `__getattr__` again.

    Example:
    >>> getattr_, dir_ = lazy_exports("deconv_io", {"sqrt": "math"})
    >>> getattr_("sqrt")(4.0)
    2.0
    """
    namespace = vars(sys.modules[package])

    def __getattr__(name):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
