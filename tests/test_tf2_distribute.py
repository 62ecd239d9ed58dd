"""tf2.distribute: the batch path under MirroredStrategy equals the single-device run.

Two logical CPU devices must be configured before TensorFlow initialises its
devices, so the two-replica run happens in a fresh subprocess that saves its
arrays; the comparisons are made here.

Tolerance: the derived rounding bound, never bit identity. Neither oneDNN
nor Eigen promises the same order of float32 sums for another batch size,
another device or another thread pool (Eigen's blocking follows the CPU's
cache sizes): on an AVX2 machine 126 of 179520 `conv1` elements differed
across batch splits. So every stage is held to twice the per-element bound
of `migration_audit.bounds` (two float32 witnesses of the same sums).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_within, float32_bounds
from tf2.demo import DeconvDemo
from tf2.distribute import configure_logical_cpus, make_distributed_demo, make_strategy, \
    run_distributed

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from tf2.distribute import configure_logical_cpus, make_distributed_demo, make_strategy, \\
        run_distributed

    devices = configure_logical_cpus(2)
    strategy = make_strategy()
    demo = make_distributed_demo(strategy, seed=4)
    images = np.random.default_rng(0).uniform(0, 255, (5, 33, 17, 3)).astype(np.float32)
    arrays = {"images": images, "conv_kernel": demo.conv_kernel.numpy(),
              "deconv_kernel": demo.deconv_kernel.numpy()}
    for batch_size in (None, 4):
        for compute in ("stages", "output"):
            result = run_distributed(strategy, demo, images, batch_size=batch_size,
                                     compute=compute)
            for name, value in result.items():
                arrays[f"{batch_size}_{compute}_{name}"] = value
    np.savez(sys.argv[1], **arrays)
    print(strategy.num_replicas_in_sync, " ".join(strategy.extended.worker_devices))
""")


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    out = tmp_path_factory.mktemp("distribute") / "arrays.npz"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(out)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as arrays:
        return proc.stdout.split(), dict(arrays)


def _shards(count, batch_size, replicas=2):
    """How MirroredStrategy splits each global batch: replica 0 first."""
    pieces = []
    for start in range(0, count, batch_size):
        stop = min(count, start + batch_size)
        per = -(-(stop - start) // replicas)
        pieces += [(s, min(stop, s + per)) for s in range(start, stop, per)]
    return pieces


def test_two_replicas_on_two_logical_cpus(two_replicas):
    printed, _ = two_replicas
    assert printed[0] == "2"
    assert [d.rsplit("/", 1)[-1] for d in printed[1:]] == ["device:CPU:0", "device:CPU:1"]


@pytest.mark.parametrize("batch_size", [None, 4])
def test_distributed_equals_single_device(two_replicas, batch_size):
    _, arrays = two_replicas
    images = arrays["images"]
    single = DeconvDemo(conv_kernel=arrays["conv_kernel"], deconv_kernel=arrays["deconv_kernel"])
    whole = {k: v.numpy() for k, v in single.stages(images).items()}
    bounds = float32_bounds(images, arrays["conv_kernel"], arrays["deconv_kernel"])
    for name in ("conv1", "pool"):
        assert_within(arrays[f"{batch_size}_stages_{name}"], whole[name], 2 * bounds[name], name)
    per_replica = _shards(len(images), batch_size or 2)
    for compute, run in (("stages", lambda x: single.stages(x)["output"]),
                         ("output", single.output_window)):
        distributed = arrays[f"{batch_size}_{compute}_output"]
        same_split = np.concatenate([run(images[a:b]).numpy() for a, b in per_replica])
        assert_within(distributed, same_split, 2 * bounds["output"], f"{compute} same split")
        expected = whole["output"] if compute == "stages" else single.output_window(images).numpy()
        assert_within(distributed, expected, 2 * bounds["output"], f"{compute} whole batch")


def test_shards_worked_by_hand():
    # 5 images, global batch 4 over 2 replicas: [0:2] [2:4], then [4:5] and nothing.
    assert _shards(5, 4) == [(0, 2), (2, 4), (4, 5)]
    assert _shards(5, 2) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_one_device_strategy_in_process_is_within_the_bound():
    strategy = make_strategy(["/cpu:0"])
    demo = make_distributed_demo(strategy, seed=2)
    images = np.random.default_rng(1).uniform(0, 255, (3, 7, 5, 3)).astype(np.float32)
    result = run_distributed(strategy, demo, images, batch_size=2)
    single = DeconvDemo(conv_kernel=demo.conv_kernel.numpy(),
                        deconv_kernel=demo.deconv_kernel.numpy())
    bounds = float32_bounds(images, demo.conv_kernel.numpy(), demo.deconv_kernel.numpy())
    for name, value in single.stages(images).items():
        # Batches of 2 and 1 here, of 3 in the single run (module docstring).
        assert_within(result[name], value.numpy(), 2 * bounds[name], name)


def test_logical_cpus_cannot_be_configured_after_initialisation():
    import tensorflow as tf

    tf.constant(1.0)  # devices are initialised by now
    with pytest.raises(RuntimeError, match="configure_logical_cpus must run before "
                                           "TensorFlow initialises its devices"):
        configure_logical_cpus(2)


@pytest.mark.parametrize("kwargs, match", [
    ({"compute": "pool"}, r"Expected 'stages' or 'output'. Received: compute='pool'"),
    ({"batch_size": 0}, r"Expected an int >= 1. Received: batch_size=0"),
    ({"images": np.zeros((2, 3, 3))},
     r"Expected a non-empty \(N, H, W, 3\) array. Received: images.shape=\(2, 3, 3\)"),
])
def test_run_distributed_refuses_bad_arguments(kwargs, match):
    strategy = make_strategy(["/cpu:0"])
    demo = make_distributed_demo(strategy, seed=2)
    kwargs = {"images": np.zeros((2, 3, 3, 3), np.float32), **kwargs}
    with pytest.raises(ValueError, match=match):
        run_distributed(strategy, demo, **kwargs)


def test_configure_logical_cpus_refuses_bad_counts():
    with pytest.raises(ValueError, match=r"Expected an int >= 1. Received: count=0"):
        configure_logical_cpus(0)


def test_docstring_examples():
    import doctest

    import tf2.distribute

    result = doctest.testmod(tf2.distribute)
    assert result.attempted > 0 and result.failed == 0
