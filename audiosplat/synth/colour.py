"""A clip's colour: one equaliser over the whole render (events and bed), a level in dB at
each of B band centres on the noise bed's mel layout (`core.bed_layout`), linear in dB
between centres and held beyond them, applied on the bed's short-time grid; and its track,
the same over time: a few broad bands' levels at many anchors, linear in dB between them.

Why: a spectral-magnitude L1 loss is least where the render is quieter than the target
wherever its fine structure cannot match (noise against noise of the same level is cheapest
about 2 dB under it), so every fit leaves its upper bands 2 to 8 dB too quiet
(docs/benchmarks.md, "A clip's colour"). Matching the render's long-term band levels to the
clip's, after the fit, keeps the render's timing and partials and corrects only that.
The track does the same for the band levels' course over time, which events of one pitch
and one decay each cannot follow within a note: a voice's formants and syllables, a bow's
pressure, a rubbed glass's swells (docs/benchmarks.md, "The colour's track").
"""

from __future__ import annotations

import torch

from audiosplat.synth.noise_bed import BED_FFT, BED_HOP, bed_levels_of, level_grid_db, noise_spectrum

COLOUR_BANDS = 32  # 16 scored 0.03-0.07 less ViSQOL on four clips of eight; 48 lost the glass (docs/benchmarks.md)
COLOUR_MAX_DB = 6.0  # a fit's colour lifts or cuts a band by at most this
# a band this far under the clip's loudest is left alone (the track only cuts there): it
# holds little but round-off, which a lift would make audible
COLOUR_QUIET_DB = 60.0
# The track: up to 128 anchors (23 ms apart at N = 2^16) of 3 bands; the speech needs the
# time more than the bands (docs/benchmarks.md, "The colour's track"). It takes what a file
# of STORED_BUDGET numbers leaves beside the events, bed and colour (a 16-band vocoder of the
# clip holds 2,064), and at least MIN_TRACK_ANCHORS, so a default fit stays within it.
TRACK_ANCHORS = 128
TRACK_BANDS = 3
STORED_BUDGET = 2560
MIN_TRACK_ANCHORS = 16


def colour_levels_db(target: torch.Tensor, render: torch.Tensor, sample_rate: int, n_bands: int = COLOUR_BANDS) -> torch.Tensor:
    """(B,) float32 dB that bring the long-term band levels of `render` (N,) to those of
    `target` (N,), within COLOUR_MAX_DB; 0 in bands COLOUR_QUIET_DB under the target's loudest."""
    lift, quiet = _lift_db(target, render, 1, n_bands, sample_rate)
    return torch.where(quiet, torch.zeros_like(lift), lift)[0]


def track_anchors(stored_numbers: int, n_samples: int) -> int:
    """How many anchors a fit's track gets beside `stored_numbers` others (`STORED_BUDGET`),
    and no more than one per two of the bed's frames over `n_samples`, so that every anchor
    pools some frame."""
    budget = max((STORED_BUDGET - stored_numbers) // TRACK_BANDS, MIN_TRACK_ANCHORS)
    return max(2, min(budget, TRACK_ANCHORS, (n_samples // BED_HOP + 1) // 2))


def colour_track_db(
    target: torch.Tensor, render: torch.Tensor, sample_rate: int, n_anchors: int = TRACK_ANCHORS, n_bands: int = TRACK_BANDS
) -> torch.Tensor:
    """(F, K) float32 dB that bring the band levels of `render` (N,) near each of F anchors
    to those of `target` (N,), within COLOUR_MAX_DB; where the target is COLOUR_QUIET_DB
    under its loudest, a cut only: a pause is never lifted, and what the render holds there
    that the clip does not (a note ringing on) is cut."""
    lift, quiet = _lift_db(target, render, n_anchors, n_bands, sample_rate)
    return torch.where(quiet, lift.clamp(max=0.0), lift)


def _lift_db(target: torch.Tensor, render: torch.Tensor, n_anchors: int, n_bands: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, B) dB from the band levels of `render` to those of `target`, both (N,), within
    COLOUR_MAX_DB, and (F, B) whether the target is COLOUR_QUIET_DB under its loudest there."""
    wanted = bed_levels_of(target, n_anchors, n_bands, sample_rate)
    have = bed_levels_of(render, n_anchors, n_bands, sample_rate)
    return (wanted - have).clamp(-COLOUR_MAX_DB, COLOUR_MAX_DB), wanted <= wanted.max() - COLOUR_QUIET_DB


def apply_colour(audio: torch.Tensor, levels_db: torch.Tensor, sample_rate: int, track_db: torch.Tensor | None = None) -> torch.Tensor:
    """`audio` (..., N) through the equaliser of levels (B,) dB and, when given, its track
    (F, K) dB, the two lifts added in dB: (..., N) float32. Levels of 0 dB give the audio back
    (to round-off)."""
    n = audio.shape[-1]
    grid_db = level_grid_db(levels_db.to(audio)[None, :], n, sample_rate)  # (bins, frames)
    if track_db is not None:
        grid_db = grid_db + level_grid_db(track_db.to(audio), n, sample_rate)
    gain = torch.pow(10.0, grid_db / 20.0)
    window = torch.hann_window(BED_FFT, device=audio.device)
    return torch.istft(noise_spectrum(audio) * gain, BED_FFT, BED_HOP, window=window, center=True, length=n)
