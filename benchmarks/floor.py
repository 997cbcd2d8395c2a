"""The floor of the exact fast path: what its FFTs (and wavetable products, and with
--with-products the elementwise work it cannot do without) alone cost.

    .venv/bin/python -m benchmarks.floor
    .venv/bin/python -m benchmarks.floor --pitches grid                # with the wavetable's products
    .venv/bin/python -m benchmarks.floor --with-products               # and the elementwise products
    .venv/bin/python -m benchmarks.floor --render                      # a render's forward only
    .venv/bin/python -m benchmarks.floor --render --event-samples 8192 # with short event buffers

Times, on the machine at hand, every batched FFT and matrix product that one exact fit step
of the fast synth performs (forward and backward, at N = 65536, E = 64; grid pitches add the
products with the W = 512 waves), in the synth's chunks of events (`synth.event_chunks`;
one transform of all 64 events at once runs up to 6 times slower per row here), each
alone and as a median of repeats, and adds them up. Events are made over the samples that
reach the clip (`synth.onset_chunks`), and the convolutions take the excitation over its
envelope's support alone (`synth.envelope_support`), so their lengths (M + S) depend on
the onsets and the envelopes: counted here for onsets evenly spread over the clip and the
direct model's starting envelope (--envelope-width-s 0.005 at --envelope-centre-s 0.005,
S = 1,566 samples); --whole-events counts events made whole (M = L), as the seed model's
are. --with-products adds the products each transform needs and the exact oscillator's read
(`products`). Nothing else a step does (the windows, the reverb, the loss, Adam) is
counted, and each operation is timed alone on inputs in the cache, so a step cannot be
faster than this sum without changing the maths (or the FFT library). With --render, the transforms and product of a
render (the forward pass alone, over event buffers of --event-samples, with the reverb's),
and the render's floor in times real time. Prints one JSON line per operation and a total.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from audiosplat.core.config import PITCH_KINDS
from audiosplat.dsp.oscillator import read_periods
from audiosplat.dsp.spectral_ops import fft_length_at_least
from audiosplat.dsp.wavetable import CYCLE_POINTS
from audiosplat.synth.render import envelope_support, event_chunks, onset_chunks
from benchmarks.common import emit, log, time_repeats

Op = tuple[str, str, tuple[int, ...], int]


def spans(e: int, n: int, length: int, whole: bool, envelope_s: tuple[float, float], sample_rate: int) -> list[tuple[int, int, int]]:
    """(events, samples, excitation samples) of each chunk the convolutions run over:
    events whose onsets are evenly spread over the clip, grouped as `synth.onset_chunks`
    groups them (each made over the samples that reach the clip); with `whole`, over all L
    (as the seed model's fit makes them). Excitation samples: the support of an envelope
    (centre, width) in seconds (`synth.envelope_support`)."""
    centre, width = (torch.tensor([value]) for value in envelope_s)
    chunks = (
        [(rows.stop - rows.start, length) for rows in event_chunks(e, length)] if whole
        else [(len(rows), used) for rows, used in onset_chunks(torch.arange(e) * n // e, n, length)]
    )
    return [(c, m, envelope_support(centre, width, sample_rate, n, m)) for c, m in chunks]


def _conv_length(m: int, s: int) -> int:
    """The transforms' length of a causal convolution of S excitation samples and M kernel samples."""
    return fft_length_at_least(m + s - 1)


def forward_events(length: int, w: int, chunks: list[tuple[int, int]], exact: bool) -> list[Op]:
    """(what, kind, input shape, FFT length) of each transform and product that makes the
    events over buffers of `length` samples, chunk by chunk as the synth makes them: the
    (events, M samples, S samples of excitation) `chunks`, filtered over L and convolved
    over M + S (rounded up to a fast length); kind is rfft, irfft
    or matmul (then the shape is (rows, inner, cols)). Grid pitches mix the W waves of the
    wavetable in one product; exact pitches make no wavetable (their oscillator is
    elementwise work, not counted)."""
    k = length // 2 + 1
    e = sum(c for c, _, _ in chunks)
    return [
        *[op for c, m, s in chunks for op in (
            ("noise band-pass (irfft)", "irfft", (c, 1, k), length),
            ("resonance spectrum (rfft)", "rfft", (c, length), length),
            ("two resonance low-passes (irfft)", "irfft", (c, 2, k), length),
            ("excitation spectrum, M + S (rfft)", "rfft", (c, s), _conv_length(m, s)),
            ("two kernel spectra, M + S (rfft)", "rfft", (c, 2, m), _conv_length(m, s)),
            ("two convolutions, M + S (irfft)", "irfft", (c, 2, _conv_length(m, s) // 2 + 1), _conv_length(m, s)),
        )],
        *([] if exact else [("wavetable product", "matmul", (e, w, length), 0)]),
    ]


def inventory(n: int, w: int, chunks: list[tuple[int, int]], exact: bool) -> list[Op]:
    """`forward_events` over the whole clip (L = N), then the backward pass: one exact step."""
    k = n // 2 + 1
    e = sum(c for c, _, _ in chunks)
    return forward_events(n, w, chunks, exact) + [
        *[op for c, m, s in chunks for op in (
            ("backward: output gradients, M + S (rfft)", "rfft", (c, 2, m), _conv_length(m, s)),
            ("backward: excitation gradient, M + S (irfft)", "irfft", (c, _conv_length(m, s) // 2 + 1), _conv_length(m, s)),
            ("backward: kernel gradients, M + S (irfft)", "irfft", (c, 2, _conv_length(m, s) // 2 + 1), _conv_length(m, s)),
            ("backward: low-pass gradients (rfft)", "rfft", (c, 2, n), n),
            ("backward: resonance gradient (irfft)", "irfft", (c, k), n),
            ("backward: noise-gain gradient (rfft)", "rfft", (c, n), n),
        )],
        *([] if exact else [("backward: wavetable product", "matmul", (e, n, w), 0)]),
    ]


def products(n: int, chunks: list[tuple[int, int, int]], backward: bool, exact: bool) -> list[Op]:
    """The elementwise work one exact step (or, without `backward`, a render) cannot do
    without, each product at its output's shape: the spectra times their gains, the kernels
    times their decay, the convolutions' spectral products, the crossfade and mix, and with
    `backward` the same again for the gradients; for exact pitches, the oscillator's read of
    its periods (`oscillator.read_periods`, forward and with `backward` its backward pass).
    kind is product-cc, -cr or -rr (complex or real operands), or oscillator (shape (E, N),
    length 1 with the backward pass); length is otherwise unused."""
    k = n // 2 + 1
    ops = []
    for c, m, s in chunks:
        kf = _conv_length(m, s) // 2 + 1
        ops += [
            ("noise band product", "product-cr", (c, k), 0),
            ("low-pass products", "product-cr", (c, 2, k), 0),
            ("kernels times decay", "product-rr", (c, 2, m), 0),
            ("convolution products", "product-cc", (c, 2, kf), 0),
            *[("crossfade and mix", "product-rr", (c, m), 0)] * 2,
        ]
        if backward:
            ops += [
                *[("backward: convolution gradient products", "product-cc", (c, 2, kf), 0)] * 2,
                *[("backward: kernel gradients times decay, decay gradient", "product-rr", (c, 2, m), 0)] * 2,
                *[("backward: low-pass gradient products", "product-cc", (c, 2, k), 0)] * 2,
                ("backward: noise-gain gradient product", "product-cc", (c, k), 0),
                *[("backward: crossfade and mix", "product-rr", (c, m), 0)] * 3,
            ]
    if exact:
        ops.append(("exact oscillator's read" + (", forward and backward" if backward else ""), "oscillator",
                    (sum(c for c, _, _ in chunks), n), int(backward)))
    return ops


def _timed_op(kind: str, shape: tuple[int, ...], length: int, sample_rate: int):
    """A function that performs one operation of the inventory on random inputs."""
    if kind == "matmul":
        a, b = torch.randn(shape[0], shape[1]), torch.randn(shape[1], shape[2])
        return lambda: a @ b
    if kind.startswith("product"):
        a, b = (torch.randn(shape, dtype=torch.complex64 if t == "c" else torch.float32) for t in kind[-2:])
        return lambda: a * b
    if kind == "oscillator":
        pitch_hz = (50.0 + 2000.0 * torch.rand(shape[0], dtype=torch.float64)).requires_grad_(bool(length))
        periods = torch.randn(shape[0], CYCLE_POINTS).requires_grad_(bool(length))
        points_per_hz = torch.arange(shape[1], dtype=torch.float64) / sample_rate * CYCLE_POINTS
        probe = torch.randn(shape)
        if not length:
            return lambda: read_periods(pitch_hz, periods, points_per_hz)
        return lambda: torch.autograd.grad(read_periods(pitch_hz, periods, points_per_hz), (pitch_hz, periods), probe)
    if kind == "rfft":
        x = torch.randn(shape)
        return lambda: torch.fft.rfft(x, n=length)
    x = torch.randn(shape, dtype=torch.complex64)
    return lambda: torch.fft.irfft(x, n=length)


def render_inventory(n: int, length: int, w: int, rooms: int, chunks: list[tuple[int, int]], exact: bool) -> list[Op]:
    """A render: `forward_events` over buffers of `length` samples, then the reverb of the R
    room mixes over the clip of N."""
    return forward_events(length, w, chunks, exact) + [
        ("room mixes, 2N (rfft)", "rfft", (rooms, n), 2 * n),
        ("reverb, 2N (irfft)", "irfft", (1, n + 1), 2 * n),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2**16)
    parser.add_argument("--events", type=int, default=64)
    parser.add_argument("--waves", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--render", action="store_true", help="the forward pass of a render instead of a fit step")
    parser.add_argument("--event-samples", type=int, default=None, help="event buffer L of the render (default N)")
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--whole-events", action="store_true", help="a step of the seed model, which makes events whole (2N convolutions)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--envelope-centre-s", type=float, default=0.005, help="the events' envelope centre (the direct model's start)")
    parser.add_argument("--envelope-width-s", type=float, default=0.005, help="the events' envelope width (the direct model's start)")
    parser.add_argument("--with-products", action="store_true",
                        help="add the elementwise work a step or render cannot do without (spectra times gains, convolutions' products, "
                        "the exact oscillator's read)")
    parser.add_argument("--pitches", choices=PITCH_KINDS, default="exact", help="grid pitches add the wavetable's products")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    total = 0.0
    buffer = args.event_samples or args.samples
    envelope_s = (args.envelope_centre_s, args.envelope_width_s)
    chunks = spans(args.events, args.samples, buffer, args.whole_events and not args.render, envelope_s, args.sample_rate)
    exact = args.pitches == "exact"
    ops = (
        render_inventory(args.samples, buffer, args.waves, args.rooms, chunks, exact)
        if args.render else inventory(args.samples, args.waves, chunks, exact)
    ) + (products(buffer, chunks, not args.render, exact) if args.with_products else [])
    for what, kind, shape, length in ops:
        op = _timed_op(kind, shape, length, args.sample_rate)
        median = statistics.median(time_repeats(op, args.repeats, warmup=2))
        total += median
        emit({"benchmark": "floor", "op": what, "kind": kind, "shape": list(shape), "length": length, "median_s": median})
    if not args.render:
        log(f"floor of the exact fast path{' with its products' if args.with_products else ''}: {total:.3f} s per step")
        emit({"benchmark": "floor", "op": "total", "median_s": total, "threads": args.threads})
        return
    x_real_time = args.samples / args.sample_rate / total
    log(f"floor of a render with {buffer}-sample event buffers{' and its products' if args.with_products else ''}: {total:.3f} s, "
        f"{x_real_time:.1f}x real time")
    emit({"benchmark": "render_floor", "op": "total", "median_s": total, "x_real_time": x_real_time, "threads": args.threads,
          "event_samples": buffer})


if __name__ == "__main__":
    main()
