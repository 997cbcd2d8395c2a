"""The fixed wavetable the resonances are mixed from (method.md §4.1)."""

from __future__ import annotations

import math

import torch

SHAPES = ("saw", "square", "triangle", "sine")
LOWEST_MIDI = 21.0
HIGHEST_MIDI = 106.0


def midi_to_hz(midi: torch.Tensor) -> torch.Tensor:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: torch.Tensor) -> torch.Tensor:
    return 69.0 + 12.0 * torch.log2(hz / 440.0)


def wave_pitches_hz(n_pitches: int) -> torch.Tensor:
    """(n_pitches,) float64 pitches, MIDI notes evenly spaced from 21 (27.5 Hz) to 106 (3729 Hz)."""
    return midi_to_hz(torch.linspace(LOWEST_MIDI, HIGHEST_MIDI, n_pitches, dtype=torch.float64))


def make_wavetable(n_pitches: int, n_samples: int, sample_rate: int, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Unit-amplitude waves, phase 0 at sample 0, all rising through zero like a sine.

    The phase (cycles mod 1) is computed in float64, so that it stays exact over thousands
    of cycles, then the four shapes are made from it in float32.

    Args:
        rows: optional int64 row indices (see Returns): only those waves are made, in that
            order (a render needs only the rows its events use).

    Returns:
        (4 * n_pitches, n_samples) float32: rows are n_pitches saws, then squares, triangles
        and sines, each block in the order of `wave_pitches_hz`; or (len(rows), n_samples).
    """
    rows = torch.arange(4 * n_pitches) if rows is None else rows.cpu()
    pitch_index, shape_index = rows % n_pitches, rows // n_pitches
    pitches, wave_pitch = torch.unique(pitch_index, return_inverse=True)  # each pitch's phase once
    t_s = torch.arange(n_samples, dtype=torch.float64) / sample_rate
    phase = torch.remainder(wave_pitches_hz(n_pitches)[pitches, None] * t_s[None, :], 1.0).to(torch.float32)
    table = torch.empty(len(rows), n_samples, dtype=torch.float32)
    for shape in range(len(SHAPES)):
        chosen = torch.nonzero(shape_index == shape)[:, 0]
        if len(chosen):
            table[chosen] = _shape_wave(shape, phase[wave_pitch[chosen]])
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


def wave_pitch_hz(wave_index: torch.Tensor, n_pitches: int) -> torch.Tensor:
    """Pitch in Hz of each wavetable row index (any shape of integer tensor)."""
    return wave_pitches_hz(n_pitches)[wave_index % n_pitches]
