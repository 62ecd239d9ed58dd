"""The original demo script itself, run unchanged on TensorFlow 2.

`python -m legacy_tf1.original [SCRIPT.py]` runs the shipped original
(`legacy_tf1/original/script/deconv_demo.py`: the published script, its lost
indentation restored) or any similar TF1 script through an import shim
(`legacy_tf1.original.shim`): `import tensorflow as tf` inside the script
gets `tf.compat.v1` in a fresh graph, `tf.contrib.layers`' initializers map
to TensorFlow 1 ops with their semantics, and nothing is switched globally.
"""

from legacy_tf1.original.contrib import UnsupportedContribError
from legacy_tf1.original.shim import SHIPPED_SCRIPT, ScriptResult, run_script

__all__ = ["SHIPPED_SCRIPT", "ScriptResult", "UnsupportedContribError", "run_script"]
