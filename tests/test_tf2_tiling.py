"""tf2.tiling: the halo derived, checked against the reference, tiled == untiled.

How the halo is verified rather than trusted:
1. The float64 reference's dependency pattern: a NaN in one image row
   reaches exactly the output rows the derivation says (NaN propagates
   through every product, even by a zero weight, and through np.maximum).
2. Integer-valued images and kernels: every float32 sum is exact (every
   partial sum an integer below 2**24), so a tiled run must equal the
   untiled one bit for bit on any machine, whatever the grouping of the
   sums (bit identity by construction); any halo or alignment error shows
   as a whole-number error.
   One row less on either side, or an odd crop origin, changes the result.
3. Real-valued data: tiled vs untiled to float32 rounding, and vs the
   float64 reference.

Tolerance with real data: a crop is another input shape, and neither
oneDNN nor Eigen promises the same order of float32 sums for another shape,
so tiled vs untiled is held to twice the derived per-element bound of
`migration_audit.bounds` (two float32 witnesses), and against the float64
reference to the float32 plus the float64 bound.
"""

import numpy as np
import pytest

from deconv_io import InputError
from migration_audit import reference
from tests.conftest import assert_matches_reference, assert_within, float32_bounds
from tf2.demo import DeconvDemo
from deconv_io.memory_model import parse_bytes, stage_bytes
from tf2.halo import HALO_AFTER, HALO_BEFORE, halo_window, plan_tiles, tile_count
from tf2.memory_plan import MAX_AUTO_TILE, plan_memory
from tf2.tiling import run_tiled



# The tiles' `output` runs the window implementation here: with `auto`, each
# tile shape met twice would compile the parity implementation (XLA) and
# time both, which costs far more than these small tiles; which
# implementation is chosen is `tf2.fast_path`'s business. The parity
# implementation on tiles: `test_parity_tiles_equal_untiled_bit_for_bit`.


@pytest.fixture(scope="module")
def demo():
    return DeconvDemo(seed=3, fast_path="window")


def _integer_kernels():
    rng = np.random.default_rng(5)
    conv = rng.integers(-2, 3, (3, 3, 3, 64)).astype(np.float32)
    deconv = np.zeros((3, 3, 3, 64), np.float32)
    deconv[..., :5] = rng.integers(-2, 3, (3, 3, 3, 5))  # reads 5 channels
    return {"conv_kernel": conv, "deconv_kernel": deconv}


@pytest.fixture(scope="module")
def integer_demo():
    """Small-integer kernels: with integer images every float32 sum is exact."""
    return DeconvDemo(**_integer_kernels(), fast_path="window")


def _integer_images(shape, seed=0):
    # |conv| <= 27 * 15 * 2, |output| <= 4 * 5 * 810 * 2: far below 2**24.
    return np.random.default_rng(seed).integers(0, 16, shape).astype(np.float32)


def _real_images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


# --- the halo, from the op definitions ---------------------------------------

def _rows_needed(y, size):
    """Image rows output row y depends on, worked by hand (module docstring of
    tf2.tiling): even y = 2a reads pool a-1 and a, i.e. conv 2a-2..2a+1, i.e.
    image 2a-3..2a+2; odd y = 2a+1 reads pool a only: image 2a-1..2a+2."""
    lo, hi = (y - 3, y + 3) if y % 2 == 0 else (y - 2, y + 2)
    return set(range(max(lo, 0), min(hi, size)))


@pytest.mark.parametrize("size", [1, 2, 7, 8, 11])
def test_reference_dependencies_are_the_derived_halo(size):
    rng = np.random.default_rng(size)
    conv = rng.standard_normal((3, 3, 3, 4))
    deconv = rng.standard_normal((3, 3, 3, 4))
    for row in range(size):
        image = rng.uniform(0, 1, (1, size, 3, 3))
        image[0, row, 1, 0] = np.nan
        out = reference.demo_stages(image, conv, deconv)["output"][0]
        reached = {y for y in range(out.shape[0]) if np.isnan(out[y]).any()}
        expected = {y for y in range(out.shape[0]) if row in _rows_needed(y, size)}
        assert expected == reached, f"image row {row} of {size}"


