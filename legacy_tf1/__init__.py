"""The faithful TF1 port of the bilinear transposed-convolution demo.

The original script's graph, variables, session and picture, kept in
meaning on TensorFlow 2 through `tf.compat.v1`, inside explicit
`with tf.Graph().as_default():` scopes (eager execution is never disabled
globally). Its quirks are kept, and each is named where it is kept.

TensorFlow is imported only when a graph is built, so `python -m legacy_tf1`
can quiet TensorFlow's logs first and reject bad input without loading it.

Example:
>>> from legacy_tf1 import fcn_bilinear_weights
>>> fcn_bilinear_weights([3, 3, 3, 64]).shape
(3, 3, 3, 64)
"""

from deconv_io._version import __version__
from legacy_tf1.cli import main
from legacy_tf1.filters import (
    bilinear_upsample_weights,
    fcn_bilinear_weights,
    get_deconv_filter_initializer,
    get_deconv_filter_variable,
    get_kernel_size,
    upsample_filt,
)
from legacy_tf1.graph import (
    EMBED_LIMIT,
    Stages,
    build_graph,
    original_display_chain,
    run_session,
)

__all__ = [
    "EMBED_LIMIT",
    "Stages",
    "bilinear_upsample_weights",
    "build_graph",
    "fcn_bilinear_weights",
    "get_deconv_filter_initializer",
    "get_deconv_filter_variable",
    "get_kernel_size",
    "main",
    "original_display_chain",
    "run_session",
    "upsample_filt",
]
