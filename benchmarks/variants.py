"""The benchmark's variants: the registry's runners, and the memory floor.

Each pipeline variant is the runner of that name in
`migration_audit.runners.RUNNERS`, prepared once per batch shape
(`runner.prepare(kernels, names=["output"])`), so what is timed is the call
the audit makes, for one batch of float32 images (N, H, W, 3) given as a
NumPy array, until the NumPy `output` (N, 2*ceil(H/2), 2*ceil(W/2), 3) is in
hand: see `WHAT_IS_TIMED`. The TF2 runners take the batch through
`tf2._convert.as_tensor` (DLPack, no copy of the 64-byte aligned array) and return
`tf2._convert.as_numpy` views (no copy), as the TF1 session feeds an aligned array
and fetches its result without copying.
"""

import numpy as np

__all__ = ["PIPELINES", "VARIANTS", "WHAT_IS_TIMED", "make_images", "make_kernels",
           "make_runner"]

#: Variants, in table order. `tf1_session` is the reference of every check.
VARIANTS = ("tf1_session", "tf2_eager", "tf2_function", "tf2_xla", "tf2_fast", "tf2_fast_window",
            "tf2_fast_parity", "memory_floor")

#: The variants that run the pipeline (all but the memory floor).
PIPELINES = VARIANTS[:-1]

WHAT_IS_TIMED = {
    "tf1_session": "sess.run(output, feed_dict={image read: batch}) on the faithful graph "
                   "built once (legacy_tf1.graph.GraphSession; all 64 conv channels), output "
                   "fetched to NumPy",
    "tf2_eager": "DeconvDemo.stages(batch, execution='eager'), op by op (all 64 channels; "
                 "every stage returned, output kept)",
    "tf2_function": "DeconvDemo.stages(batch), the traced tf.function (all 64 channels; "
                    "every stage returned, output kept)",
    "tf2_xla": "DeconvDemo.stages(batch, execution='xla') (compiled in the warm-up)",
    "tf2_fast": "DeconvDemo.output(batch): tf2_fast_window or tf2_fast_parity, whichever "
                "was measured faster for this shape in the warm-up (fast_path_choice)",
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


class _Variant:
    """A prepared registry runner: `images -> output` with a `close()`.

    A TF2 variant's `demo` is its `tf2.DeconvDemo` (the fast path's choice
    is read from it).
    """

    def __init__(self, variant, kernels):
        from migration_audit.runners import IMAGE, RUNNERS

        self.prepared = RUNNERS[variant].prepare(kernels, names=["output"])
        self.demo = getattr(self.prepared, "demo", None)
        self._image = IMAGE

    def __call__(self, images):
        return self.prepared({self._image: images})["output"]

    def close(self):
        self.prepared.close()


def make_kernels(seed):
    """The kernels every variant uses: the TF2 module's, drawn with `seed`."""
    from tf2.demo import DeconvDemo

    return DeconvDemo(seed=seed).kernels()


def make_runner(variant, images, kernels):
    """Builds one variant; the result maps images to output.

    Args:
        variant: one of `VARIANTS`.
        images: the (N, H, W, 3) float32 batch (the memory floor's size).
        kernels: `{"conv_kernel", "deconv_kernel"}` float32 arrays.

    Returns:
        A callable `runner(images) -> np.ndarray` with a `close()` method.
    """
    if variant == "memory_floor":
        return _MemoryFloor(images)
    return _Variant(variant, kernels)
