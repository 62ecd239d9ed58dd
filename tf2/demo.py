"""The original demo as a TF2 `tf.Module`: conv2d -> max pool -> conv2d_transpose.

`DeconvDemo` owns the two kernels and dispatches; the math lives in one
module per implementation:

- `tf2._full.demo_stages`: every stage (the full path);
- `tf2._window.demo_output`: the `output` stage alone from the conv
  channels the deconv kernel reads (TensorFlow's conv ops, traced once);
- `tf2._parity.demo_output_xla`: the same by three XLA kernels on
  parity-split planes (compiled per input shape);
- `tf2.fast_path.FastPath`: which of the last two `output` runs, measured.

Differences from the original (see MIGRATION.md):

- The image is an input, not a `tf.Variable`: the original made the image a
  trainable global variable, so it was initialised, trained and checkpointed
  beside the kernels. Here only `conv_kernel` and `deconv_kernel` are
  variables.
- Any batch and any image size work (the original reshaped to a hard-coded
  `[1, 750, 500, 3]`); the output is `(N, 2*ceil(H/2), 2*ceil(W/2), 3)`.
- `output` is 4-D, batch first; the original's transpose/squeeze/transpose
  chain (which is `output[0]` for batch 1 and breaks for batch > 1) is left
  to the caller (`output[0]`).
"""

import numpy as np
import tensorflow as tf

from deconv_io.checks import check_images_shape
from deconv_io.weights import KERNEL_SHAPE, validate_kernel
from tf2._full import IMAGES_SPEC, demo_stages
from tf2._parity import demo_output_xla
from tf2._window import demo_output
from tf2.fast_path import FastPath, forced_from_environment
from tf2.kernels import bilinear_kernel, glorot_uniform

__all__ = ["DeconvDemo", "EXECUTIONS"]

#: How `DeconvDemo.stages` / `.output` run: op by op, as a traced
#: `tf.function`, or compiled with XLA.
EXECUTIONS = ("eager", "function", "xla")


def _check_execution(execution):
    if execution not in EXECUTIONS:
        raise ValueError(
            f"Invalid value for argument `execution`. Expected one of {list(EXECUTIONS)}. "
            f"Received: execution={execution!r}"
        )


def _as_images(images):
    """`images` as a float32 tensor, checked to be `(N, H, W, 3)` with H, W >= 1."""
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.float32:
        images = tf.cast(images, tf.float32)
    check_images_shape(images.shape if images.shape.rank is not None else (), empty_batch=True)
    return images


