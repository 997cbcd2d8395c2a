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


def make_wavetable(n_pitches: int, n_samples: int, sample_rate: int) -> torch.Tensor:
    """Unit-amplitude waves, phase 0 at sample 0, all rising through zero like a sine.

    The phase (cycles mod 1) is computed in float64, so that it stays exact over thousands
    of cycles, then the four shapes are made from it in float32.

    Returns:
        (4 * n_pitches, n_samples) float32: rows are n_pitches saws, then squares, triangles
        and sines, each block in the order of `wave_pitches_hz`.
    """
    t_s = torch.arange(n_samples, dtype=torch.float64) / sample_rate
    phase = torch.remainder(wave_pitches_hz(n_pitches)[:, None] * t_s[None, :], 1.0).to(torch.float32)
    table = torch.empty(4, n_pitches, n_samples, dtype=torch.float32)
    saw, square, triangle, sine = table
    torch.remainder(phase + 0.5, 1.0, out=saw).mul_(2.0).sub_(1.0)
    square.fill_(-1.0).masked_fill_(phase < 0.5, 1.0)
    torch.remainder(phase + 0.25, 1.0, out=triangle).sub_(0.5).abs_().mul_(-4.0).add_(1.0)
    torch.sin(phase.mul_(2.0 * math.pi), out=sine)
    return table.reshape(4 * n_pitches, n_samples)


def wave_pitch_hz(wave_index: torch.Tensor, n_pitches: int) -> torch.Tensor:
    """Pitch in Hz of each wavetable row index (any shape of integer tensor)."""
    return wave_pitches_hz(n_pitches)[wave_index % n_pitches]
