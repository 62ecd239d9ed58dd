"""The original demo's graph and session, through `tf.compat.v1`.

`build_graph` creates the same variables and ops as the original script, in
the same order and under the same names; `run_session` builds it in a fresh
`tf.Graph`, runs it in a `tf.compat.v1.Session` and returns every stage as
NumPy arrays.
"""

from typing import Any, NamedTuple

import numpy as np

from deconv_io.dumps import DUMP_NAMES
from deconv_io.weights import KERNEL_SHAPE
from legacy_tf1._graph_mode import require_graph_mode
from legacy_tf1.filters import get_deconv_filter_initializer

__all__ = ["EMBED_LIMIT", "GraphSession", "Stages", "build_graph", "original_display_chain",
           "run_session"]

#: Images with more float32 values than this are fed to the image variable's
#: initializer through a placeholder instead of being embedded as a constant
#: in the GraphDef, which protocol buffers cap at 2 GB (about 500M floats).
EMBED_LIMIT = 100_000_000


class Stages(NamedTuple):
    """The graph's variables and tensors, named after the pipeline's stages.

    Attributes:
        image: the trainable image variable (default name `Variable`).
        conv_kernel: the variable `a`, [3, 3, 3, 64], Glorot uniform.
        deconv_kernel: the variable `a1`, [3, 3, 3, 64], FCN bilinear.
        conv1: conv2d, SAME, stride 1.
        pool: max pool 2x2, stride 2, SAME.
        output: conv2d_transpose, stride 2, SAME, (N, 2*ceil(H/2),
            2*ceil(W/2), 3).
        display: the original's HWC picture tensor for batch 1, else None.
        init_feed: the feed_dict the variable initializer needs (empty unless
            the image is fed through a placeholder).
    """

    image: Any
    conv_kernel: Any
    deconv_kernel: Any
    conv1: Any
    pool: Any
    output: Any
    display: Any
    init_feed: dict


