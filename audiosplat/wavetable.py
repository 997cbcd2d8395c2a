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

    Returns:
        (4 * n_pitches, n_samples) float32: rows are n_pitches saws, then squares, triangles
        and sines, each block in the order of `wave_pitches_hz`.
    """
    t_s = torch.arange(n_samples, dtype=torch.float64) / sample_rate
    cycles = wave_pitches_hz(n_pitches)[:, None] * t_s[None, :]
    frac = torch.remainder(cycles, 1.0)
    saw = 2.0 * torch.remainder(cycles + 0.5, 1.0) - 1.0
    square = torch.where(frac < 0.5, 1.0, -1.0).to(torch.float64)
    triangle = 1.0 - 4.0 * (torch.remainder(cycles + 0.25, 1.0) - 0.5).abs()
    sine = torch.sin(2.0 * math.pi * cycles)
    return torch.cat([saw, square, triangle, sine]).to(torch.float32)


def wave_pitch_hz(wave_index: torch.Tensor, n_pitches: int) -> torch.Tensor:
    """Pitch in Hz of each wavetable row index (any shape of integer tensor)."""
    return wave_pitches_hz(n_pitches)[wave_index % n_pitches]
