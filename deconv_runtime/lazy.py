"""Package names loaded on first use (PEP 562), shared by `tf2` and the audit.

Their command lines quiet TensorFlow's logs and reject bad input before
TensorFlow is imported, so their `__init__` modules must not import it.
"""

import importlib
import importlib.abc
import importlib.util
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


class _CallbackLoader(importlib.abc.Loader):
    """A module's own loader, then `callback(module)` once the module is executed."""

    def __init__(self, loader, callback):
        self._loader = loader
        self._callback = callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._callback(module)

    def __getattr__(self, name):  # resource readers and the like: the real loader's
        return getattr(self._loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds `name` as the other finders do and wraps its loader (once)."""

    def __init__(self, name, callback):
        self._name = name
        self._callback = callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self._name:
            return None
        sys.meta_path.remove(self)  # once, and not for the look-up just below
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _CallbackLoader(spec.loader, self._callback)
        return spec


def when_imported(name, callback):
    """Calls `callback(module)` once the top-level module `name` is imported.

    At once if it already is; otherwise right after its import completes, by
    a one-shot finder at the front of `sys.meta_path` (removed on first use).
    This lets a package register things with a heavy library (Keras's
    serializable objects) without importing the library itself.

    Args:
        name: a top-level module name, e.g. "keras".
        callback: called with the imported module.

    Example:
    >>> seen = []
    >>> when_imported("math", lambda module: seen.append(module.__name__))
    >>> seen
    ['math']
    """
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    if not any(isinstance(f, _PostImportFinder) and f._name == name and f._callback == callback
               for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder(name, callback))
