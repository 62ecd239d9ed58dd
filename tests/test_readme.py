"""The documentation's Python examples run as written, twice in a row, in a fresh process.

The README points to `docs/tf2-api.md` for them; each section named here must hold one
```python block, and it must run.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DOC = "docs/tf2-api.md"
SECTIONS = ["## Using the TF2 pieces in your own model", "## The demo as a Keras 3 model"]
#: docs/keras.md's examples write files (a SavedModel, a checkpoint) and one
#: switches the Keras backend: each runs in a temporary folder, in a process of its own.
KERAS_DOC = "docs/keras.md"
KERAS_SECTIONS = ["## Unknown height and width, `model.export`",
                  "## Keras backends: choose before `import tf2`",
                  "## Making the TF1 checkpoint that `convert-checkpoint` converts"]


def _python_block(section, doc=DOC):
    text = (REPO / doc).read_text(encoding="utf-8")
    start = text.index(section + "\n")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    following = text.find("\n## ", start + 1)
    assert match is not None and (following == -1 or match.start() < following)
    return match.group(1)


def _run_twice(code, doc, cwd, env):
    """Runs `code` twice in one fresh process from `cwd`; returns its stdout lines."""
    runner = ("import sys\ncode = sys.stdin.read()\n"
              f"for run in (1, 2):\n    exec(compile(code, {Path(doc).name!r}, 'exec'), {{}})\n"
              "    print('run', run, 'ok')\n")
    proc = subprocess.run([sys.executable, "-c", runner], input=code, cwd=cwd,
                          env={**env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [line for line in lines if line.startswith("run ")] == ["run 1 ok", "run 2 ok"]
    return lines


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_example_runs_twice_in_a_row(section, subprocess_env):
    code = _python_block(section)
    lines = _run_twice(code, DOC, REPO, subprocess_env)
    if "print(" in code:  # what the example says it prints, it prints, both times
        assert lines.count("(2, 34, 18, 3)") == 2


@pytest.mark.e2e
@pytest.mark.parametrize("section", KERAS_SECTIONS)
def test_keras_doc_example_runs_twice_in_a_row(section, subprocess_env, tmp_path):
    _run_twice(_python_block(section, KERAS_DOC), KERAS_DOC, tmp_path, subprocess_env)


def test_every_python_example_in_the_docs_is_one_this_file_runs():
    """A ```python block elsewhere would be an example nobody runs: name its section above."""
    run = {_python_block(section) for section in SECTIONS}
    run |= {_python_block(section, KERAS_DOC) for section in KERAS_SECTIONS}
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            assert block in run, f"{path.name}: a Python example no test runs: {block[:80]!r}"

