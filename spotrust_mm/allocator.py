"""Let the C allocator reuse large freed blocks instead of returning them
to the system.

glibc's ``malloc`` serves a block larger than its mmap threshold (at most
32 MiB by default) with a fresh ``mmap`` and unmaps it when freed, so
every such tensor the CPU allocates costs one page fault per 4 KiB on
first touch. MC inference allocates the same large tensors for every
chunk of samples and every window: on a 12-MP photo keeping them took
the time from 113 s to 90 s (docs/benchmarks.md, campaign speed). Raising
the thresholds keeps freed blocks in the heap, where the next window
reuses them. The results are unchanged (only where memory comes from
changes); the process keeps up to ``limit`` bytes of freed memory.
"""
import ctypes
import ctypes.util
import sys

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Serve blocks below ``limit`` bytes from the heap and keep up to
    ``2 * limit`` freed bytes there (glibc ``mallopt``), for the rest of
    the process.

    Args:
        limit (int): The mmap threshold in bytes. Defaults to 1 GiB.

    Returns:
        bool: Whether it was applied: False off Linux, or with a C library
        other than glibc (e.g. musl), where nothing changes.
    """
    if not sys.platform.startswith('linux'):
        return False
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    limit = min(int(limit), 2**30)
    # the mmap threshold first (a glibc that caps it refuses it and
    # changes nothing), then trimming, which stays at 128 KiB otherwise:
    # setting either turns glibc's dynamic thresholds off
    return bool(mallopt(M_MMAP_THRESHOLD, limit)) and bool(
        mallopt(M_TRIM_THRESHOLD, 2 * limit - 1))
