"""A clip's colour: one static equaliser over the whole render (events and bed), a level in
dB at each of B band centres on the noise bed's mel layout (`core.bed_layout`), linear in dB
between centres and held beyond them, applied on the bed's short-time grid.

Why: a spectral-magnitude L1 loss is least where the render is quieter than the target
wherever its fine structure cannot match (noise against noise of the same level is cheapest
about 2 dB under it), so every fit leaves its upper bands 2 to 8 dB too quiet
(docs/benchmarks.md, "A clip's colour"). Matching the render's long-term band levels to the
clip's, after the fit, keeps the render's timing and partials and corrects only that.
"""

from __future__ import annotations

import torch

from audiosplat.synth.noise_bed import BED_FFT, BED_HOP, bed_levels_of, level_grid_db, noise_spectrum

COLOUR_BANDS = 32  # 16 scored 0.03-0.07 less ViSQOL on four clips of eight; 48 lost the glass (docs/benchmarks.md)
COLOUR_MAX_DB = 6.0  # a fit's colour lifts or cuts a band by at most this
# a band this far under the clip's loudest is left alone: it holds little but round-off,
# which a lift would make audible
COLOUR_QUIET_DB = 60.0


def colour_levels_db(target: torch.Tensor, render: torch.Tensor, sample_rate: int, n_bands: int = COLOUR_BANDS) -> torch.Tensor:
    """(B,) float32 dB that bring the long-term band levels of `render` (N,) to those of
    `target` (N,), within COLOUR_MAX_DB; 0 in bands COLOUR_QUIET_DB under the target's loudest."""
    wanted = bed_levels_of(target, 1, n_bands, sample_rate)[0]
    have = bed_levels_of(render, 1, n_bands, sample_rate)[0]
    lift = (wanted - have).clamp(-COLOUR_MAX_DB, COLOUR_MAX_DB)
    return torch.where(wanted > wanted.max() - COLOUR_QUIET_DB, lift, torch.zeros_like(lift))


def apply_colour(audio: torch.Tensor, levels_db: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """`audio` (..., N) through the equaliser of levels (B,) dB: (..., N) float32. Levels of
    0 dB give the audio back (to round-off)."""
    n = audio.shape[-1]
    gain = torch.pow(10.0, level_grid_db(levels_db.to(audio)[None, :], n, sample_rate) / 20.0)  # (bins, frames)
    window = torch.hann_window(BED_FFT, device=audio.device)
    return torch.istft(noise_spectrum(audio) * gain, BED_FFT, BED_HOP, window=window, center=True, length=n)
