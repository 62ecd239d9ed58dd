"""The `Example:` sections of deconv_io's and deconv_runtime's docstrings run as they say."""

import doctest
import importlib

import pytest

MODULES = ["deconv_io.atomic", "deconv_io.checks", "deconv_io.display", "deconv_io.dumps",
           "deconv_io.images", "deconv_io.memory", "deconv_io.memory_model", "deconv_io.outputs",
           "deconv_io.paths", "deconv_io.picture", "deconv_io.weights",
           "deconv_runtime.allocator", "deconv_runtime.cli", "deconv_runtime.interrupts",
           "deconv_runtime.lazy", "deconv_runtime.tf_import", "deconv_runtime.arguments",
           "deconv_runtime.process_env", "deconv_io.errors"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_some_examples_exist():
    attempted = sum(doctest.testmod(importlib.import_module(name)).attempted for name in MODULES)
    assert attempted >= 3


def test_lazy_exports_load_on_first_use_and_cache():
    import sys
    import types

    from deconv_runtime.lazy import lazy_exports

    package = types.ModuleType("lazy_probe")
    sys.modules["lazy_probe"] = package
    try:
        package.__getattr__, package.__dir__ = lazy_exports("lazy_probe", {"sqrt": "math"})
        assert "sqrt" not in vars(package)
        assert package.sqrt(9.0) == 3.0
        assert "sqrt" in vars(package)  # stored: later look-ups skip __getattr__
        assert "sqrt" in dir(package)
        with pytest.raises(AttributeError, match="module 'lazy_probe' has no attribute 'nope'"):
            package.nope
    finally:
        del sys.modules["lazy_probe"]
