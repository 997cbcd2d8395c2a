"""The floor of the exact fast path: what its FFTs and wavetable products alone cost.

    .venv/bin/python -m benchmarks.floor

Times, on the machine at hand, every batched FFT and matrix product that one exact fit step
of the fast synth performs (forward and backward, at N = 65536, E = 64, W = 512), each
alone and as a median of repeats, and adds them up. Nothing else a step does (elementwise
work, the loss, Adam) is counted, so a step cannot be faster than this sum without
changing the maths (or the FFT library). Prints one JSON line per operation and a total.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.common import emit, log, time_repeats


def inventory(e: int, n: int, w: int) -> list[tuple[str, str, tuple[int, ...], int]]:
    """(what, kind, input shape, FFT length) of each transform in one step, forward then
    backward; kind is rfft, irfft or matmul (then the shape is (rows, inner, cols))."""
    k, k2 = n // 2 + 1, n + 1
    return [
        ("noise band-pass (irfft)", "irfft", (e, 1, k), n),
        ("resonance spectrum (rfft)", "rfft", (e, n), n),
        ("two resonance low-passes (irfft)", "irfft", (e, 2, k), n),
        ("excitation spectrum, 2N (rfft)", "rfft", (e, n), 2 * n),
        ("two kernel spectra, 2N (rfft)", "rfft", (e, 2, n), 2 * n),
        ("two convolutions, 2N (irfft)", "irfft", (e, 2, k2), 2 * n),
        ("backward: output gradients, 2N (rfft)", "rfft", (e, 2, n), 2 * n),
        ("backward: excitation gradient, 2N (irfft)", "irfft", (e, k2), 2 * n),
        ("backward: kernel gradients, 2N (irfft)", "irfft", (e, 2, k2), 2 * n),
        ("backward: low-pass gradients (rfft)", "rfft", (e, 2, n), n),
        ("backward: resonance gradient (irfft)", "irfft", (e, k), n),
        ("backward: noise-gain gradient (rfft)", "rfft", (e, n), n),
        ("wavetable product", "matmul", (e, w, n), 0),
        ("backward: wavetable product", "matmul", (e, n, w), 0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2**16)
    parser.add_argument("--events", type=int, default=64)
    parser.add_argument("--waves", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    total = 0.0
    for what, kind, shape, length in inventory(args.events, args.samples, args.waves):
        if kind == "matmul":
            a, b = torch.randn(shape[0], shape[1]), torch.randn(shape[1], shape[2])
            op = lambda a=a, b=b: a @ b  # noqa: E731
        elif kind == "rfft":
            x = torch.randn(shape)
            op = lambda x=x, length=length: torch.fft.rfft(x, n=length)  # noqa: E731
        else:
            x = torch.randn(shape, dtype=torch.complex64)
            op = lambda x=x, length=length: torch.fft.irfft(x, n=length)  # noqa: E731
        median = statistics.median(time_repeats(op, args.repeats, warmup=2))
        total += median
        emit({"benchmark": "floor", "op": what, "kind": kind, "shape": list(shape), "length": length, "median_s": median})
    log(f"floor of the exact fast path: {total:.3f} s per step")
    emit({"benchmark": "floor", "op": "total", "median_s": total, "threads": args.threads})


if __name__ == "__main__":
    main()
