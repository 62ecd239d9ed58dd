"""Child side of `tests.conftest.run_cli_batch`: several command lines, one Python.

Reads a JSON list of `[target, argv]` from stdin (`target` is "module:function",
a `main(argv) -> int`), runs each in turn with file descriptors 1 and 2
redirected to files of its own (so TensorFlow's C++ lines are caught too),
and prints a JSON list of `[status, stdout, stderr]` on the original stdout.
"""

import importlib
import json
import os
import sys
import tempfile


def _run(target, argv):
    module, function = target.split(":")
    try:
        status = getattr(importlib.import_module(module), function)(argv)
    except SystemExit as e:  # argparse's --help, --version, usage errors
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0 if status is None else status


def main():
    cases = json.loads(sys.stdin.readline())
    real_out = os.dup(1)
    results = []
    for target, argv in cases:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            sys.stdout.flush(), sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
            try:
                status = _run(target, argv)
            finally:
                sys.stdout.flush(), sys.stderr.flush()
                os.dup2(saved[0], 1), os.dup2(saved[1], 2)
                os.close(saved[0]), os.close(saved[1])
            texts = []
            for f in (out, err):
                f.seek(0)
                texts.append(f.read().decode("utf-8", "replace"))
        results.append([status, *texts])
    os.write(real_out, (json.dumps(results) + "\n").encode())


if __name__ == "__main__":
    main()
