"""The audit's `original_script` and `keras_model` witnesses."""

import numpy as np
import pytest

from deconv_io import default_image_path, load_image
from migration_audit import audit, runners


def _kernels():
    rng = np.random.default_rng(11)
    return {"conv_kernel": rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32),
            "deconv_kernel": rng.uniform(-1, 1, (3, 3, 3, 64)).astype(np.float32)}


def test_packaged_image_audit_has_both_witnesses_bit_identical():
    result = audit.run_audit(load_image(default_image_path()), weights=_kernels())
    assert result.passed and result.skipped == {}
    rows = {(c.stage, c.name): c for c in result.comparisons}
    # Bit-identical by construction: the published script builds the same ops
    # (conv2d, max_pool, conv2d_transpose) on the same shapes, pixels and
    # kernels as tf1_session, in a graph session of the same process; its
    # transpose/squeeze/transpose chain only moves values.
    row = rows[("display", "original_script display vs tf1_session output[0]")]
    assert row.bit_identical and row.shape == (750, 500, 3)
    # Bit-identical by construction: Keras's TF backend issues the same ops with
    # the same attributes (tests/test_tf2_keras_model.py) on the same shapes.
    for stage in ("conv1", "pool", "output"):
        assert rows[(stage, "keras_model vs tf1_session")].bit_identical
    np.testing.assert_array_equal(result.witnesses["original_script"]["conv_kernel"],
                                  result.kernels["conv_kernel"])


def test_original_script_is_skipped_where_it_cannot_read_the_image():
    images = np.random.default_rng(0).integers(0, 256, (1, 7, 5, 3)).astype(np.float32)
    result = audit.run_audit(images, seed=0)
    assert "original_script" not in result.witnesses
    assert "[1, 750, 500, 3]" in result.skipped["original_script"]
    original = runners.RUNNERS["original_script"]
    inputs = {"image": np.full((1, 750, 500, 3), 0.5, np.float32)}
    assert "8-bit" in original.cannot_run(inputs)
    with pytest.raises(runners.CannotRun, match="original_script: the script reads 8-bit"):
        original(inputs, _kernels())
    assert not any("original_script" in c.name for c in result.comparisons)
    assert any(c.name == "keras_model vs tf1_session" for c in result.comparisons)
