"""The port runner: the user's TF2 port, loaded from `FILE.py:function` or `module:function`.

The port is called as `function(inputs, variables)` with the captured run's
feeds (`{placeholder op name: array}`) and the script's variables
(`{TF1 name: array}`), and returns a dict of array-likes (TF tensors, NumPy
arrays, Keras outputs), converted here to NumPy arrays.

Every failure (a missing file, an import error, no such function, the port
raising, a return that is not a dict of arrays) is a `PortError`: an
`InputError`, so one line on stderr and exit status 2. With `--verbose` the
command line prints the port's own traceback frames first (`port_traceback`).
"""

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

import numpy as np

from deconv_io.errors import InputError

__all__ = ["PortError", "call_port", "load_port", "port_traceback"]


class PortError(InputError):
    """The port could not be loaded or called; `frames` holds its traceback text."""

    def __init__(self, message, frames=""):
        super().__init__(message)
        self.frames = frames


def port_traceback(error):
    """The traceback of `error`: the port's own frames (not this package's, the import
    machinery's or installed libraries')."""
    here = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith((here, "<frozen"))
              and "site-packages" not in f.filename and "importlib" not in f.filename]
    text = "".join(traceback.format_list(frames))
    return "Traceback (the port's frames):\n" + text + "".join(
        traceback.format_exception_only(type(error), error))


def _message(error):
    try:
        text = str(error)
    except Exception:  # an exception whose __str__ itself raises
        text = "(its message cannot be printed)"
    return f"{type(error).__name__}: {' '.join(text.split())}"


def _split(spec):
    text = str(spec)
    module, sep, function = text.rpartition(":")
    if not sep or not module or not function or not function.isidentifier():
        raise PortError(f"--port {text}: expected FILE.py:function or package.module:function")
    return module, function


def load_port(spec):
    """Returns the port's function from `FILE.py:function` or `package.module:function`.

    A file is imported under a private module name, its folder first on
    `sys.path` while it imports (so it can import its neighbours).

    Raises:
        PortError: no such file or module, the import raised, no such
            function, or the attribute is not callable.
    """
    module_name, function = _split(spec)
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise PortError(f"--port {spec}: no such file {path}")
        path = path.resolve()
        name = f"_migration_audit_port_{abs(hash(str(path)))}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.path.insert(0, str(path.parent))
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:
            raise PortError(f"--port {spec}: importing {path.name} raised {_message(e)}",
                            port_traceback(e)) from None
        finally:
            sys.path.remove(str(path.parent))
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                raise PortError(f"--port {spec}: no module named {e.name}") from None
            raise PortError(f"--port {spec}: importing {module_name} raised {_message(e)}",
                            port_traceback(e)) from None
        except Exception as e:
            raise PortError(f"--port {spec}: importing {module_name} raised {_message(e)}",
                            port_traceback(e)) from None
    target = getattr(module, function, None)
    if target is None:
        raise PortError(f"--port {spec}: {module_name} has no function {function!r}")
    if not callable(target):
        raise PortError(f"--port {spec}: {function!r} is not callable")
    return target


def _to_numpy(key, value):
    try:
        if hasattr(value, "numpy"):
            value = value.numpy()
        array = np.asarray(value)
    except Exception as e:
        raise PortError(f"the port's output {key!r} is not an array ({_message(e)})") from None
    if array.dtype == object:
        raise PortError(f"the port's output {key!r} is not an array of numbers")
    return array


def call_port(function, inputs, variables, spec="the port"):
    """Calls `function(inputs, variables)` and returns its outputs as NumPy arrays.

    The port gets copies, so it cannot change what the other witnesses see.

    Raises:
        PortError: the port raised, or did not return a dict of arrays with
            string keys.
    """
    inputs = {k: np.array(v, copy=True) for k, v in inputs.items()}
    variables = {k: np.array(v, copy=True) for k, v in variables.items()}
    try:
        outputs = function(inputs, variables)
    except Exception as e:
        raise PortError(f"--port {spec} raised {_message(e)}", port_traceback(e)) from None
    if not isinstance(outputs, dict):
        raise PortError(f"--port {spec} returned {type(outputs).__name__}; expected a dict "
                        "{name: array}")
    bad = [k for k in outputs if not isinstance(k, str)]
    if bad:
        raise PortError(f"--port {spec} returned a dict with non-string keys {bad[:3]}")
    return {key: _to_numpy(key, value) for key, value in outputs.items()}