def _check_image(image, ndims):
    array = np.asarray(image)
    if array.ndim not in ndims or array.shape[-1] != 3 or 0 in array.shape:
        expected = " or ".join({3: "(H, W, 3)", 4: "(N, H, W, 3)"}[n] for n in ndims)
        raise ValueError(
            f"Invalid value for argument `image`. Expected a non-empty {expected} "
            f"RGB array. Received: image.shape={array.shape}."
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(
            "Invalid value for argument `image`. Expected a real numeric array. "
            f"Received: image.dtype={array.dtype}."
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def original_display_chain(output):
    """The original's picture: transpose NHWC->NCHW, squeeze, transpose [1, 2, 0].

    Quirk kept: this equals `output[0]` for a batch of one, and only then.
    For a batch > 1 nothing is squeezed, the rank stays 4 and the final
    3-axis transpose fails (`ValueError` while building the graph).
    `build_graph` therefore only builds it for a batch of one.

    Args:
        output: an NHWC tensor.

    Returns:
        An HWC tensor for a batch of one.

    Raises:
        ValueError: the batch is not 1.

    Example:
    >>> import tensorflow as tf
    >>> with tf.Graph().as_default():
    ...     original_display_chain(tf.zeros([1, 4, 2, 3])).shape.as_list()
    [4, 2, 3]
    """
    import tensorflow as tf

    nchw = tf.transpose(output, [0, 3, 1, 2])
    return tf.transpose(tf.squeeze(nchw), [1, 2, 0])


def build_graph(image, seed=None, verbose=False, feed_image=None):
    """Builds the original demo's variables and ops in the default graph.

    Must be called inside a `with tf.Graph().as_default():` scope. Creates,
    as the original did:

    - the image as `tf.compat.v1.Variable(image, dtype=tf.float32)`. Quirk
      kept: it is a trainable global variable with the default name
      `Variable`, so it would be saved in a checkpoint beside the kernels.
      (The original reshaped to [1, 750, 500, 3]; any N, H, W works here.)
    - the conv kernel `a` [3, 3, 3, 64] with `glorot_uniform_initializer()`.
      The original used `tf.contrib.layers.xavier_initializer()`, gone in
      TF2; its defaults (`uniform=True`, i.e. `variance_scaling_initializer`
      with factor 1.0, mode FAN_AVG, uniform) are Glorot uniform: U(-l, l)
      with `l = sqrt(6 / (fan_in + fan_out)) = sqrt(6 / (27 + 576))` here
      (TF 1.15 API docs of both initializers). Same distribution; the
      random stream of the two ops is not promised to match.
    - the deconv kernel `a1` [3, 3, 3, 64] from the FCN bilinear
      `constant_initializer` (see `fcn_bilinear_weights`).
    - `conv1` (conv2d, stride 1, SAME), `pool` (max pool 2x2, stride 2,
      SAME), `output` (conv2d_transpose, stride 2, SAME) to the shape the
      original computes from `pool.get_shape().as_list()`:
      `[n, 2 * h, 2 * w, 3]`.
    - the display chain (see `original_display_chain`), for a batch of one.

    Args:
        image: (N, H, W, 3) array, cast to float32.
        seed: graph-level seed (`tf.compat.v1.set_random_seed`) for the
            Glorot draw of `a`. `None` (the original) draws anew each run.
        verbose: print the bilinear filter's slices, like the original.
        feed_image: feed the image to its variable's initializer through a
            placeholder (`Stages.init_feed`) instead of embedding it as a
            constant in the GraphDef. `None`: only above `EMBED_LIMIT` values,
            which keeps large images under the 2 GB GraphDef limit. The
            variable, its name and its values are the same either way.

    Returns:
        A `Stages` tuple.

    Raises:
        RuntimeError: called while TensorFlow executes eagerly.
        ValueError: `image` is not a non-empty (N, H, W, 3) numeric array.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> with tf.Graph().as_default():
    ...     build_graph(np.zeros((1, 7, 5, 3), np.float32)).output.shape.as_list()
    [1, 8, 6, 3]
    """
    import tensorflow as tf

    require_graph_mode(tf, "build_graph")
    image = _check_image(image, ndims=(4,))
    if seed is not None:
        tf.compat.v1.set_random_seed(seed)
    if feed_image is None:
        feed_image = image.size > EMBED_LIMIT
    init_feed = {}
    if feed_image:
        initial = tf.compat.v1.placeholder(tf.float32, shape=image.shape, name="image_value")
        init_feed[initial] = image
        img = tf.compat.v1.Variable(initial_value=initial, dtype=tf.float32)
    else:
        img = tf.compat.v1.Variable(image, dtype=tf.float32)
    kernel = tf.compat.v1.get_variable(
        name="a", shape=list(KERNEL_SHAPE), dtype=tf.float32,
        initializer=tf.compat.v1.glorot_uniform_initializer(),
    )
    kernel2 = tf.compat.v1.get_variable(
        name="a1", shape=list(KERNEL_SHAPE), dtype=tf.float32,
        initializer=get_deconv_filter_initializer(list(KERNEL_SHAPE), verbose=verbose),
    )
    conv1 = tf.compat.v1.nn.conv2d(input=img, filter=kernel, strides=[1, 1, 1, 1],
                                   padding="SAME")
    pool = tf.compat.v1.nn.max_pool(conv1, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                    padding="SAME")
    shape_ = pool.get_shape().as_list()
    output_shape = [shape_[0], shape_[1] * 2, shape_[2] * 2, 3]
    output = tf.compat.v1.nn.conv2d_transpose(pool, kernel2, output_shape,
                                              strides=[1, 2, 2, 1], padding="SAME")
    display = original_display_chain(output) if shape_[0] == 1 else None
    return Stages(image=img, conv_kernel=kernel, deconv_kernel=kernel2, conv1=conv1,
                  pool=pool, output=output, display=display, init_feed=init_feed)


def _check_weights(weights):
    unknown = sorted(set(weights) - {"conv_kernel", "deconv_kernel"})
    if unknown:
        raise ValueError(
            "Invalid value for argument `weights`. Expected keys among "
            f"['conv_kernel', 'deconv_kernel']. Received unexpected keys: {unknown}."
        )
    checked = {}
    for name, value in weights.items():
        array = np.asarray(value, dtype=np.float32)
        if array.shape != KERNEL_SHAPE:
            raise ValueError(
                f"Invalid value for argument `weights['{name}']`. Expected an array of "
                f"shape {KERNEL_SHAPE}. Received: shape={array.shape}."
            )
        if not np.isfinite(array).all():
            raise ValueError(
                f"Invalid value for argument `weights['{name}']`. Expected finite "
                "values. Received: an array with NaN or Inf values."
            )
        checked[name] = array
    return checked


class GraphSession:
    """The original graph built once for an image shape, in a session of its own.

    As `run_session` does, `global_variables_initializer()` runs first and
    given `weights` are then assigned over the drawn kernels (fed through
    placeholders, so they never enter the GraphDef). `run(names, images)`
    fetches stages, optionally feeding another batch of the same shape to
    the tensor through which `conv1` reads the image variable, in place of
    the variable's value.

    Args:
        image: (N, H, W, 3) array, cast to float32: the image variable's value.
        seed, verbose, feed_image: see `build_graph`.
        weights: optional dict with `conv_kernel` and/or `deconv_kernel`.

    Raises:
        ValueError: a bad `image` or `weights`.

    Example:
    >>> import numpy as np
    >>> with GraphSession(np.ones((1, 7, 5, 3)), seed=0) as s:
    ...     s.run(["output"])["output"].shape
    (1, 8, 6, 3)
    """

    def __init__(self, image, seed=None, weights=None, verbose=False, feed_image=None):
        import tensorflow as tf

        image = _check_image(image, ndims=(4,))
        weights = _check_weights(weights or {})
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.stages = build_graph(image, seed=seed, verbose=verbose, feed_image=feed_image)
            assign, loads = [], {}
            for name, value in weights.items():
                holder = tf.compat.v1.placeholder(tf.float32, KERNEL_SHAPE, name=f"{name}_value")
                assign.append(tf.compat.v1.assign(getattr(self.stages, name), holder))
                loads[holder] = value
            init = tf.compat.v1.global_variables_initializer()
        self.image_read = self.stages.conv1.op.inputs[0]
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.session.run(init, feed_dict=self.stages.init_feed)
        if assign:
            self.session.run(assign, feed_dict=loads)

    def run(self, names, images=None):
        """Fetches `names` (fields of `Stages`) in one `Session.run`; a dict of arrays.

        `images`, if given, is fed in place of the image variable's value
        (same shape).
        """
        feed = None if images is None else {self.image_read: images}
        return self.session.run({name: getattr(self.stages, name) for name in names}, feed)

    def close(self):
        """Closes the session."""
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_session(image, seed=None, weights=None, verbose=False, feed_image=None):
    """Runs the original demo once: fresh graph, session, initializer, fetch.

    Like the original, `global_variables_initializer()` runs first; given
    `weights` are then assigned over the drawn kernels (`GraphSession`).

    Args:
        image: (H, W, 3) or (N, H, W, 3) array (a batch of one is added to a
            single image), cast to float32.
        seed: graph-level seed for the Glorot draw; `None` draws anew.
        weights: optional dict with `conv_kernel` and/or `deconv_kernel`,
            each [3, 3, 3, 64] (e.g. from `deconv_io.load_weights`).
        verbose: print the bilinear filter's slices, like the original.
        feed_image: see `build_graph`.

    Returns:
        A dict of NumPy arrays keyed by `DUMP_NAMES` (`image` 4-D as fed,
        both kernels as used, `conv1`, `pool`, `output` 4-D) plus `display`:
        the original's HWC picture for a batch of one, `None` otherwise.

    Raises:
        ValueError: a bad `image` or `weights`.

    Example:
    >>> import numpy as np
    >>> run_session(np.ones((7, 5, 3), np.float32), seed=0)["display"].shape
    (8, 6, 3)
    """
    image = _check_image(image, ndims=(3, 4))
    if image.ndim == 3:
        image = image[np.newaxis]
    with GraphSession(image, seed=seed, weights=weights, verbose=verbose,
                      feed_image=feed_image) as session:
        names = list(DUMP_NAMES) + (["display"] if session.stages.display is not None else [])
        results = session.run(names)
    results.setdefault("display", None)
    return results
