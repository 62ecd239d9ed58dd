"""`load_weights` / `save_weights` on good and bad weights files.

A weights file is an `.npz` holding exactly `conv_kernel` and
`deconv_kernel`, each float32 [3, 3, 3, 64], finite, nothing pickled. Every
way to get that wrong is one `InputError` with the message pinned here.
"""

import io
import re
import warnings
import zipfile

import numpy as np
import pytest

from deconv_io import KERNEL_SHAPE, WEIGHT_NAMES, InputError, load_weights, save_weights
from deconv_io.weights import validate_kernel

EXACTLY = re.escape("must hold exactly ['conv_kernel', 'deconv_kernel']. ")


def kernels(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(KERNEL_SHAPE).astype(np.float32) for n in WEIGHT_NAMES}


def npz(tmp_path, name="w.npz", **arrays):
    path = tmp_path / name
    with open(path, "wb") as f:  # a file object: np.savez keeps the name as is
        np.savez(f, **arrays)
    return path


def npy_member(array=None, header=None, cut=0):
    """The bytes of one .npy member, optionally with a forged header or cut short."""
    buffer = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(b"\x00" * 64)
    data = buffer.getvalue()
    return data[:len(data) - cut]


def zip_of(tmp_path, members, name="w.npz", compression=zipfile.ZIP_STORED):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression) as archive:
        for member, data in members:
            archive.writestr(member, data)
    return path


# --- round trips --------------------------------------------------------------

def test_save_then_load_is_bit_identical(tmp_path):
    expected = kernels()
    path = tmp_path / "weights.npz"
    save_weights(path, **expected)
    loaded = load_weights(path)
    assert sorted(loaded) == sorted(WEIGHT_NAMES)
    for name in WEIGHT_NAMES:
        assert loaded[name].dtype == np.float32 and loaded[name].flags.c_contiguous
        np.testing.assert_array_equal(expected[name], loaded[name])


def test_save_weights_keeps_the_exact_file_name(tmp_path):
    path = tmp_path / "weights.bin"
    save_weights(path, **kernels())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]
    np.testing.assert_array_equal(kernels()["conv_kernel"], load_weights(path)["conv_kernel"])


def test_compressed_npz_is_accepted(tmp_path):
    path = tmp_path / "w.npz"
    np.savez_compressed(path, **kernels(1))
    np.testing.assert_array_equal(kernels(1)["deconv_kernel"], load_weights(path)["deconv_kernel"])


def test_big_endian_and_fortran_order_float32_are_accepted(tmp_path):
    # Both are float32 values; they come back native and C-ordered, equal.
    expected = kernels(2)
    path = npz(tmp_path, conv_kernel=expected["conv_kernel"].astype(">f4"),
               deconv_kernel=np.asfortranarray(expected["deconv_kernel"]))
    loaded = load_weights(path)
    for name in WEIGHT_NAMES:
        assert loaded[name].dtype == np.dtype("=f4") and loaded[name].flags.c_contiguous
        np.testing.assert_array_equal(expected[name], loaded[name])


def test_save_weights_refuses_what_load_would_refuse_and_writes_nothing(tmp_path):
    path = tmp_path / "w.npz"
    bad = kernels()
    bad["conv_kernel"] = bad["conv_kernel"].astype(np.float64)
    with pytest.raises(InputError, match=r"^Weights array `conv_kernel` must be float32\. "
                                         r"Received: dtype=float64$"):
        save_weights(path, **bad)
    assert list(tmp_path.iterdir()) == []


# --- not a weights file at all --------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"^Weights file not found: .*nope\.npz$"):
        load_weights(tmp_path / "nope.npz")


def test_directory(tmp_path):
    with pytest.raises(InputError, match=r"^Expected a weights file, got a directory: "):
        load_weights(tmp_path)


@pytest.mark.parametrize("content", [b"", b"conv_kernel = [1, 2, 3]\n", b"PK"])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"^Not an \.npz weights file \(expected a zip "
                                         r"archive\): .*w\.npz$"):
        load_weights(path)


def test_npy_file(tmp_path):
    path = tmp_path / "w.npz"
    with open(path, "wb") as f:
        np.save(f, kernels()["conv_kernel"])
    with pytest.raises(InputError, match=r"^Not an \.npz weights file \(expected a zip "
                                         r"archive\): .*w\.npz is a single \.npy array$"):
        load_weights(path)


