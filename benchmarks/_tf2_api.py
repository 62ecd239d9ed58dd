"""Every call the benchmarks make into `tf2`, in one place.

Keeping the names the benchmarks use (the module, the methods of
`DeconvDemo`, the zero-copy helpers) in one place means a rename is one edit.
"""


def new_demo(**kwargs):
    """A `tf2.DeconvDemo(**kwargs)` (`seed=` or `conv_kernel=`/`deconv_kernel=`)."""
    from tf2 import DeconvDemo

    return DeconvDemo(**kwargs)


def demo_kernels(demo):
    """`{"conv_kernel", "deconv_kernel"}` of a demo module, as NumPy arrays."""
    return {"conv_kernel": demo.conv_kernel.numpy(), "deconv_kernel": demo.deconv_kernel.numpy()}


def full_output_function(demo):
    """`images -> output` by the full pipeline (all 64 channels), op by op."""
    from tf2 import demo_stages

    def full_output(images):
        return demo_stages(images, demo.conv_kernel, demo.deconv_kernel)["output"]

    return full_output


def images_spec():
    """The input signature of the demo's `tf.function`s: float32 `[None, None, None, 3]`."""
    from tf2.demo import IMAGES_SPEC

    return IMAGES_SPEC


def fast_call(demo, variant):
    """The demo's output-only method a `tf2_fast*` variant times."""
    return {"tf2_fast": demo.fast_path, "tf2_fast_window": demo.output_window,
            "tf2_fast_parity": demo.output_parity}[variant]


def fast_path_pending(demo, shape):
    """Whether the measured fast path has yet to choose for `shape`."""
    path = demo.fast_path
    return path.forced is None and tuple(shape) not in path.choices


def fast_path_choice(demo, shape):
    """The implementation the fast path runs for `shape` (`"window"` or `"parity"`)."""
    return demo.fast_path.choice_for(shape)


def zero_copy():
    """`(as_tensor, as_numpy)`: NumPy -> tensor by DLPack, tensor -> read-only view."""
    from tf2.demo import as_numpy, as_tensor

    return as_tensor, as_numpy
