"""The demo's TF2 port as a script-audit port: `tf2.DeconvDemo` fed the original's variables.

`tf2_port(inputs, variables)` is what `python -m migration_audit script
legacy_tf1/original/script/deconv_demo.py --port migration_audit.demo_port:tf2_port`
calls: the shipped original keeps its image in a `tf.Variable` (TF1 name
`Variable`, no feeds) and its kernels in `a` (conv) and `a1` (deconv); the
port returns `tf2.DeconvDemo`'s stages keyed by the original graph's op
names, so each is compared with that op's output:

- `Conv2D` (conv1), `MaxPool` (pool), `conv2d_transpose` (output).
"""

import numpy as np

__all__ = ["OP_NAMES", "tf2_port"]

#: The shipped script's op name -> `DeconvDemo` stage.
OP_NAMES = {"Conv2D": "conv1", "MaxPool": "pool", "conv2d_transpose": "output"}


def tf2_port(inputs, variables):
    """`tf2.DeconvDemo(conv_kernel=a, deconv_kernel=a1).stages(Variable)`, keyed by op name.

    Args:
        inputs: the captured run's feeds (the original feeds nothing).
        variables: `{"Variable": image (1, H, W, 3), "a": conv kernel, "a1":
            deconv kernel}`, as the original's session held them.

    Returns:
        `{op name: stage array}` (see `OP_NAMES`).
    """
    del inputs  # the original's image is a variable, not a feed
    from tf2.demo import DeconvDemo

    demo = DeconvDemo(conv_kernel=variables["a"], deconv_kernel=variables["a1"])
    stages = demo.stages(np.asarray(variables["Variable"], np.float32))
    return {op: np.asarray(stages[stage]) for op, stage in OP_NAMES.items()}
