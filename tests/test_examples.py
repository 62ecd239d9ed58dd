"""The examples/ ports audited against their TF1 scripts through the script engine.

Every correct port (the TF2 port, and the ones by another algorithm) must
pass with every row's claim derived from the graph (`bound`); every buggy
port must fail exactly at the stages its bug touches and pass upstream of
it. The expected verdicts are written by hand in `examples.verdicts.CASES`.
These are comparison tests: run them in both oneDNN configurations.
"""

import json
import os
import subprocess
import sys

import pytest

from examples.verdicts import CASES, EXAMPLES
from migration_audit import audit_script
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


#: The CNN ports the command line runs: one a correct port (exit 0), one a buggy one (exit 1).
CLI_PORTS = ("port.py", "buggy_flipped_kernel.py")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`cli_run(port)`: the command line on the CNN with `port`: (exit status, stderr, report).

    Whole processes only for what only a process shows (the exit status and
    the report file). In one pytest process the first call starts both runs
    so that their TensorFlow imports overlap; under xdist each worker starts
    only the run its test needs.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    started, results = {}, {}

    def start(port):
        report = tmp_path_factory.mktemp("report")
        argv = [sys.executable, "-m", "migration_audit", "script",
                str(EXAMPLES / "cnn" / "original.py"), "--port", f"{EXAMPLES / 'cnn' / port}:port",
                "--report", str(report)]
        started[port] = (subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True), report)

    def run(port):
        if port not in results:
            together = CLI_PORTS if "PYTEST_XDIST_WORKER" not in os.environ else (port,)
            for name in together:
                if name not in started:
                    start(name)
            proc, report = started[port]
            _, stderr = proc.communicate(timeout=300)
            results[port] = (proc.returncode, stderr,
                             json.loads((report / "report.json").read_text()))
        return results[port]

    yield run
    for port, (proc, _) in started.items():
        if port not in results:  # started for a test that did not run
            proc.kill()
            proc.communicate()


def test_cli_correct_port_exits_0(cli_run):
    returncode, stderr, report = cli_run("port.py")
    assert returncode == 0, stderr
    assert report["passed"] is True
    assert {row["stage"] for row in report["comparisons"]} == set(CNN_STAGES)
    assert report["unsupported_ops"] == []


def test_cli_flipped_kernel_exits_1(cli_run):
    returncode, stderr, report = cli_run("buggy_flipped_kernel.py")
    assert returncode == 1, stderr
    assert report["passed"] is False
    failing = [(row["stage"], row["actual"], row["expected"])
               for row in report["comparisons"] if not row["passed"]]
    assert failing == [("deconv/output", "port", "tf1"), ("deconv/output", "port", "float64 shadow")]
