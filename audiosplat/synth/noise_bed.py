"""The unpitched part of a clip: a bed of seeded white noise under the events, shaped frame
by frame by its levels in a few bands (the stochastic part of Serra's spectral modelling
synthesis, DDSP's filtered noise). It carries what is not a note: breath, bow and hammer
noise, fricatives, a rubbed glass's hiss, and the silence between them.

Levels are in dB, (F, B): F anchors evenly spread over the clip (the first at sample 0, the
last at sample N), B bands whose centres are evenly spread on the mel scale from 40 Hz to
Nyquist (`core.bed_layout`). Between anchors and between band centres the level is
interpolated linearly in dB; below the first centre and above the last it is held. The
bed is the white noise's short-time spectrum (BED_FFT-point Hann frames, BED_HOP apart)
times that level, transformed back: with every level at 0 dB it is the white noise itself
(standard normal, RMS 1). A level at or below SILENT_DB is silence, exactly (as is one
interpolated to within a dB of it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from audiosplat.core.bed_layout import anchor_samples, band_centres_hz
from audiosplat.core.fields import MAX_LEVEL_DB, SILENT_DB

BED_FFT = 1024  # 46 ms frames at 22050 Hz: 21.5 Hz bins
BED_HOP = 256
DB_PER_NEPER = 20.0 / math.log(10.0)
BED_SEED_KEY = 0x6265  # 'be': the bed's stream apart from the events' (same fit seed)


def linear_weights(points: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(P, A) float64 weights that interpolate values at increasing `anchors` (A,) linearly
    at `points` (P,), holding the end values beyond the ends: each row sums to 1."""
    a = len(anchors)
    if a == 1:
        return torch.ones(len(points), 1, dtype=torch.float64)
    points = points.to(torch.float64).clamp(float(anchors[0]), float(anchors[-1]))
    right = torch.searchsorted(anchors, points, right=True).clamp(1, a - 1)
    left = right - 1
    span = anchors[right] - anchors[left]
    t = (points - anchors[left]) / span
    weights = torch.zeros(len(points), a, dtype=torch.float64)
    rows = torch.arange(len(points))
    weights[rows, left] = 1.0 - t
    weights[rows, right] += t
    return weights


def bed_frames(n_samples: int) -> int:
    """STFT frames of an N-sample bed (centred frames, BED_HOP apart)."""
    return n_samples // BED_HOP + 1


@functools.lru_cache(maxsize=16)
def grid_weights(n_anchors: int, n_bands: int, n_samples: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The interpolations from levels to the bed's STFT grid: over bins (bins, B) and over
    frames (F, frames), float64 (`linear_weights`)."""
    frame_samples = torch.arange(bed_frames(n_samples), dtype=torch.float64) * BED_HOP
    bins_hz = torch.linspace(0.0, sample_rate / 2.0, BED_FFT // 2 + 1, dtype=torch.float64)
    over_bins = linear_weights(bins_hz, torch.from_numpy(band_centres_hz(n_bands, sample_rate)))
    over_time = linear_weights(frame_samples, torch.from_numpy(anchor_samples(n_anchors, n_samples))).T.contiguous()
    return over_bins, over_time


def level_grid_db(levels_db: torch.Tensor, n_samples: int, sample_rate: int) -> torch.Tensor:
    """Levels (..., F, B) dB interpolated onto the bed's STFT grid: (..., BED_FFT/2+1, frames) dB."""
    over_bins, over_time = grid_weights(*levels_db.shape[-2:], n_samples, sample_rate)
    return over_bins.to(levels_db) @ levels_db.transpose(-1, -2) @ over_time.to(levels_db)


def bed_noise(seed: int, n_samples: int) -> torch.Tensor:
    """(N,) float32 standard normal noise from `seed`, drawn on the CPU so that every device
    shapes the same noise."""
    return torch.randn(n_samples, generator=torch.Generator(device="cpu").manual_seed(int(seed)))


def noise_spectrum(noise: torch.Tensor) -> torch.Tensor:
    """The bed's short-time spectrum of (..., N) noise: (..., BED_FFT/2+1, frames) complex64."""
    window = torch.hann_window(BED_FFT, device=noise.device)
    return torch.stft(noise, BED_FFT, BED_HOP, window=window, center=True, return_complex=True)


def render_bed(levels_db: torch.Tensor, spectrum: torch.Tensor, n_samples: int, sample_rate: int) -> torch.Tensor:
    """The bed of levels (..., F, B) dB over the noise's short-time spectrum (..., bins,
    frames) (`noise_spectrum`): (..., N) float32. Differentiable in the levels."""
    grid_db = level_grid_db(levels_db, n_samples, sample_rate)
    # within a dB of the floor is silence: the interpolation's round-off lifts a silent level
    gain = torch.where(grid_db > SILENT_DB + 1.0, torch.exp(grid_db.clamp_min(SILENT_DB) / DB_PER_NEPER), torch.zeros_like(grid_db))
    window = torch.hann_window(BED_FFT, device=spectrum.device)
    return torch.istft(spectrum * gain, BED_FFT, BED_HOP, window=window, center=True, length=n_samples)


def bed_levels_of(audio: torch.Tensor, n_anchors: int, n_bands: int, sample_rate: int) -> torch.Tensor:
    """The levels (F, B) dB at which a bed has about the band energies of `audio` (N,) near
    each anchor: its short-time power averaged over each band's bins and each anchor's
    frames (the interpolation's own weights, normalised), as dB re white noise of RMS 1."""
    power = noise_spectrum(audio.float()).abs().square().to(torch.float64)  # (bins, frames)
    white = torch.hann_window(BED_FFT, dtype=torch.float64).square().sum()  # a unit white noise's expected bin power
    over_bins, over_time = grid_weights(n_anchors, n_bands, audio.shape[-1], sample_rate)  # (bins, B), (F, frames)
    pooled = over_bins.T @ power @ over_time.T / (over_bins.sum(0)[:, None] * over_time.sum(1)[None, :])
    return (10.0 * torch.log10(pooled / white + 1e-30)).T.to(torch.float32)


def bed_seed_for(seed: int) -> int:
    """The bed's noise seed derived from a fit seed (apart from the events' seeds)."""
    return int(np.random.SeedSequence([int(seed), BED_SEED_KEY]).generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class NoiseBed:
    """A clip's bed: levels (F, B) dB (anchors x bands) over the noise of `seed`."""

    levels_db: torch.Tensor
    seed: int

    def render(self, n_samples: int, sample_rate: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The bed's audio, (N,) float32 on `device`."""
        spectrum = noise_spectrum(bed_noise(self.seed, n_samples).to(device))
        return render_bed(self.levels_db.to(device=device, dtype=torch.float32), spectrum, n_samples, sample_rate)

    def louder(self, gain_db: float) -> NoiseBed:
        """The same bed `gain_db` louder (silent levels stay silent; none beyond the levels a
        file may hold)."""
        levels = torch.where(self.levels_db > SILENT_DB, (self.levels_db + gain_db).clamp(SILENT_DB, MAX_LEVEL_DB), self.levels_db)
        return dataclasses.replace(self, levels_db=levels)

    def muted(self) -> NoiseBed:
        """The same bed, silent."""
        return dataclasses.replace(self, levels_db=torch.full_like(self.levels_db, SILENT_DB))
