"""The intra-op thread count a render runs at, so that its bytes do not depend on torch's.

Torch cuts an elementwise kernel over a large tensor into one equal part per thread; each
part runs vectorised up to a scalar tail. Some kernels round differently in the two paths
(the complex product of the reverb's and the convolutions' spectra, and the rank-one update
that overlap-adds events, where one path fuses a multiply and an add), so the values at
the parts' seams, and every sample that an FFT mixes them into, change by an ulp with the
number of threads. Running a render's kernels at one fixed count puts the seams in the
same places whatever `torch.set_num_threads` or OMP_NUM_THREADS say.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Two: the count a render ran at by default on a two-core machine, so the bytes of those
# renders stand, and one thread would make a render slower there.
RENDER_THREADS = 2


_open = threading.local()  # whether this thread is inside a render_threads block


@contextmanager
def render_threads(n_threads: int = RENDER_THREADS) -> Iterator[None]:
    """Run torch's CPU kernels on `n_threads` intra-op threads inside the block, then
    restore the count. A block inside another keeps the outer block's count: the outermost
    caller decides. Torch's count is process-wide: other threads that start torch work
    meanwhile take it too. Kernels on a GPU are unaffected."""
    if getattr(_open, "inside", False):
        yield
        return
    before = torch.get_num_threads()
    _open.inside = True
    try:
        if before != n_threads:
            torch.set_num_threads(n_threads)
        yield
    finally:
        _open.inside = False
        if before != n_threads:
            torch.set_num_threads(before)
