"""`import tf2` registers its Keras objects: a `.keras` file loads in a fresh process."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import REPO

SAVE = """
    import numpy as np, keras, tf2
    inputs = keras.Input((None, None, 3))
    up = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False,
                                      kernel_initializer=tf2.BilinearInitializer(mode="fcn"),
                                      name="deconv")
    outputs = tf2.BilinearUpsample2D(2, border="clamp", name="up")(up(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).random((1, 5, 4, 3)).astype("float32")
    np.savez(r"{folder}/expected.npz", x=x, y=keras.ops.convert_to_numpy(model(x)))
    model.save(r"{folder}/model.keras")
"""

LOAD = """
    import sys
    import numpy as np
    {imports}
    assert {keras_after_tf2}
    model = keras.saving.load_model(r"{folder}/model.keras")
    initializer = model.get_layer("deconv").kernel_initializer
    assert type(initializer).__name__ == "BilinearInitializer", initializer
    assert type(model.get_layer("up")).__name__ == "BilinearUpsample2D"
    data = np.load(r"{folder}/expected.npz")
    np.save(r"{folder}/loaded.npy", keras.ops.convert_to_numpy(model(data["x"])))
    print("loaded")
"""


def _run(code, subprocess_env):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                          env={**subprocess_env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.e2e
@pytest.mark.parametrize("imports, keras_after_tf2", [
    # `import tf2` alone does not import Keras; importing Keras registers.
    ("import tf2\n    assert 'keras' not in sys.modules\n    import keras", "True"),
    ("import keras\n    import tf2", "'tf2.layers' in sys.modules"),
])
def test_keras_file_loads_in_a_fresh_process_after_only_import_tf2(
        tmp_path, subprocess_env, imports, keras_after_tf2):
    _run(SAVE.format(folder=tmp_path), subprocess_env)
    out = _run(LOAD.format(folder=tmp_path, imports=imports, keras_after_tf2=keras_after_tf2),
               subprocess_env)
    assert out.strip() == "loaded"
    expected = np.load(tmp_path / "expected.npz")["y"]
    # Same layers, same weights, same ops, same machine and configuration.
    np.testing.assert_array_equal(expected, np.load(tmp_path / "loaded.npy"))


@pytest.mark.e2e
def test_without_import_tf2_the_file_does_not_load(tmp_path, subprocess_env):
    _run(SAVE.format(folder=tmp_path), subprocess_env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import keras
        keras.saving.load_model(r"{tmp_path}/model.keras")
    """)], cwd=REPO, env={**subprocess_env, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=300)
    assert proc.returncode != 0  # proves the registration above is what makes it load
    assert "BilinearInitializer" in proc.stderr or "BilinearUpsample2D" in proc.stderr


def test_when_imported_runs_once_after_the_import():
    from deconv_runtime.lazy import when_imported

    code = textwrap.dedent("""
        import sys
        from deconv_runtime.lazy import when_imported
        calls = []
        when_imported("colorsys", lambda m: calls.append(m.__name__))
        assert calls == [] and "colorsys" not in sys.modules
        import colorsys
        import colorsys
        assert calls == ["colorsys"], calls
        assert colorsys.rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr
    seen = []
    when_imported("math", seen.append)  # already imported: at once
    assert [m.__name__ for m in seen] == ["math"]
