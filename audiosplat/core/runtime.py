"""Process-wide settings for long-running numeric work on the CPU."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

DEVICES = ("auto", "cpu", "cuda")  # auto: CUDA when present, else the CPU

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Ask glibc to serve large blocks from its heap and keep freed memory for reuse.

    By default glibc maps every block over ~32 MiB fresh from the kernel and unmaps it on
    free, so each fit step page-faults in (and the kernel zeroes) its ~1.5 GiB of
    temporaries again, which costs a step much of its time. Returns whether the
    setting was applied (only on Linux with glibc). Affects the whole process, so only
    entry points (the CLI, benchmarks) call it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


def configure_for_fitting() -> None:
    """Settings for a process that fits or renders on the CPU (see `keep_freed_memory`).

    Denormals are deliberately not flushed to zero: torch sets that per thread, so worker
    threads made earlier would still keep them and results would depend on which thread
    computed which chunk; renders must be identical every time.
    """
    keep_freed_memory()
