"""`deconv_runtime.allocator`: freed memory is reused, so large buffers stop faulting in pages."""

import subprocess
import sys
import textwrap

import pytest

from deconv_runtime import allocator

pytestmark = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's mallopt only")

# Allocates (malloc, as TensorFlow's CPU allocator) and fills a 72 MB buffer
# (a 16 x 750 x 500 x 3 float32 batch) six times in a worker thread, as
# TensorFlow's kernels allocate outputs, and reports the minor page faults of
# the last five against the 4 KiB pages they touch. (NumPy is not used: it
# asks for huge pages, which fault 512 times less often.)
_PROBE = textwrap.dedent("""
    import ctypes, resource, sys, threading
    from deconv_runtime.allocator import keep_freed_memory
    applied = keep_freed_memory() if sys.argv[1] == "keep" else False
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    NBYTES = 16 * 750 * 500 * 3 * 4
    counts = []
    def work():
        for i in range(6):
            before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            buf = libc.malloc(NBYTES)
            ctypes.memset(buf, 1, NBYTES)
            libc.free(buf)
            if i:
                counts.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    print(applied, sum(counts), 5 * NBYTES // 4096)
""")


def _probe(mode):
    result = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True,
                            text=True, check=True)
    applied, faults, pages = result.stdout.split()
    return applied == "True", int(faults), int(pages)


def test_kept_memory_is_reused_without_page_faults():
    applied, faults, pages = _probe("keep")
    assert applied
    # Once the first buffer's pages are in the heap, later ones reuse them.
    assert faults < 0.05 * pages, (faults, pages)


def test_default_malloc_faults_in_every_page_of_a_large_buffer():
    # What `keep_freed_memory` avoids: a fresh mapping per buffer.
    applied, faults, pages = _probe("default")
    assert not applied
    assert faults > 0.9 * pages, (faults, pages)


def test_environment_variable_turns_it_off(monkeypatch):
    monkeypatch.setenv("DECONV_KEEP_FREED_MEMORY", "0")
    assert allocator.keep_freed_memory() is False


@pytest.mark.parametrize("limit", [0, 2**20 - 1, 2**31, 1.5, True, "1G"])
def test_limit_out_of_range_is_refused(limit):
    with pytest.raises(ValueError, match=r"Invalid value for argument `limit`\. Expected an "
                                         r"int in \[2\*\*20, 2\*\*31\)\. Received: limit="):
        allocator.keep_freed_memory(limit)
