"""The examples/ ports audited against their TF1 scripts through the script engine.

Every correct port (the TF2 port, and the ones by another algorithm) must
pass with every row's claim derived from the graph (`bound`); every buggy
port must fail exactly at the stages its bug touches and pass upstream of
it. The expected verdicts are written by hand in `examples.verdicts.CASES`.
These are comparison tests: run them in both oneDNN configurations.
"""

import json
import subprocess
import sys

import pytest

from examples.verdicts import CASES, EXAMPLES
from migration_audit.script_audit import audit_script
from tests.conftest import REPO

CNN_STAGES = next(case.stages for case in CASES if case.name == "cnn/port.py")


def _case_id(case):
    return case.name.removesuffix(".py")


#: The engine's rows for each stage: (actual, expected).
PAIRS = (("port", "tf1"), ("tf1", "float64 shadow"), ("port", "float64 shadow"))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_port_verdict(case):
    result = audit_script(case.script, case.port_spec)
    rows = {(row.stage, row.actual, row.expected): row for row in result.rows}
    # Every stage the port returns is compared, each in all three rows.
    assert sorted(rows) == sorted((stage, *pair) for stage in case.stages for pair in PAIRS)
    assert len(rows) == len(result.rows)
    for (stage, _, _), row in rows.items():
        assert row.tf1_tensor == f"{stage}:0"
    # The bug fails the port's rows at the stages it touches (against TF1 and
    # against float64) and nowhere else: upstream stages pass; TF1 itself
    # always lies within its bound of the float64 shadow.
    failing = {key for key, row in rows.items() if not row.passed}
    assert failing == {(stage, "port", expected) for stage in case.fails
                       for expected in ("tf1", "float64 shadow")}
    assert result.passed == (not case.fails)
    # No silent tolerance: every op on these paths has a rule, so every row's
    # claim (the failing ones' included) is the bound derived from the graph.
    assert result.unsupported_ops == []
    assert {key: row.claim for key, row in rows.items()} == dict.fromkeys(rows, "bound")
    for key, row in rows.items():
        if row.passed:
            assert row.error_over_bound <= 1.0, key
        else:  # inf where the shapes differ
            assert row.error_over_bound > 1.0, key


def _cli(port, tmp_path, env):
    report = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "migration_audit", "script", str(EXAMPLES / "cnn" / "original.py"),
         "--port", f"{EXAMPLES / 'cnn' / port}:port", "--report", str(report)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc, json.loads((report / "report.json").read_text())


def test_cli_correct_port_exits_0(tmp_path, subprocess_env):
    proc, report = _cli("port.py", tmp_path, subprocess_env)
    assert proc.returncode == 0, proc.stderr
    assert report["passed"] is True
    assert sorted(row["stage"] for row in report["comparisons"]) == sorted(CNN_STAGES)


def test_cli_flipped_kernel_exits_1(tmp_path, subprocess_env):
    proc, report = _cli("buggy_flipped_kernel.py", tmp_path, subprocess_env)
    assert proc.returncode == 1, proc.stderr
    assert report["passed"] is False
    assert [row["stage"] for row in report["comparisons"] if not row["passed"]] == ["deconv/output"]
