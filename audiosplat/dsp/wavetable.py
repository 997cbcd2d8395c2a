"""The fixed wavetable the resonances are mixed from (method.md §4.1)."""

from __future__ import annotations

import functools
import math

import torch

from audiosplat.core.config import HIGHEST_MIDI, LOWEST_MIDI, WAVE_KINDS, WAVE_SHAPES  # noqa: F401 - the grid's span, re-exported

SHAPES = WAVE_SHAPES
CYCLE_POINTS = 8192  # one period of a band-limited wave, read out by linear interpolation
PITCH_CHUNK = 16


def midi_to_hz(midi: torch.Tensor) -> torch.Tensor:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: torch.Tensor) -> torch.Tensor:
    return 69.0 + 12.0 * torch.log2(hz / 440.0)


def wave_pitches_hz(n_pitches: int) -> torch.Tensor:
    """(n_pitches,) float64 pitches, MIDI notes evenly spaced from 21 (27.5 Hz) to 106 (3729 Hz)."""
    return midi_to_hz(torch.linspace(LOWEST_MIDI, HIGHEST_MIDI, n_pitches, dtype=torch.float64))


def make_wavetable(
    n_pitches: int, n_samples: int, sample_rate: int, kind: str = "naive", rows: torch.Tensor | None = None
) -> torch.Tensor:
    """Unit-amplitude waves, phase 0 at sample 0, all rising through zero like a sine.

    The phase (cycles mod 1) is computed in float64, so that it stays exact over thousands
    of cycles, then the four shapes are made from it in float32. `kind` "naive" is
    method.md's: the ideal shapes sampled, whose harmonics above Nyquist fold back as
    inharmonic aliases (between a 1 kHz saw's harmonics, only 12.5 dB less energy than on
    them); "band-limited" keeps only the harmonics below Nyquist (`band_limited_cycles`).

    Args:
        rows: optional int64 row indices (see Returns): only those waves are made, in that
            order (a render needs only the rows its events use).

    Returns:
        (4 * n_pitches, n_samples) float32: rows are n_pitches saws, then squares, triangles
        and sines, each block in the order of `wave_pitches_hz`; or (len(rows), n_samples).
    """
    if kind not in WAVE_KINDS:
        raise ValueError(f"unknown wave kind '{kind}' (choose {' or '.join(WAVE_KINDS)})")
    chosen = torch.arange(4 * n_pitches) if rows is None else rows.cpu()
    pitch_index, shape_index = chosen % n_pitches, chosen // n_pitches
    pitches, wave_pitch = torch.unique(pitch_index, return_inverse=True)  # each pitch's phase once
    t_s = torch.arange(n_samples, dtype=torch.float64) / sample_rate
    pitches_hz = wave_pitches_hz(n_pitches)[pitches]
    table = torch.empty(len(chosen), n_samples, dtype=torch.float32)
    if kind == "band-limited":
        points_per_hz = t_s * CYCLE_POINTS
        # a few pitches at a time: their periods' spectra are 16 bytes a point and their
        # read-out positions 12 bytes a sample each
        for first in range(0, len(pitches), PITCH_CHUNK):
            count = min(PITCH_CHUNK, len(pitches) - first)
            periods = band_limited_cycles(pitches_hz[first : first + count], sample_rate)
            index, frac = cycle_positions(pitches_hz[first : first + count], points_per_hz, periods.shape[-1])
            frac = frac.float()
            for shape in range(len(SHAPES)):
                picked = torch.nonzero((wave_pitch >= first) & (wave_pitch < first + count) & (shape_index == shape))[:, 0]
                if len(picked):
                    local = wave_pitch[picked] - first
                    # when every pitch of the chunk is wanted in order, no rows need copying
                    rows = slice(None) if torch.equal(local, torch.arange(count)) else local
                    waves = (periods[shape][rows], index[rows], frac[rows])
                    span = table[int(picked[0]) : int(picked[-1]) + 1]
                    if len(span) == len(picked):  # picked ascends: a run of rows, written in place
                        _read_cycles(*waves, out=span)
                    else:
                        table[picked] = _read_cycles(*waves)
        return table
    phase = torch.remainder(pitches_hz[:, None] * t_s[None, :], 1.0).to(torch.float32)
    for shape in range(len(SHAPES)):
        picked = torch.nonzero(shape_index == shape)[:, 0]
        if len(picked):
            table[picked] = _shape_wave(shape, phase[wave_pitch[picked]])
    return table


def _shape_wave(shape: int, phase: torch.Tensor) -> torch.Tensor:
    """Waves of one shape (an index into SHAPES) from their phases in cycles: (..., N) -> (..., N)."""
    if shape == 0:  # saw
        return torch.remainder(phase + 0.5, 1.0).mul_(2.0).sub_(1.0)
    if shape == 1:  # square
        return torch.where(phase < 0.5, 1.0, -1.0)
    if shape == 2:  # triangle
        return torch.remainder(phase + 0.25, 1.0).sub_(0.5).abs_().mul_(-4.0).add_(1.0)
    return torch.sin(phase * (2.0 * math.pi))


