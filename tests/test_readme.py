"""README's Python examples run as written, twice in a row, in a fresh process."""

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

SECTIONS = ["## Using the TF2 pieces in your own model", "## The demo as a Keras 3 model"]


def _python_block(section):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(section + "\n")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert match is not None and match.start() < text.index("\n## ", start + 1)
    return match.group(1)


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_example_runs_twice_in_a_row(section, subprocess_env):
    code = _python_block(section)
    runner = ("import sys\ncode = sys.stdin.read()\n"
              "for run in (1, 2):\n    exec(compile(code, 'README.md', 'exec'), {})\n"
              "    print('run', run, 'ok')\n")
    proc = subprocess.run([sys.executable, "-c", runner], input=code, cwd=REPO,
                          env={**subprocess_env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [line for line in lines if line.startswith("run ")] == ["run 1 ok", "run 2 ok"]
    if "print(" in code:  # what the example says it prints, it prints, both times
        assert lines.count("(2, 34, 18, 3)") == 2