# --- a zip, but not the right arrays ------------------------------------------------

def test_pickled_object_array(tmp_path):
    path = npz(tmp_path, conv_kernel=np.array([{"a": 1}, None], dtype=object),
               deconv_kernel=kernels()["deconv_kernel"])
    with pytest.raises(InputError, match=r"^Weights file .*w\.npz holds pickled objects, "
                                         r"which are refused$"):
        load_weights(path)


def test_missing_array(tmp_path):
    path = npz(tmp_path, conv_kernel=kernels()["conv_kernel"])
    with pytest.raises(InputError, match=rf"^Weights file .*w\.npz {EXACTLY}"
                                         r"Missing: \['deconv_kernel'\]; unexpected: \[\]$"):
        load_weights(path)


def test_extra_array_such_as_a_dump_file(tmp_path):
    path = npz(tmp_path, image=np.zeros((1, 2, 2, 3), np.float32), **kernels())
    with pytest.raises(InputError, match=rf"^Weights file .*w\.npz {EXACTLY}"
                                         r"Missing: \[\]; unexpected: \['image'\]$"):
        load_weights(path)


def test_member_that_is_not_npy(tmp_path):
    members = [(n + ".npy", npy_member(a)) for n, a in kernels().items()] + [("README", b"hi")]
    with pytest.raises(InputError, match=rf"{EXACTLY}Missing: \[\]; unexpected: \['README'\]$"):
        load_weights(zip_of(tmp_path, members))


def test_members_without_npy_suffix_are_read_as_np_load_reads_them(tmp_path):
    expected = kernels(3)
    members = [(n, npy_member(a)) for n, a in expected.items()]
    loaded = load_weights(zip_of(tmp_path, members))
    np.testing.assert_array_equal(expected["conv_kernel"], loaded["conv_kernel"])


