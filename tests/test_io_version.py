"""Every command line has --version: this project's, TensorFlow's and Keras's versions."""

import importlib
import importlib.metadata

import pytest


def _main(command):
    if command in ("bench", "upsample"):
        return importlib.import_module(f"benchmarks.{command}").main
    return importlib.import_module(f"{command}.cli").main


@pytest.mark.parametrize("command, prog", [
    ("legacy_tf1", "legacy_tf1"), ("tf2", "tf2"), ("migration_audit", "migration_audit"),
    ("legacy_tf1.original", "legacy_tf1.original"), ("bench", "bench"),
    ("upsample", "upsample")])
def test_version(command, prog, capsys):
    assert _main(command)(["--version"]) == 0
    out, err = capsys.readouterr()
    tf_version = importlib.metadata.version("tensorflow")
    assert out == (f"{prog} {importlib.metadata.version('bilinear-deconv-migration')} "
                   f"(TensorFlow {tf_version}, Keras {importlib.metadata.version('keras')})\n")
    assert err == ""
