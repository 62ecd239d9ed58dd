"""`benchmarks.startup` and what it measures: the tf2 command's start-up work.

No timing is asserted: the command runs, pairs and phases are reported.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO


def _python(code, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


@pytest.mark.e2e
def test_deferred_keras_is_not_imported_with_tensorflow_and_still_works_later():
    proc = _python("""
        import sys
        from deconv_runtime.tf_import import import_tensorflow
        tf = import_tensorflow(defer_keras=True)
        print("keras" in sys.modules, "matplotlib" in sys.modules)
        print(any(getattr(f, "__name__", "") == "_KerasDeferred" for f in sys.meta_path))
        import keras
        layer = tf.keras.layers.Dense(2)
        print(type(layer).__module__.split(".")[0], keras.__name__)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "False", "False", "keras", "keras"]


@pytest.mark.e2e
def test_tensorflow_imports_keras_unless_deferred():
    # What defer_keras skips; if TensorFlow stops importing Keras, this says so.
    proc = _python("""
        import sys
        from deconv_runtime.tf_import import import_tensorflow
        import_tensorflow()
        print("keras" in sys.modules)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True"]


@pytest.mark.e2e
def test_single_image_command_imports_no_keras_and_matches_the_traced_stages(tmp_path):
    dump = tmp_path / "d.npz"
    proc = _python("""
        import sys
        import numpy as np
        from tf2.cli import main
        assert main(["--seed", "0", "--no-show", "--dump", sys.argv[1]]) == 0
        print("keras" in sys.modules)
        import tensorflow as tf
        from tf2.demo import DeconvDemo
        tf.random.set_seed(0)
        demo = DeconvDemo()
        d = np.load(sys.argv[1])
        traced = demo.stages(d["image"])  # the tf.function: the same ops, the same shapes
        print(all(np.array_equal(d[k], traced[k].numpy()) for k in ("conv1", "pool", "output")))
    """, str(dump))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["False", "True"]


@pytest.mark.e2e
def test_startup_command_reports_pairs_and_phases(tmp_path):
    out = tmp_path / "s.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.startup", "--pairs", "1", "--json",
                           str(out)], capture_output=True, text=True, cwd=REPO, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert set(doc["pairs"][0]) == {"legacy_tf1", "tf2"}
    assert doc["median_ratio"] > 0
    for program in ("legacy_tf1", "tf2"):
        for phase in ("import_tensorflow", "decode_image", "compute", "render_picture"):
            assert doc["phases"][f"{program}: {phase}"] > 0
    assert "tf2 / legacy_tf1" in proc.stdout and "environment" in doc