@pytest.mark.parametrize("again", ["conv_kernel.npy", "conv_kernel"])
def test_array_stored_twice(tmp_path, again):
    k = kernels()
    members = [("conv_kernel.npy", npy_member(k["conv_kernel"])),
               ("deconv_kernel.npy", npy_member(k["deconv_kernel"])),
               (again, npy_member(-k["conv_kernel"]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        path = zip_of(tmp_path, members)
    with pytest.raises(InputError, match=r"^Weights file .*w\.npz holds an array twice$"):
        load_weights(path)


@pytest.mark.parametrize("shape", [(3, 3, 3, 3), (3, 3, 64, 3), (3, 3, 3, 64, 1), ()])
def test_wrong_shape(tmp_path, shape):
    path = npz(tmp_path, conv_kernel=kernels()["conv_kernel"],
               deconv_kernel=np.zeros(shape, np.float32))
    with pytest.raises(InputError, match=re.escape(
            f"Weights array `deconv_kernel` must have shape (3, 3, 3, 64). "
            f"Received: shape={shape}")):
        load_weights(path)


def test_huge_declared_shape_is_refused_before_reading(tmp_path):
    # A 100 KB zip entry claiming a 40 GB array: refused from its header.
    header = {"descr": "<f4", "fortran_order": False, "shape": (100000, 100000)}
    members = [(n + ".npy", npy_member(header=header)) for n in WEIGHT_NAMES]
    with pytest.raises(InputError, match=re.escape(
            "Weights array `conv_kernel` must have shape (3, 3, 3, 64). "
            "Received: shape=(100000, 100000)")):
        load_weights(zip_of(tmp_path, members))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, np.uint8,
                                   np.complex64, np.bool_])
def test_wrong_dtype(tmp_path, dtype):
    path = npz(tmp_path, conv_kernel=np.ones(KERNEL_SHAPE, dtype),
               deconv_kernel=kernels()["deconv_kernel"])
    with pytest.raises(InputError, match=rf"^Weights array `conv_kernel` must be float32\. "
                                         rf"Received: dtype={np.dtype(dtype)}$"):
        load_weights(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path, bad):
    k = kernels()
    k["deconv_kernel"][2, 1, 0, 63] = bad
    with pytest.raises(InputError, match=r"^Weights array `deconv_kernel` contains NaN or "
                                         r"Inf values$"):
        load_weights(npz(tmp_path, **k))


# --- damaged archives ----------------------------------------------------------------

VALID_NPZ = r"^Not a valid \.npz weights file: .*w\.npz \("


def test_zip_magic_then_garbage(tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match=VALID_NPZ + r"File is not a zip file\)$"):
        load_weights(path)


def test_truncated_zip(tmp_path):
    data = npz(tmp_path, "good.npz", **kernels()).read_bytes()
    path = tmp_path / "w.npz"
    path.write_bytes(data[: len(data) // 2])  # the central directory is gone
    with pytest.raises(InputError, match=VALID_NPZ + r"File is not a zip file\)$"):
        load_weights(path)


def test_flipped_byte_in_stored_array_fails_its_crc(tmp_path):
    data = bytearray(npz(tmp_path, "good.npz", **kernels()).read_bytes())
    data[1000] ^= 0x01  # inside conv_kernel's float data
    path = tmp_path / "w.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=VALID_NPZ + r"Bad CRC-32 for file 'conv_kernel\.npy'\)$"):
        load_weights(path)


def test_corrupt_deflate_stream(tmp_path):
    good = tmp_path / "good.npz"
    np.savez_compressed(good, **kernels())
    data = bytearray(good.read_bytes())
    data[200:240] = b"\xff" * 40  # inside conv_kernel's deflate stream
    path = tmp_path / "w.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=VALID_NPZ):
        load_weights(path)


def test_truncated_member(tmp_path):
    k = kernels()
    members = [("conv_kernel.npy", npy_member(k["conv_kernel"], cut=10)),
               ("deconv_kernel.npy", npy_member(k["deconv_kernel"]))]
    with pytest.raises(InputError, match=VALID_NPZ + r"array `conv_kernel` is truncated: "
                                         r"6902 of 6912 bytes\)$"):
        load_weights(zip_of(tmp_path, members))


def test_member_with_a_bad_npy_header(tmp_path):
    members = [(n + ".npy", b"\x93NUMPY\x01\x00\x10\x00{not a dict}    \n") for n in WEIGHT_NAMES]
    with pytest.raises(InputError, match=VALID_NPZ + r"Cannot parse header"):
        load_weights(zip_of(tmp_path, members))


def test_member_with_unbalanced_brackets_in_its_header(tmp_path):
    # numpy's header parser raises tokenize.TokenError here, not ValueError
    # (found by the weights fuzz test).
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3, 3, 64}"
    header += b" " * (118 - len(header)) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    members = [(n + ".npy", member) for n in WEIGHT_NAMES]
    with pytest.raises(InputError, match=VALID_NPZ + r"\('EOF in multi-line statement'"):
        load_weights(zip_of(tmp_path, members))


def _patch_central_directory(data, offset_in_entry, value):
    """Rewrites a 2-byte field of every central-directory entry."""
    data = bytearray(data)
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        data[start + offset_in_entry:start + offset_in_entry + 2] = value.to_bytes(2, "little")
        start += 4
    return bytes(data)


def test_unsupported_compression_method(tmp_path):
    # Method 99 (AES): zipfile raises NotImplementedError, not BadZipFile.
    data = _patch_central_directory(npz(tmp_path, "good.npz", **kernels()).read_bytes(), 10, 99)
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    with pytest.raises(InputError, match=VALID_NPZ + r"That compression method is not "
                                         r"supported\)$"):
        load_weights(path)


def test_encrypted_member(tmp_path):
    # General-purpose flag bit 0: zipfile raises RuntimeError asking for a password.
    data = _patch_central_directory(npz(tmp_path, "good.npz", **kernels()).read_bytes(), 8, 1)
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    with pytest.raises(InputError, match=VALID_NPZ + r"File .* is encrypted, password required"):
        load_weights(path)


# --- validate_kernel on its own ----------------------------------------------------

def test_validate_kernel_other_shape():
    kernel = np.zeros((4, 4, 2, 2), np.float32)
    assert validate_kernel("k", kernel, shape=(4, 4, 2, 2)).shape == (4, 4, 2, 2)
    with pytest.raises(InputError, match=re.escape("Weights array `k` must have shape "
                                                   "(3, 3, 3, 64). Received: shape=(4, 4, 2, 2)")):
        validate_kernel("k", kernel)