@pytest.mark.parametrize("size", [1, 2, 7, 8, 37])
def test_halo_window_covers_exactly_what_is_needed_plus_the_alignment_row(size):
    out_size = 2 * -(-size // 2)
    for start in range(0, out_size, 2):
        for stop in range(start + 1, out_size + 1):
            first, last = halo_window(start, stop, size)
            needed = set().union(*(_rows_needed(y, size) for y in range(start, stop)))
            assert first % 2 == 0
            assert needed <= set(range(first, last))
            # Beyond what is needed: at most the one row that makes the
            # origin even.
            extra = set(range(first, last)) - needed
            assert extra <= {first}, (start, stop, extra)


def test_halo_window_worked_examples():
    assert (HALO_BEFORE, HALO_AFTER) == (4, 1)  # the derivation in tf2/halo.py
    assert halo_window(8, 16, 37) == (4, 17)  # [2a-4, 2b+1) for a=4, b=8
    assert halo_window(0, 38, 37) == (0, 37)  # clipped to the image
    assert halo_window(2, 4, 37) == (0, 5)  # 2a-4 = -2 clipped to 0


@pytest.mark.parametrize("start, stop", [(1, 4), (0, 0), (4, 2), (0, 40), (-2, 4)])
def test_halo_window_refuses_bad_ranges(start, stop):
    with pytest.raises(ValueError, match=r"Expected an even start and 0 <= start < stop <= 38"):
        halo_window(start, stop, 37)


def _crop_output(demo, image, first, last):
    """The output of rows [first, last) of `image`, in the crop's own rows."""
    return demo.stages(image[:, first:last])["output"].numpy()


def test_one_row_less_of_halo_changes_the_result(integer_demo):
    image = _integer_images((1, 24, 6, 3))
    whole = integer_demo.stages(image)["output"].numpy()
    start, stop = 8, 16  # a = 4, b = 8: image rows [5, 17) needed, crop [4, 17)
    exact = _crop_output(integer_demo, image, 4, 17)
    np.testing.assert_array_equal(whole[:, 8:16], exact[:, 4:12])
    # Without row 2a-3 = 5 (crop from 6, even): output row 8 changes.
    short_before = _crop_output(integer_demo, image, 6, 17)
    np.testing.assert_array_equal(whole[:, 9:16], short_before[:, 3:10])
    assert not np.array_equal(whole[:, 8], short_before[:, 2])
    # Without row 2b = 16: conv row 15 and pool row 7 change, so output
    # rows 14 (pool 6 and 7) and 15 (pool 7) change.
    short_after = _crop_output(integer_demo, image, 4, 16)
    np.testing.assert_array_equal(whole[:, 8:14], short_after[:, 4:10])
    assert not np.array_equal(whole[:, 15], short_after[:, 11])
    # The crop from the odd row 5 holds every row needed, but its pooling
    # windows pair rows (5, 6), (7, 8)... instead of (4, 5), (6, 7)...
    odd = _crop_output(integer_demo, image, 5, 17)
    assert not np.array_equal(whole[:, 8:16], odd[:, 3:11])


# --- plan_tiles ---------------------------------------------------------------

@pytest.mark.parametrize("height, width, tile", [
    (37, 53, 8), (1, 9, 2), (9, 1, 2), (5, 5, 64), (37, 53, (4, 6)), (2, 2, 2)])
def test_tiles_cover_the_output_once_from_even_origins(height, width, tile):
    out = np.zeros((2 * -(-height // 2), 2 * -(-width // 2)), int)
    tiles = plan_tiles(height, width, tile)
    for t in tiles:
        (y0, y1), (x0, x1) = t.out_rows, t.out_cols
        out[y0:y1, x0:x1] += 1
        assert y0 % 2 == 0 and x0 % 2 == 0
        assert t.in_rows == halo_window(y0, y1, height)
        assert t.in_cols == halo_window(x0, x1, width)
    np.testing.assert_array_equal(np.ones_like(out), out)
    assert tile_count(height, width, tile) == len(tiles)


@pytest.mark.parametrize("tile", [7, 0, 1, -2, True, 2.0, (2, 3)])
def test_plan_tiles_refuses_bad_tiles(tile):
    with pytest.raises(ValueError, match=r"Expected an even int >= 2 \(or a pair of them\)"):
        plan_tiles(10, 10, tile)


# --- tiled == untiled -----------------------------------------------------------

TILED_CASES = [
    ((1, 37, 53, 3), 8),  # odd sides: a short last tile and an odd last pool row
    ((2, 37, 53, 3), (4, 6)),  # batch > 1, rectangular tiles
    ((1, 1, 17, 3), 2),  # 1xN
    ((1, 17, 1, 3), 2),  # Nx1
    ((1, 1, 1, 3), 2),
    ((1, 5, 7, 3), 64),  # tile larger than the image: one tile, no halo
    ((1, 12, 10, 3), 2),  # smallest tile, even sides
]


@pytest.mark.parametrize("compute", ["output", "stages"])
@pytest.mark.parametrize("shape, tile", TILED_CASES)
def test_tiled_equals_untiled_bit_for_bit_in_exact_arithmetic(integer_demo, shape, tile, compute):
    image = _integer_images(shape)
    untiled = integer_demo.stages(image)["output"].numpy()
    np.testing.assert_array_equal(untiled, run_tiled(integer_demo, image, tile, compute=compute))


def test_parity_tiles_equal_untiled_bit_for_bit():
    demo = DeconvDemo(**_integer_kernels(), fast_path="parity")
    image = _integer_images((1, 7, 16, 3))  # two tiles (two shapes: two compiles), odd height
    untiled = demo.stages(image)["output"].numpy()
    np.testing.assert_array_equal(untiled, run_tiled(demo, image, 8, compute="output"))


@pytest.mark.parametrize("compute", ["output", "stages"])
@pytest.mark.parametrize("shape, tile", TILED_CASES)
def test_tiled_equals_untiled_real_data(demo, shape, tile, compute):
    image = _real_images(shape)
    untiled = (demo.output_window(image) if compute == "output"
               else demo.stages(image)["output"]).numpy()
    tiled = run_tiled(demo, image, tile, compute=compute)
    bound = 2 * float32_bounds(image, demo.conv_kernel, demo.deconv_kernel)["output"]
    assert_within(tiled, untiled, bound, f"{compute} tiled vs untiled")


def test_tiled_matches_float64_reference_on_the_packaged_image_size(demo):
    image = _real_images((1, 750, 500, 3))
    tiled = run_tiled(demo, image, 128)
    # The fast path drops the unread channels; the reference keeps all 64.
    assert_matches_reference(image, demo.conv_kernel, demo.deconv_kernel, {"output": tiled})


def test_run_tiled_fills_a_given_array(demo):
    image = _real_images((1, 9, 7, 3))
    out = np.full((1, 10, 8, 3), np.nan, np.float32)
    assert run_tiled(demo, image, 4, out=out) is out
    assert np.isfinite(out).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"compute": "fast"}, r"Expected 'output' or 'stages'. Received: compute='fast'"),
    ({"out": np.zeros((1, 9, 7, 3), np.float32)},
     r"Expected a float32 array of shape \(1, 10, 8, 3\). Received: shape=\(1, 9, 7, 3\)"),
    ({"tile": 3}, r"Expected an even int >= 2"),
])
def test_run_tiled_refuses_bad_arguments(demo, kwargs, match):
    kwargs = {"tile": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        run_tiled(demo, _real_images((1, 9, 7, 3)), **kwargs)


def test_run_tiled_refuses_bad_images(demo):
    with pytest.raises(ValueError, match=r"Expected a non-empty \(N, H, W, 3\) array. "
                                         r"Received: images.shape=\(9, 7, 3\)"):
        run_tiled(demo, _real_images((9, 7, 3)), 4)


# --- memory planning ------------------------------------------------------------

def test_stage_bytes_worked_by_hand():
    # 7x5 -> pool 4x3, output 8x6; float32.
    assert stage_bytes(2, 7, 5) == {"image": 2 * 7 * 5 * 3 * 4, "conv1": 2 * 7 * 5 * 64 * 4,
                                    "pool": 2 * 4 * 3 * 64 * 4, "output": 2 * 8 * 6 * 3 * 4}


def test_small_image_runs_untiled_large_one_tiled_within_budget():
    budget = 8 * 2**30
    small = plan_memory(1, 750, 500, budget=budget)
    assert not small.tiled and small.estimate <= budget
    large = plan_memory(1, 10000, 10000, budget=budget)
    assert large.tiled and large.untiled > budget >= large.estimate
    assert large.tile == (MAX_AUTO_TILE, MAX_AUTO_TILE)
    tighter = plan_memory(1, 10000, 10000, budget=int(4.5 * 2**30))
    assert tighter.tiled and tighter.tile[0] < MAX_AUTO_TILE
    assert tighter.estimate <= 4.5 * 2**30 and tighter.tile[0] % 2 == 0


def test_given_tile_is_used_when_it_fits():
    plan = plan_memory(1, 100, 100, tile=(8, 16), budget=8 * 2**30)
    assert plan.tile == (8, 16)


def test_image_that_cannot_fit_even_tiled_is_refused():
    # 30000 x 30000: input 10.8 GB + output 10.8 GB > 16 GiB.
    with pytest.raises(InputError, match=r"image 1x30000x30000x3 cannot fit in the memory "
                                         r"budget of 17.2 GB even tiled: its input \(10.8 GB\)"):
        plan_memory(1, 30000, 30000, budget=16 * 2**30)


def test_tile_too_large_for_the_budget_is_refused():
    with pytest.raises(InputError, match=r"in 8000x8000 tiles needs about .* more than the "
                                         r"memory budget .* use a smaller --tile"):
        plan_memory(1, 10000, 10000, tile=8000, budget=8 * 2**30)


@pytest.mark.parametrize("text, expected", [
    ("4G", 4 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", 3 * 2**29), ("100", 100),
    ("2kb", 2048), (" 1T ", 2**40)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["4Q", "", "G", "-1G", "0", "0.1"])
def test_parse_bytes_refuses(text):
    with pytest.raises(InputError, match=r"--max-memory: expected a size"):
        parse_bytes(text)


# --- the command line --------------------------------------------------------

@pytest.fixture(scope="module")
def odd_png(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("tiling") / "odd.png"
    pixels = np.random.default_rng(2).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_cli_tile_dumps_image_kernels_output_equal_to_untiled(odd_png, tmp_path, capsys):
    from tf2.cli import main

    tiled, untiled = tmp_path / "tiled.npz", tmp_path / "untiled.npz"
    assert main([str(odd_png), "--seed", "1", "--no-show", "--tile", "8",
                 "--dump", str(tiled)]) == 0
    captured = capsys.readouterr()
    assert "in 35 tiles of 8x8" in captured.out
    assert "holds image, conv_kernel, deconv_kernel and output only" in captured.err
    assert main([str(odd_png), "--seed", "1", "--no-show", "--dump", str(untiled)]) == 0
    with np.load(tiled) as t, np.load(untiled) as u:
        assert t.files == ["image", "conv_kernel", "deconv_kernel", "output"]
        for name in ("image", "conv_kernel", "deconv_kernel"):
            np.testing.assert_array_equal(u[name], t[name])
        # Tiles run the fast path, untiled the full one: other sums' orders.
        bound = 2 * float32_bounds(u["image"], u["conv_kernel"], u["deconv_kernel"])["output"]
        assert_within(t["output"], u["output"], bound, "tiled vs untiled dump")


def test_cli_tiles_automatically_above_the_budget(odd_png, tmp_path, capsys):
    from tf2.cli import main

    # Untiled: 1 GiB runtime + 700 B/px * 1961 px > 1.0001 GiB; tiled fits.
    assert main([str(odd_png), "--no-show", "--max-memory", str(2**30 + 600_000)]) == 0
    assert "tiles of" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["--tile", "7"], "argument --tile: expected an even int >= 2"),
    (["--max-memory", "1M"], "image 1x37x53x3 cannot fit in the memory budget of 1.0 MB"),
    (["--max-memory", "4Q"], "--max-memory: expected a size such as 4G"),
    (["--tile", "8", "--max-memory", "1G"], "in 8x8 tiles needs about"),
])
def test_cli_refuses_before_any_work(odd_png, tmp_path, capsys, argv, match):
    from tf2.cli import main

    dump = tmp_path / "out.npz"
    assert main([str(odd_png), "--no-show", "--dump", str(dump), *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1
    assert not dump.exists()


def test_cli_tiling_flags_are_for_one_image(odd_png, tmp_path, capsys):
    from tf2.cli import main

    assert main([str(odd_png), "--output-dir", str(tmp_path / "o"), "--tile", "8"]) == 2
    assert "--tile: only for a single image" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["tf2.tiling", "tf2.halo", "tf2.memory_plan"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
