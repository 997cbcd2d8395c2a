"""A render's bytes do not depend on torch's thread count (`synth.threads`): a fitted .splat
renders the same float32 samples at any count, in-process or in a process started on one
thread (formats/splat-v1.md §13.6)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from audiosplat.app.api import render_splat
from audiosplat.io.splatfile import read_splat, write_splat
from audiosplat.ops.merge import merge
from audiosplat.synth.threads import RENDER_THREADS, render_threads

THREADS = [1, 2, 3, 5, 8]


def _renders_by_threads(splat, **options) -> dict[int, np.ndarray]:
    """The file's render at each of THREADS, torch's thread count restored afterwards."""
    before = torch.get_num_threads()
    try:
        renders = {}
        for n in THREADS:
            torch.set_num_threads(n)
            renders[n] = render_splat(splat, **options)
    finally:
        torch.set_num_threads(before)
    return renders


def _assert_same_bytes(renders: dict[int, np.ndarray]) -> None:
    first = renders[THREADS[0]]
    assert np.isfinite(first).all() and np.abs(first).max() > 0
    differing = {n: float(np.mean(r != first)) for n, r in renders.items() if r.tobytes() != first.tobytes()}
    assert not differing, f"fraction of samples that differ from the {THREADS[0]}-thread render: {differing}"


@pytest.mark.parametrize("fixture", ["fitted_splat", "fitted_grid_splat", "fitted_seed_splat"])
def test_a_fitted_file_renders_the_same_bytes_on_any_thread_count(fixture, request):
    splat = read_splat(request.getfixturevalue(fixture))
    _assert_same_bytes(_renders_by_threads(splat))
    _assert_same_bytes(_renders_by_threads(splat, stems=True))


def test_a_long_file_renders_the_same_bytes_on_any_thread_count(fitted_splat):
    splat = read_splat(fitted_splat)
    quiet = dataclasses.replace(splat, noise_bed=splat.noise_bed.muted())  # a merge keeps one bed
    long = merge(splat, quiet, 0.25)  # three windows, rendered one by one
    assert long.config.total_length > 2 * long.config.n_samples
    _assert_same_bytes(_renders_by_threads(long))


def _render_digest_script(path) -> str:
    return (
        "import hashlib, sys, torch; from audiosplat.app.api import render_splat; "
        "from audiosplat.io.splatfile import read_splat; "
        f"print(torch.get_num_threads(), hashlib.sha256(render_splat(read_splat({str(path)!r})).tobytes()).hexdigest())"
    )


def test_a_process_started_on_one_thread_renders_the_same_bytes(fitted_splat):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", _render_digest_script(fitted_splat)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    threads, digest = result.stdout.split()
    assert threads == "1"
    assert digest == hashlib.sha256(render_splat(read_splat(fitted_splat)).tobytes()).hexdigest()


@pytest.mark.parametrize("threads", [1, RENDER_THREADS, 3])
def test_the_callers_thread_count_is_restored(threads, fitted_splat):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with render_threads():
            assert torch.get_num_threads() == RENDER_THREADS
        render_splat(read_splat(fitted_splat))
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_a_block_inside_another_keeps_the_outer_count():
    """The outermost caller decides: the energies a writer makes on one thread stay on one
    thread through the synth's own blocks (which a forked child needs)."""
    before = torch.get_num_threads()
    with render_threads(1):
        with render_threads(3):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with render_threads(3):
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == before


def test_a_forked_child_writes_a_file(fitted_splat, tmp_path):
    """Writing computes each event's energy with torch; a child forked from a process whose
    thread pool has run still writes, the same bytes as its parent."""
    splat = read_splat(fitted_splat)
    torch.fft.rfft(torch.randn(8, 2**16))  # the parent's pool has run
    parent, child = tmp_path / "parent.splat", tmp_path / "child.splat"
    write_splat(parent, splat)
    pid = os.fork()
    if pid == 0:  # the child: write, then leave at once
        try:
            write_splat(child, splat)
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung in write_splat")
        time.sleep(0.05)
    assert child.read_bytes() == parent.read_bytes()
