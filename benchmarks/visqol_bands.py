"""Where a render loses ViSQOL: the render's own score, then with the target's STFT
magnitudes put into one frequency band at a time (the render's phases kept).

    .venv/bin/python -m benchmarks.visqol_bands FIT.splat SOURCE.wav [--offset S] [--beds 32x16 129x16]

A band whose repair lifts the score a lot is where the fit falls short. Also prints each
band's share of the energy of target and render (dB), and the score with only the target's
per-frame spectral envelope above 3 kHz (magnitudes smoothed over 31 bins, ~330 Hz): that
one keeps the render's partials and corrects only how loud the high bands are, frame by
frame. STFT: Hann 2048, hop 256.

With `--beds`, the events' render (the file's bed left out) is scored under a bed of each
size (ANCHORSxBANDS) whose levels are the residual's: the target's band power at each anchor
less the events', where that is positive (`synth.noise_bed.bed_levels_of`). That is how far
a bed of that size, set from the events as they stand, could take the fit. One JSON line
per figure. Needs the eval extra.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from audiosplat.app.api import render_splat
from audiosplat.cli.fit import noise_bed_size
from audiosplat.core.fields import SILENT_DB
from audiosplat.eval.metrics import log_mel_distance
from audiosplat.eval.visqol import visqol_mos
from audiosplat.io.audio import load_clip
from audiosplat.io.splatfile import Splat, read_splat
from audiosplat.synth.noise_bed import NoiseBed, bed_levels_of
from benchmarks.common import emit

N_FFT, HOP = 2048, 256
BANDS_HZ = ((0, 1000), (1000, 3000), (3000, None))
ENERGY_EDGES_HZ = (0, 250, 500, 1000, 2000, 4000, 8000, None)
ENVELOPE_BINS = 31
RESIDUAL_FLOOR_DB = -90.0  # a residual bed's level under this is silent


def residual_bed(target: torch.Tensor, events: torch.Tensor, anchors: int, bands: int, sample_rate: int) -> torch.Tensor:
    """Levels (anchors, bands) dB of the bed that adds to the events' (N,) power the target's
    (N,) at each anchor and band, where the target has more: what the events leave."""
    power = [10.0 ** (bed_levels_of(x, anchors, bands, sample_rate).double() / 10.0) for x in (target, events)]
    levels = 10.0 * torch.log10((power[0] - power[1]).clamp_min(1e-30))
    return torch.where(levels > RESIDUAL_FLOOR_DB, levels, torch.full_like(levels, SILENT_DB)).float()


def residual_bed_scores(splat: Splat, target: torch.Tensor, beds: list[str]):
    """(anchors, bands, ViSQOL, log-mel) of the events' render under each residual bed."""
    cfg = splat.config
    events = torch.from_numpy(render_splat(dataclasses.replace(splat, noise_bed=None)))
    seed = splat.noise_bed.seed if splat.noise_bed is not None else 0
    for spec in beds:
        size = noise_bed_size(spec)
        anchors, bands = size["noise_anchors"], size["noise_bands"]
        audio = events + NoiseBed(residual_bed(target, events, anchors, bands, cfg.sample_rate), seed).render(cfg.n_samples, cfg.sample_rate)
        yield anchors, bands, visqol_mos(target, audio, cfg.sample_rate), log_mel_distance(target, audio, cfg.sample_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("splat", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("--offset", type=float, default=0.0, help="where the fitted clip starts in the source, s")
    parser.add_argument("--beds", nargs="*", default=[], metavar="ANCHORSxBANDS", help="score the events under a residual bed of each size")
    args = parser.parse_args()

    splat = read_splat(args.splat)
    cfg = splat.config
    target = torch.from_numpy(load_clip(args.source, n_samples=cfg.n_samples, sample_rate=cfg.sample_rate, offset_s=args.offset).samples)
    render = torch.from_numpy(render_splat(splat))
    window = torch.hann_window(N_FFT)
    t_spec, r_spec = (torch.stft(x, N_FFT, HOP, window=window, return_complex=True) for x in (target, render))
    hz = torch.arange(t_spec.shape[0]) * cfg.sample_rate / N_FFT

    def in_band(low: float, high: float | None) -> torch.Tensor:
        return ((hz >= low) & (hz < (high or cfg.sample_rate))).float()[:, None]

    def score(spectrum: torch.Tensor) -> float:
        audio = torch.istft(spectrum, N_FFT, HOP, window=window, length=cfg.n_samples)
        return visqol_mos(target, audio, cfg.sample_rate)

    def record(what: str, **values) -> None:
        emit({"benchmark": "visqol_bands", "splat": args.splat.name, "what": what, **values})

    for low, high in zip(ENERGY_EDGES_HZ[:-1], ENERGY_EDGES_HZ[1:]):
        band = in_band(low, high)
        shares = [float(10 * torch.log10((s.abs() ** 2 * band).sum() / (s.abs() ** 2).sum())) for s in (t_spec, r_spec)]
        record("energy share dB", low_hz=low, high_hz=high, target=shares[0], render=shares[1])
    record("render", visqol=score(r_spec))
    to_target = t_spec.abs() / r_spec.abs().clamp_min(1e-9)
    for low, high in BANDS_HZ:
        band = in_band(low, high)
        record("target magnitudes in band", low_hz=low, high_hz=high, visqol=score(r_spec * (1 + band * (to_target - 1))))

    def envelope(spectrum: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(spectrum.abs().T[None], ENVELOPE_BINS, 1, ENVELOPE_BINS // 2, count_include_pad=False)[0].T

    gain = envelope(t_spec) / envelope(r_spec).clamp_min(1e-9)
    high = in_band(BANDS_HZ[-1][0], None)
    record("target envelope per frame above 3 kHz", visqol=score(r_spec * (1 + high * (gain - 1))))
    for anchors, bands, visqol, log_mel in residual_bed_scores(splat, target, args.beds):
        record("events under a residual bed", anchors=anchors, bands=bands, visqol=visqol, log_mel=log_mel)


if __name__ == "__main__":
    main()