def band_limited_cycles(pitches_hz: torch.Tensor, sample_rate: int, n_points: int = CYCLE_POINTS) -> torch.Tensor:
    """One period of each shape at each pitch from its Fourier series, harmonics strictly
    below Nyquist only: saw (2/pi) sum (-1)^(h+1) sin(h x)/h, square (4/pi) sum_odd sin(h x)/h,
    triangle (8/pi^2) sum_odd (-1)^((h-1)/2) sin(h x)/h^2, sine sin x.

    A pitch's periods depend on it only through how many harmonics lie below Nyquist, so
    they are made once per count and kept (`_cycles_with_harmonics`): a fit's pitches
    change that count rarely from one step to the next.

    Args:
        pitches_hz: (P,) float64.

    Returns:
        (4, P, n_points) float32, one period sampled at phases k / n_points.
    """
    nyquist_hz = sample_rate / 2.0
    counts = [_harmonics_below(pitch_hz, nyquist_hz, n_points // 2) for pitch_hz in pitches_hz.tolist()]
    if not counts:
        return torch.zeros(len(SHAPES), 0, n_points)
    return torch.stack([_cycles_with_harmonics(count, n_points) for count in counts], dim=1)


def _harmonics_below(pitch_hz: float, nyquist_hz: float, most: int) -> int:
    """How many harmonics h = 1, 2, ... of a pitch lie strictly below Nyquist (h f < f_N,
    compared as float64 products), at most `most`; none for a pitch that is not positive."""
    if not 0.0 < pitch_hz < math.inf:
        return 0
    count = min(most, int(nyquist_hz // pitch_hz) + 1)
    while count > 0 and count * pitch_hz >= nyquist_hz:
        count -= 1
    return count


@functools.lru_cache(maxsize=256)  # (4, 8192) float32 each: 32 MiB at most
def _cycles_with_harmonics(n_harmonics: int, n_points: int) -> torch.Tensor:
    """(4, n_points) float32: one period of each shape with harmonics 1..n_harmonics. Kept
    in a cache: callers must not write into it."""
    h = torch.arange(n_harmonics + 1, dtype=torch.float64)
    odd = torch.remainder(h, 2) == 1
    safe_h = h.clamp_min(1.0)
    sine_terms = torch.stack([
        (2 / math.pi) * torch.where(odd, 1.0, -1.0) / safe_h,
        torch.where(odd, (4 / math.pi) / safe_h, 0.0),
        torch.where(odd, (8 / math.pi**2) * torch.where(torch.remainder(h, 4) == 1, 1.0, -1.0) / safe_h**2, 0.0),
        (h == 1).double(),
    ])  # (4, H+1): amplitude of sin(h x)
    sine_terms[:, 0] = 0.0
    # irfft of -i b n/2 at bin h is b sin(2 pi h k / n); the bins above are zeros, written
    # out: irfft pads a shorter spectrum, but by a slower path than the transform
    spectrum = torch.zeros(len(SHAPES), n_points // 2 + 1, dtype=torch.complex128)
    torch.view_as_real(spectrum)[:, : n_harmonics + 1, 1] = sine_terms.mul_(-n_points / 2.0)
    return torch.fft.irfft(spectrum, n=n_points).float()


def cycle_positions(pitches_hz: torch.Tensor, points_per_hz: torch.Tensor, n_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where waves read their periods of `n_points` (a power of two): at (f t mod 1) n.
    (P,) pitches and (N,) times in period points per Hz, t n, float64 -> the point below
    (P, N) int64 and the fraction of the way to the next (P, N) float64, differentiable in
    the pitches.

    Computed as the whole and fractional parts of f (t n), the whole part mod n: scaling by
    a power of two and taking the whole part off are exact in floating point, so these are
    the same bits as f t mod 1 scaled, without a float remainder (a slow kernel). Positions
    are non-negative, so truncation is the floor; the fraction is taken in place."""
    points = pitches_hz[:, None] * points_per_hz[None, :]
    below = points.detach().long().bitwise_and_(n_points - 1)
    return below, points.frac_()


def _read_cycles(periods: torch.Tensor, index: torch.Tensor, frac: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Waves read from one period each by linear interpolation, at the points and fractions
    of `cycle_positions`. (K, n_points) periods, (K, N) index and frac -> (K, N) float32,
    written into `out` if given."""
    wrapped = torch.cat([periods, periods[:, :1]], dim=-1)  # (K, n_points + 1): the point after the last is the first
    return torch.gather(wrapped, 1, index, out=out).lerp_(wrapped[:, 1:].gather(1, index), frac)


def wave_pitch_hz(wave_index: torch.Tensor, n_pitches: int) -> torch.Tensor:
    """Pitch in Hz of each wavetable row index (any shape of integer tensor)."""
    return wave_pitches_hz(n_pitches)[wave_index % n_pitches]
