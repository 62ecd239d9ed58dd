"""tf2.export: a SavedModel round trip computes the very same numbers.

The reloaded graph runs the same ops on the same kernel values and shapes as
the module it came from, so every comparison is bit-identical.
"""

import numpy as np
import pytest
import tensorflow as tf

from deconv_io import InputError
from tf2.demo import DeconvDemo
from tf2.export import OUTPUT_SIGNATURE, export_saved_model, load_saved_model

SIZES = [(2, 7, 5, 3), (1, 33, 17, 3)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    demo = DeconvDemo(seed=5)
    path = export_saved_model(demo, tmp_path_factory.mktemp("export") / "demo")
    return demo, path, load_saved_model(path)


def _images(shape):
    return np.random.default_rng(1).uniform(0, 255, shape).astype(np.float32)


def test_signatures_take_any_size_images(exported):
    _, _, loaded = exported
    assert sorted(loaded.signatures) == [OUTPUT_SIGNATURE, "serving_default"]
    for name, outputs in [("serving_default", ["conv1", "output", "pool"]),
                          (OUTPUT_SIGNATURE, ["output"])]:
        signature = loaded.signatures[name]
        _, inputs = signature.structured_input_signature
        assert list(inputs) == ["images"]
        assert inputs["images"].shape.as_list() == [None, None, None, 3]
        assert sorted(signature.structured_outputs) == outputs


@pytest.mark.parametrize("shape", SIZES)
def test_reload_gives_bit_identical_stages(exported, shape):
    demo, _, loaded = exported
    images = _images(shape)
    expected = demo.stages(images)
    served = loaded.signatures["serving_default"](images=images)
    method = loaded.stages(images)
    for name in ("conv1", "pool", "output"):
        np.testing.assert_array_equal(expected[name], served[name])
        np.testing.assert_array_equal(expected[name], method[name])


@pytest.mark.parametrize("shape", SIZES)
def test_reload_gives_bit_identical_fast_output(exported, shape):
    demo, _, loaded = exported
    images = _images(shape)
    expected = demo.output_window(images)
    np.testing.assert_array_equal(expected, loaded.signatures[OUTPUT_SIGNATURE](images=images)["output"])
    np.testing.assert_array_equal(expected, loaded.output(images))


def test_reload_keeps_the_kernels_and_no_image_variable(exported):
    # Quirk fixed: the original's image was a variable, so it was saved too.
    demo, path, loaded = exported
    np.testing.assert_array_equal(demo.conv_kernel.numpy(), loaded.conv_kernel.numpy())
    np.testing.assert_array_equal(demo.deconv_kernel.numpy(), loaded.deconv_kernel.numpy())
    saved = [name for name, _ in tf.train.list_variables(str(path / "variables" / "variables"))]
    assert sorted(saved) == ["_CHECKPOINTABLE_OBJECT_GRAPH",
                             "conv_kernel/.ATTRIBUTES/VARIABLE_VALUE",
                             "deconv_kernel/.ATTRIBUTES/VARIABLE_VALUE"]


def test_export_refuses_an_existing_path_and_leaves_it(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        export_saved_model(DeconvDemo(seed=1), target)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert (target / "keep.txt").read_text() == "mine"


def test_export_overwrite_replaces_and_leaves_no_temporary_folder(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    demo = DeconvDemo(seed=9)
    export_saved_model(demo, target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert not (target / "old.txt").exists()
    np.testing.assert_array_equal(demo.conv_kernel.numpy(),
                                  load_saved_model(target).conv_kernel.numpy())


def test_export_refuses_something_else_than_a_demo(tmp_path):
    with pytest.raises(ValueError, match="Expected a tf2.DeconvDemo"):
        export_saved_model(object(), tmp_path / "m")


def test_load_refuses_a_folder_without_a_saved_model(tmp_path):
    with pytest.raises(InputError, match="Not a SavedModel directory"):
        load_saved_model(tmp_path)
