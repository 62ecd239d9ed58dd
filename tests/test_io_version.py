"""Every program and subcommand has --version; every package has one `__version__`."""

import importlib
import importlib.metadata
import re
from pathlib import Path

import pytest

import deconv_io

REPO = Path(__file__).resolve().parents[1]


BENCHMARKS = ("bench", "upsample", "folder", "large_image", "startup", "accuracy")


def _main(command):
    if command in BENCHMARKS:
        return importlib.import_module(f"benchmarks.{command}").main
    return importlib.import_module(f"{command}.cli").main


def _status(main, argv):
    """`main(argv)`'s exit status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("command, argv, prog", [
    ("legacy_tf1", [], "legacy_tf1"), ("tf2", [], "tf2"),
    ("migration_audit", [], "migration_audit"),
    ("migration_audit", ["matrix"], "migration_audit matrix"),
    ("migration_audit", ["convert-checkpoint"], "migration_audit convert-checkpoint"),
    ("migration_audit", ["script"], "migration_audit script"),
    ("legacy_tf1.original", [], "legacy_tf1.original"),
    *[(name, [], name) for name in BENCHMARKS]])
def test_version(command, argv, prog, capsys):
    assert _status(_main(command), [*argv, "--version"]) == 0
    out, err = capsys.readouterr()
    tf_version = importlib.metadata.version("tensorflow")
    assert out == (f"{prog} {deconv_io.__version__} "
                   f"(TensorFlow {tf_version}, Keras {importlib.metadata.version('keras')})\n")
    assert err == ""


@pytest.mark.parametrize("package", ["deconv_io", "deconv_runtime", "legacy_tf1", "tf2",
                                     "migration_audit", "benchmarks"])
def test_every_package_has_the_one_version(package):
    # The one source: deconv_io/_version.py, which setup.cfg reads too.
    version = importlib.import_module(package).__version__
    assert version is deconv_io._version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)


def test_setup_cfg_reads_the_version_from_the_one_source():
    setup_cfg = (REPO / "setup.cfg").read_text()
    assert "\nversion = attr: deconv_io._version.__version__\n" in setup_cfg
    try:  # an installed distribution reports the same
        installed = importlib.metadata.version("bilinear-deconv-migration")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("not installed")
    assert installed == deconv_io.__version__


def test_license_is_the_apache_2_text():
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0")
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) == 202
    assert "license = Apache-2.0\nlicense_files = LICENSE\n" in (REPO / "setup.cfg").read_text()