def _kernel_value(name, value):
    """A kernel given as an array or tensor, validated as float32 [3, 3, 3, 64]."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    return validate_kernel(name, np.asarray(value), KERNEL_SHAPE)



class DeconvDemo(tf.Module):
    """The original demo's two kernels and its pipeline, in TF2.

    `conv_kernel` `[3, 3, 3, 64]` is drawn Glorot (Xavier) uniform in
    `__init__`, as the original's `tf.contrib.layers.xavier_initializer()`.
    The global seed (`tf.random.set_seed`) and `DeterministicRandomTestTool`
    govern that draw. Under the tool it equals TF1's `get_variable` draw bit
    for bit; a global seed N does not give TF1's `set_random_seed(N)` draw,
    as graph and eager mode derive op seeds differently (MIGRATION.md,
    pitfall 5). `deconv_kernel` `[3, 3, 3, 64]` is the original's bilinear
    filter, `bilinear_kernel(3, 3, mode="fcn", in_channels=64)`, its
    asymmetric `[0.25, 0.75, 0.75]` taps kept.

    The image is an input, not a variable: the original's `tf.Variable`
    image (trainable, in every checkpoint) was a quirk, fixed here.

    Two questions, one argument each:

    - what: `stages(images)` returns every stage, `output(images)` the
      `output` stage alone (only the conv channels the deconv kernel reads);
      `demo(images)` is `stages(images)`;
    - how: `execution="function"` (the default: `tf.function`s traced once
      for any batch and size), `"eager"` (op by op) or `"xla"` (compiled).

    `output(images)` runs `fast_path`, the implementation measured fastest
    for the input shape (`tf2.fast_path`): `"window"` (`output_window`, a
    traced `tf.function` of `demo_output`) or `"parity"` (`output_parity`,
    `demo_output_xla`'s XLA kernels); `output(images, execution="xla")`
    always runs `"parity"`, `execution="eager"` runs `demo_output` op by op.

    Args:
        seed: op-level seed of the Glorot draw (`None`: the global seed, as
            the original, which set none).
        conv_kernel: optional float32 `[3, 3, 3, 64]` to use instead.
        deconv_kernel: optional float32 `[3, 3, 3, 64]` to use instead.
        fast_path: `"auto"` (measure per input shape), `"window"` or
            `"parity"` (`"xla"` is accepted for `"parity"`); None reads
            `DECONV_FAST_PATH` (default `auto`).
        name: module name.

    Attributes:
        fast_path: the `tf2.fast_path.FastPath` that `output` runs.
        traced_stages: the traced `tf.function` behind `stages` (what
            `tf2.export` serves).
        output_window: the traced `tf.function` of the window implementation.

    Raises:
        deconv_io.InputError: a given kernel has the wrong dtype, shape or
            non-finite values.
        ValueError: `fast_path` (or `DECONV_FAST_PATH`) names no
            implementation.

    Example:
    >>> demo = DeconvDemo(seed=1)
    >>> demo(tf.ones([2, 7, 5, 3]))["output"].shape
    TensorShape([2, 8, 6, 3])
    >>> demo.output(tf.ones([2, 7, 5, 3]), execution="eager").shape
    TensorShape([2, 8, 6, 3])
    """

    def __init__(self, seed=None, conv_kernel=None, deconv_kernel=None, fast_path=None,
                 name=None):
        super().__init__(name=name)
        forced = forced_from_environment() if fast_path is None else (
            None if fast_path == "auto" else fast_path)
        self.fast_path = FastPath(
            {"window": self.output_window, "parity": self.output_parity}, forced)
        if conv_kernel is None:
            conv_value = glorot_uniform(KERNEL_SHAPE, seed=seed, dtype=tf.float32)
        else:
            conv_value = _kernel_value("conv_kernel", conv_kernel)
        if deconv_kernel is None:
            deconv_value = bilinear_kernel(3, 3, mode="fcn", in_channels=KERNEL_SHAPE[3])
        else:
            deconv_value = _kernel_value("deconv_kernel", deconv_kernel)
        with self.name_scope:
            self.conv_kernel = tf.Variable(conv_value, name="conv_kernel")
            self.deconv_kernel = tf.Variable(deconv_value, name="deconv_kernel")

    def set_kernels(self, conv_kernel=None, deconv_kernel=None):
        """Validates and assigns new kernel values (either or both).

        Both are checked before either is assigned, so a bad one changes
        nothing. No re-trace follows: the traced functions read the
        variables, and the output-only paths pick their channels from the
        values on each call.

        Args:
            conv_kernel: float32 `[3, 3, 3, 64]`, or None to keep it.
            deconv_kernel: float32 `[3, 3, 3, 64]`, or None to keep it.

        Raises:
            deconv_io.InputError: wrong dtype (anything but float32), shape,
                or NaN/Inf values.

        Example:
        >>> demo = DeconvDemo(seed=1)
        >>> demo.set_kernels(deconv_kernel=np.zeros((3, 3, 3, 64), np.float32))
        >>> float(tf.reduce_max(demo.output(tf.ones([1, 4, 4, 3]))))
        0.0
        """
        new = {}
        if conv_kernel is not None:
            new["conv_kernel"] = _kernel_value("conv_kernel", conv_kernel)
        if deconv_kernel is not None:
            new["deconv_kernel"] = _kernel_value("deconv_kernel", deconv_kernel)
        for name, value in new.items():
            getattr(self, name).assign(value)

    def kernels(self):
        """The two kernels as NumPy arrays: `{"conv_kernel", "deconv_kernel"}`.

        Example:
        >>> DeconvDemo(seed=1).kernels()["deconv_kernel"].shape
        (3, 3, 3, 64)
        """
        return {"conv_kernel": self.conv_kernel.numpy(),
                "deconv_kernel": self.deconv_kernel.numpy()}

    def stages(self, images, execution="function"):
        """Runs the demo and returns every stage.

        Args:
            images: array-like `(N, H, W, 3)`, any real dtype (cast to
                float32, as the original's `tf.Variable(images,
                dtype=tf.float32)`).
            execution: `"function"` (traced once), `"eager"` or `"xla"`
                (XLA fuses and reorders the float32 sums: equal to
                `"function"` within the derived rounding bound).

        Returns:
            A dict `{"conv1", "pool", "output"}` of float32 tensors.

        Raises:
            ValueError: a bad `execution`, or images not `(N, H, W, 3)`
                with H, W >= 1.
        """
        return self._run(images, execution, {
            "eager": lambda x: demo_stages(x, self.conv_kernel, self.deconv_kernel),
            "function": self.traced_stages,
            "xla": self._stages_xla,
        })

    def output(self, images, execution="function"):
        """Runs the demo and returns the `output` stage alone.

        Only the conv channels the deconv kernel reads are computed; the
        result equals `stages(images)["output"]` within twice the derived
        rounding bound of `migration_audit.bounds` (bit for bit with a dense
        kernel under `"function"` and `"eager"`).

        Args:
            images: array-like `(N, H, W, 3)`, any real dtype (cast to float32).
            execution: `"function"` (`fast_path`: the implementation measured
                fastest for this shape), `"eager"` (`demo_output` op by op)
                or `"xla"` (`output_parity`).

        Returns:
            The float32 `output`, `(N, 2*ceil(H/2), 2*ceil(W/2), 3)`.

        Raises:
            ValueError: as `stages`.
        """
        return self._run(images, execution, {
            "eager": lambda x: demo_output(x, self.conv_kernel, self.deconv_kernel),
            "function": self.fast_path,
            "xla": self.output_parity,
        })

    def __call__(self, images, execution="function"):
        """`stages(images, execution)`: every stage, as a dict."""
        return self.stages(images, execution=execution)

    @staticmethod
    def _run(images, execution, runners):
        """Checks `execution` and `images`, then runs `runners[execution]` on them."""
        _check_execution(execution)
        return runners[execution](_as_images(images))

    @tf.function(input_signature=[IMAGES_SPEC])
    def traced_stages(self, images):
        """Every stage, a `tf.function` traced once for any batch and size."""
        return demo_stages(images, self.conv_kernel, self.deconv_kernel)

    @tf.function(input_signature=[IMAGES_SPEC], jit_compile=True)
    def _stages_xla(self, images):
        # One trace; one XLA compile per input shape. The output-only paths'
        # channel count is data-dependent, which XLA's static shapes cannot
        # express: `output_parity` selects the channels outside XLA instead.
        return demo_stages(images, self.conv_kernel, self.deconv_kernel)

    @tf.function(input_signature=[IMAGES_SPEC])
    def output_window(self, images):
        """`output` by `demo_output` (the fast path's `"window"`), traced once."""
        return demo_output(images, self.conv_kernel, self.deconv_kernel)

    def output_parity(self, images):
        """`output` by `demo_output_xla` (the fast path's `"parity"`), compiled per shape."""
        return demo_output_xla(images, self.conv_kernel, self.deconv_kernel)
