"""Process-wide settings for long-running numeric work on the CPU."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Ask glibc to serve large blocks from its heap and keep freed memory for reuse.

    By default glibc maps every block over ~32 MiB fresh from the kernel and unmaps it on
    free, so each fit step page-faults in (and the kernel zeroes) its ~1.5 GiB of
    temporaries again: on 2 cores that doubled the time of a step. Returns whether the
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


def map_on_threads(fn: Callable, items: Iterable) -> list:
    """[fn(item) for item in items], on as many threads as torch uses. For independent
    items whose work lets go of the GIL (numpy's and torch's kernels do); the results are
    the same as one thread's."""
    items = list(items)
    workers = max(1, min(len(items), torch.get_num_threads()))
    if workers == 1:
        return [fn(item) for item in items]
    # torch's grad and inference modes are per thread: the workers take the caller's, so
    # that they may write into tensors the caller made under torch.inference_mode
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def in_callers_mode(item):
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return fn(item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(in_callers_mode, items))
