"""tests.conftest.run_cli_batch: several command lines in one child Python."""

from tests.conftest import run_cli_batch


def test_each_case_gets_its_own_status_stdout_and_stderr(tmp_path):
    missing = tmp_path / "none.png"
    version, legacy, usage, audit = run_cli_batch([
        ("tf2", ["--version"]),
        ("legacy_tf1", [missing, "--no-show"]),
        ("tf2", [missing, "--tile", "3"]),
        ("migration_audit", [missing]),
    ])
    assert (version.returncode, version.stderr) == (0, "")
    assert version.stdout.startswith("tf2 ") and "TensorFlow" in version.stdout
    assert (legacy.returncode, legacy.stdout) == (2, "")
    assert legacy.stderr == f"legacy_tf1: error: Image not found: {missing}\n"
    assert (usage.returncode, usage.stdout) == (2, "")
    assert usage.stderr.startswith("tf2: error: argument --tile: expected an even int >= 2")
    assert usage.stderr.count("\n") == 1
    assert (audit.returncode, audit.stdout) == (2, "")
    assert audit.stderr == f"migration_audit: error: Image not found: {missing}\n"
