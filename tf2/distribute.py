"""The batch path under `tf.distribute`: one `DeconvDemo`, mirrored over devices.

`MirroredStrategy` keeps one copy of the two kernel variables on each
device and splits every global batch among them (replica 0 takes the first
images); each replica runs the very `tf.function` the single-device path
runs (`DeconvDemo.stages` or the fast `DeconvDemo.output`), and the
per-replica results are concatenated back in batch order on the host.

The same code scales without change:

- several GPUs: `make_strategy()` with no devices mirrors over every
  visible GPU (`MirroredStrategy`'s default), one replica each;
- several machines: `tf.distribute.MultiWorkerMirroredStrategy()`, each
  worker started with a `TF_CONFIG` naming the cluster and its own index,
  takes the place of `make_strategy()` (`run_distributed` accepts any
  strategy; each worker then reads its share of the dataset).

On a CPU-only machine the test splits the one physical CPU into logical
devices (`configure_logical_cpus`), which must happen before TensorFlow
initialises its devices, i.e. in a fresh process.

Example:
>>> strategy = make_strategy(["/cpu:0"])
>>> demo = make_distributed_demo(strategy, seed=1)
>>> run_distributed(strategy, demo, np.ones((3, 7, 5, 3), np.float32))["output"].shape
(3, 8, 6, 3)
"""

import numpy as np

from deconv_io.checks import check_images_shape, check_int

__all__ = ["configure_logical_cpus", "make_distributed_demo", "make_strategy", "run_distributed"]


def configure_logical_cpus(count=2):
    """Splits the first physical CPU into `count` logical devices.

    Must be called before TensorFlow initialises its devices (before any
    op runs or any device is listed as logical).

    Args:
        count: logical CPU devices wanted, >= 1.

    Returns:
        The logical CPU device names, e.g. `['/device:CPU:0', '/device:CPU:1']`.

    Raises:
        ValueError: `count` < 1.
        RuntimeError: TensorFlow's devices are already initialised.
    """
    import tensorflow as tf

    count = check_int("count", count, 1)
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as e:
        raise RuntimeError(
            "configure_logical_cpus must run before TensorFlow initialises its devices "
            f"(in a fresh process, before any op). TensorFlow said: {e}"
        ) from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(devices=None):
    """A `tf.distribute.MirroredStrategy` over `devices`.

    Args:
        devices: device names; None: every GPU if there is one (the
            strategy's own default), else every logical CPU.

    Returns:
        The strategy.
    """
    import tensorflow as tf

    if devices is None and not tf.config.list_logical_devices("GPU"):
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def make_distributed_demo(strategy, **kwargs):
    """Builds a `tf2.DeconvDemo` whose kernels are mirrored by `strategy`.

    Args:
        strategy: a `tf.distribute.Strategy`.
        **kwargs: `DeconvDemo`'s (`seed`, `conv_kernel`, `deconv_kernel`).

    Returns:
        The module, its variables created under `strategy.scope()`.
    """
    from tf2.demo import DeconvDemo

    with strategy.scope():
        return DeconvDemo(**kwargs)


def run_distributed(strategy, demo, images, batch_size=None, compute="stages"):
    """Runs the demo over a batch of same-sized images, split among replicas.

    Args:
        strategy: a `tf.distribute.Strategy` (e.g. `make_strategy()`).
        demo: a `DeconvDemo` built by `make_distributed_demo(strategy)`.
        images: `(N, H, W, 3)` array-like (cast to float32).
        batch_size: the global batch of one step, split among the replicas
            (a last, smaller batch leaves some replicas fewer or no images);
            None: one image per replica.
        compute: `"stages"` (every stage, `DeconvDemo.stages`) or
            `"output"` (the output-only path, `DeconvDemo.output_window`:
            the traced one, as a replica runs inside a `tf.function`).

    Returns:
        A dict of NumPy arrays in the images' order: `{"conv1", "pool",
        "output"}`, or `{"output"}` for `compute="output"`.

    Raises:
        ValueError: a bad `images`, `batch_size` or `compute`.
    """
    import tensorflow as tf

    if compute not in ("stages", "output"):
        raise ValueError(
            f"Invalid value for argument `compute`. Expected 'stages' or 'output'. "
            f"Received: compute={compute!r}"
        )
    images = np.asarray(images, dtype=np.float32)
    check_images_shape(images.shape)
    if batch_size is None:
        batch_size = strategy.num_replicas_in_sync
    batch_size = check_int("batch_size", batch_size, 1)

    def replica_fn(batch):
        if compute == "output":
            return {"output": demo.output_window(batch)}
        return demo.traced_stages(batch)

    @tf.function(reduce_retracing=True)
    def step(batch):
        return strategy.run(replica_fn, args=(batch,))

    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    pieces = {}
    for batch in strategy.experimental_distribute_dataset(dataset):
        for name, value in step(batch).items():
            # Replica order is batch order: replica 0 holds the first images.
            # A replica left without images (a last, short batch) returns an
            # empty result whose other dimensions are not meaningful.
            pieces.setdefault(name, []).extend(
                t.numpy() for t in strategy.experimental_local_results(value)
                if t.shape[0] != 0)
    return {name: np.concatenate(parts) for name, parts in pieces.items()}
