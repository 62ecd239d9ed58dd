"""The benchmark's variants: one runner per way of computing `output`.

What is timed, per variant, for one batch of float32 images (N, H, W, 3)
given as a NumPy array, until the NumPy `output` (N, 2*ceil(H/2),
2*ceil(W/2), 3) is in hand: see `WHAT_IS_TIMED`. Every TF2 variant takes the
batch through `as_tensor` (DLPack, no copy of the 64-byte aligned array) and
returns `as_numpy(output)` (a view, no copy), as the TF1 session feeds an
aligned array and fetches its result without copying (`.numpy()` would copy).
"""

import numpy as np

from benchmarks import _tf2_api

__all__ = ["PIPELINES", "VARIANTS", "WHAT_IS_TIMED", "make_images", "make_kernels",
           "make_runner"]

#: Variants, in table order. `tf1_session` is the reference of every check.
VARIANTS = ("tf1_session", "tf2_eager", "tf2_function", "tf2_xla", "tf2_fast", "tf2_fast_window",
            "tf2_fast_parity", "memory_floor")

#: The variants that run the pipeline (all but the memory floor).
PIPELINES = VARIANTS[:-1]

WHAT_IS_TIMED = {
    "tf1_session": "sess.run(output, feed_dict={image read: batch}) on the faithful graph "
                   "built once (all 64 conv channels), output fetched to NumPy",
    "tf2_eager": "demo_stages(batch, kernels)['output'] op by op (all 64 channels)",
    "tf2_function": "tf.function(demo_stages(...)['output']), traced once (all 64 "
                    "channels, output only, like sess.run(output))",
    "tf2_xla": "the same tf.function with jit_compile=True (compiled in the warm-up)",
    "tf2_fast": "DeconvDemo.fast_path(batch), what demo.output(x) runs: "
                "tf2_fast_window or tf2_fast_parity, whichever was measured faster for this "
                "shape in the warm-up (fast_path_choice)",
    "tf2_fast_window": "DeconvDemo.output_window(batch): only the conv channels the deconv kernel "
                       "reads (3 of 64); conv + pool as one stride-2 conv over each pool "
                       "window and an XLA max, depthwise transposed conv; traced once",
    "tf2_fast_parity": "DeconvDemo.output_parity(batch): the same channels by three fused XLA "
                    "kernels on parity-split planar data (compiled in the warm-up)",
    "memory_floor": "np.copyto of the input into an output-sized float32 buffer "
                    "(read the input, write the output, once; one thread)",
}


def make_images(batch, height, width, seed):
    """The benchmark's input: uniform [0, 255) float32, like an 8-bit photo.

    The array is 64-byte aligned, so that TensorFlow can use it without a
    copy: the TF1 session's feed does that for an aligned array, and the
    TF2 variants through DLPack.

    Example:
    >>> make_images(2, 5, 3, seed=0).shape
    (2, 5, 3, 3)
    """
    from deconv_io.memory import aligned_empty

    images = aligned_empty((batch, height, width, 3), np.float32)
    images[...] = np.random.default_rng(seed).uniform(0, 255, images.shape)
    return images


class _Tf1Session:
    """The faithful graph, built once for a batch shape; the image is fed.

    The batch is fed to the tensor through which conv2d reads the image
    variable, in place of the variable's value (checked once, bit for bit).
    """

    def __init__(self, images, kernels, seed):
        import tensorflow as tf

        from legacy_tf1.graph import build_graph

        self.graph = tf.Graph()
        with self.graph.as_default():
            stages = build_graph(images, seed=seed, feed_image=True)
            holders = {name: tf.compat.v1.placeholder(tf.float32, value.shape)
                       for name, value in kernels.items()}
            assign = [tf.compat.v1.assign(getattr(stages, name), holder)
                      for name, holder in holders.items()]
            init = tf.compat.v1.global_variables_initializer()
        self.output = stages.output
        self.image_read = stages.conv1.op.inputs[0]
        self.sess = tf.compat.v1.Session(graph=self.graph)
        self.sess.run(init, feed_dict=stages.init_feed)
        self.sess.run(assign, feed_dict={holders[n]: v for n, v in kernels.items()})
        from_variable = self.sess.run(self.output)
        if not np.array_equal(from_variable, self(images)):
            raise RuntimeError("feeding the image read differs from the image variable")

    def __call__(self, images):
        return self.sess.run(self.output, feed_dict={self.image_read: images})

    def close(self):
        self.sess.close()


class _MemoryFloor:
    """Reads the input and writes an output-sized buffer once."""

    def __init__(self, images):
        n, h, w, c = images.shape
        self.out = np.empty((n, 2 * -(-h // 2), 2 * -(-w // 2), c), np.float32)

    def __call__(self, images):
        flat = self.out.reshape(-1)
        if flat.size == images.size:
            np.copyto(self.out, images.reshape(self.out.shape))
        else:  # odd sides: the output has more pixels than the input
            np.copyto(flat[:images.size], images.reshape(-1))
            flat[images.size:] = 0
        return self.out

    def close(self):
        pass


class _Tf2:
    """A TF2 variant; like `sess.run(output)`, only `output` is returned.

    Returning every stage would keep `conv1` (64 channels) alive as a
    result, which the TF1 session frees as soon as `pool` is computed.
    """

    def __init__(self, demo, variant):
        import tensorflow as tf

        self.demo = demo  # its tf.functions hold it weakly
        self.as_tensor, self.as_numpy = _tf2_api.zero_copy()
        if variant in ("tf2_eager", "tf2_function", "tf2_xla"):
            full_output = _tf2_api.full_output_function(demo)
            signature = [_tf2_api.images_spec()]
            self.call = {
                "tf2_eager": lambda: full_output,
                "tf2_function": lambda: tf.function(full_output, input_signature=signature),
                "tf2_xla": lambda: tf.function(full_output, input_signature=signature,
                                               jit_compile=True),
            }[variant]()
        else:
            self.call = _tf2_api.fast_call(demo, variant)

    def __call__(self, images):
        return self.as_numpy(self.call(self.as_tensor(images)))

    def close(self):
        pass


def make_kernels(seed):
    """The kernels every variant uses: the TF2 module's, drawn with `seed`."""
    return _tf2_api.demo_kernels(_tf2_api.new_demo(seed=seed))


def make_runner(variant, images, kernels, seed=0):
    """Builds one variant for a batch shape; the result maps images to output.

    Args:
        variant: one of `VARIANTS`.
        images: the (N, H, W, 3) float32 batch (its shape fixes the TF1 graph).
        kernels: `{"conv_kernel", "deconv_kernel"}` float32 arrays.
        seed: the TF1 graph's seed (its drawn kernel is overwritten).

    Returns:
        A callable `runner(images) -> np.ndarray` with a `close()` method;
        a TF2 runner's `demo` is its `tf2.DeconvDemo`.
    """
    if variant == "memory_floor":
        return _MemoryFloor(images)
    if variant == "tf1_session":
        return _Tf1Session(images, kernels, seed)
    return _Tf2(_tf2_api.new_demo(**kernels), variant)
