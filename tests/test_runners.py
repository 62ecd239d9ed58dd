"""The runner registry: every runner runs, gives what it lists, and keeps its claims.

Every registered runner runs on a small image (the published script, which
reads only a 750x500 8-bit image, says why it cannot, and runs on such an
image in one test), and each claim in the registry holds: a bit-identical
one by bytes (each entry states why it holds by construction: the same
kernels on the same shapes in one process and configuration), a bound one
within the pair bound of `migration_audit.bounds`.
"""

import numpy as np
import pytest

from deconv_io import default_image_path, load_image
from legacy_tf1.graph import run_session
from migration_audit import runners
from migration_audit.bounds import error_over_bound
from migration_audit.runners import BIT_IDENTICAL, BOUND, IMAGE, REFERENCE, RUNNERS, TF1

KERNELS = ("conv_kernel", "deconv_kernel")


def _kernels(seed=5):
    # Random values, not the bilinear ones, on the deconv kernel's first three
    # input channels: the fast path reads three conv channels, as with the
    # original's kernel (the parity form's XLA compile grows with that count).
    rng = np.random.default_rng(seed)
    deconv = np.zeros((3, 3, 3, 64), np.float32)
    deconv[..., :3] = rng.uniform(-1, 1, (3, 3, 3, 3))
    return {"conv_kernel": rng.uniform(-0.3, 0.3, (3, 3, 3, 64)).astype(np.float32),
            "deconv_kernel": deconv}


def _run_all(images, kernels):
    inputs = {IMAGE: images}
    results, skipped = {}, {}
    for name, runner in RUNNERS.items():
        why = runner.cannot_run(inputs)
        if why is None:
            results[name] = runner(inputs, kernels)
        else:
            skipped[name] = why
    return results, skipped


def _check_claims(results, images, kernels):
    bounds = None
    checked = 0
    for name, stages in results.items():
        for claim in RUNNERS[name].claims:
            if claim.against not in results:
                continue
            pairs = runners.compared_arrays(stages, results[claim.against])
            assert pairs, (name, claim.against)
            for stage, actual, expected in pairs:
                if claim.kind == BIT_IDENTICAL:
                    # Bit-identical by construction: the entry's reason
                    # (`claim.why`) holds here, one process and configuration.
                    assert actual.shape == expected.shape, (name, claim.against, stage)
                    assert actual.tobytes() == expected.tobytes(), (name, claim.against, stage)
                else:
                    assert claim.kind == BOUND
                    bounds = bounds or runners.precision_bounds(images, kernels)
                    bound = runners.claim_bound(name, claim.against, bounds, stage)
                    ratio, unbounded = error_over_bound(actual, expected, bound)
                    assert ratio <= 1 and unbounded == 0, (name, claim.against, stage, ratio)
                checked += 1
    return checked


@pytest.mark.parametrize("shape", [(1, 7, 5, 3), (2, 1, 1, 3)])
def test_every_runner_gives_its_arrays_and_keeps_its_claims(shape):
    images = np.random.default_rng(1).uniform(0, 255, shape).astype(np.float32)
    kernels = _kernels()
    results, skipped = _run_all(images, kernels)
    assert set(skipped) == {"original_script"}
    assert "[1, 750, 500, 3]" in skipped["original_script"]
    n, h, w, _ = shape
    for name, stages in results.items():
        expected = [k for k in RUNNERS[name].gives if k != "display" or n == 1]
        assert list(stages) == expected, name
        assert stages["output"].shape == (n, 2 * -(-h // 2), 2 * -(-w // 2), 3), name
        dtype = np.float64 if RUNNERS[name].precision == "float64" else np.float32
        assert all(v.dtype == dtype for v in stages.values()), name
    assert _check_claims(results, images, kernels) >= 25


def test_the_original_script_runs_on_the_packaged_image_and_keeps_its_claim():
    images = load_image(default_image_path())[np.newaxis]
    kernels = _kernels()
    inputs = {IMAGE: images}
    results = {name: RUNNERS[name](inputs, kernels) for name in ("original_script", TF1)}
    assert results["original_script"]["display"].shape == (750, 500, 3)
    for name in KERNELS:
        np.testing.assert_array_equal(results["original_script"][name], kernels[name])
    assert _check_claims(results, images, kernels) == 1


def test_every_claim_names_a_registered_runner_and_a_reason():
    for name, runner in RUNNERS.items():
        assert runner.name == name
        for claim in runner.claims:
            assert claim.against in RUNNERS and claim.against != name
            assert claim.kind in (BIT_IDENTICAL, BOUND) and claim.why
    # Every float32 implementation is held against the session; the session
    # and the reference are held to each other through the reference's bound.
    assert all(any(c.against == TF1 for c in r.claims) for n, r in RUNNERS.items()
               if n not in (TF1, REFERENCE))
    assert [c.against for c in RUNNERS[TF1].claims] == [REFERENCE]


def test_tf1_session_draws_seeded_kernels_as_run_session_does():
    images = np.random.default_rng(2).uniform(0, 255, (1, 6, 4, 3)).astype(np.float32)
    prepared = RUNNERS[TF1].prepare(None, seed=3)
    try:
        stages = prepared({IMAGE: images})
        drawn = prepared.variables()
        # Another batch of the same shape is fed to the same graph.
        other = images[:, ::-1].copy()
        again = prepared({IMAGE: other})
    finally:
        prepared.close()
    # The same graph, seed and initializers in one process: the same bytes.
    expected = run_session(images, seed=3)
    for name in KERNELS:
        np.testing.assert_array_equal(drawn[name], expected[name])
    for name in ("conv1", "pool", "output", "display"):
        np.testing.assert_array_equal(stages[name], expected[name])
    np.testing.assert_array_equal(again["output"], run_session(other, seed=3)["output"])


def test_prepare_returns_only_the_named_arrays():
    images = np.ones((1, 3, 3, 3), np.float32)
    for name in (TF1, "tf2_function", "tf2_fast", REFERENCE):
        prepared = RUNNERS[name].prepare(_kernels(), names=["output"])
        try:
            assert list(prepared({IMAGE: images})) == ["output"]
        finally:
            prepared.close()
