"""Long files: the carried tail (what `fit --whole` does) against overlapping, cross-faded
windows, on a long file made of the bundled clips; quality of the whole render, time, peak RSS.

    python -m benchmarks.long_files --method tail --seconds 60 --steps 20 --event-samples 8192
    python -m benchmarks.long_files --method overlap --seconds 60 --steps 20 --event-samples 8192

Run each method in its own process (the peak RSS is the process's). `overlap` fits windows
of N samples every N/2 samples, each alone (no background), and scales each event's gain by
a triangular cross-fade at its onset (1 at the window's centre, 0 at its ends; 1 in the outer
halves of the first and last windows), so overlapping windows' events sum to one; it spends
twice the steps of `tail` on the same audio.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiosplat.app.api import FitInput, fit_long_input, render_splat
from audiosplat.core.config import ModelConfig
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.fitting.fit import FitConfig, fit_batch
from audiosplat.fitting.loss import relative_spectral_l1
from audiosplat.io.audio import load_clip
from audiosplat.io.splatfile import Splat
from audiosplat.synth.controls import concat_controls
from audiosplat.synth.rooms import procedural_bank
from benchmarks.common import MOZART, ROOT, emit, peak_rss_mib

GUITAR = ROOT / "tests" / "data" / "guitar_em9.wav"


def make_long_file(path: Path, seconds: float) -> None:
    """Mozart and the guitar chord, alternating, to at least `seconds`."""
    piano, rate = sf.read(MOZART)
    guitar, _ = sf.read(GUITAR)
    repeats = math.ceil(seconds * rate / (len(piano) + len(guitar)))
    sf.write(path, np.concatenate([piano, guitar] * repeats)[: math.ceil(seconds * rate)], rate)


def fit_overlap(source: Path, config: ModelConfig, fit_config: FitConfig) -> Splat:
    n, rate, total = config.n_samples, config.sample_rate, config.total_length
    whole = load_clip(source, n_samples=total, sample_rate=rate, normalise=False).samples
    whole = whole / np.abs(whole).max()
    hop = n // 2
    starts = list(range(0, total - hop, hop))
    rooms = procedural_bank(n, rate)
    window_config = dataclasses.replace(config, total_samples=None)
    parts, seeds = [], []
    for k, start in enumerate(starts):
        target = np.zeros(n, dtype=np.float32)
        piece = whole[start : start + n]
        target[: len(piece)] = piece
        result = fit_batch(torch.from_numpy(target)[None], window_config, dataclasses.replace(fit_config, seed=fit_config.seed + k), rooms, torch.device("cpu"))[0]
        local = result.controls.onset_samples.to(torch.float32)
        fade = 1.0 - (local - hop).abs() / hop
        if k == 0:
            fade = torch.where(local < hop, torch.ones_like(fade), fade)
        if k == len(starts) - 1:
            fade = torch.where(local >= hop, torch.ones_like(fade), fade)
        onsets = result.controls.onset_samples + start
        keep = onsets < total
        events = result.controls.replace(gain=result.controls.gain * fade.clamp_min(0.0), onset_bits=samples_to_bits(onsets.clamp(max=total - 1), config.n_onset_bits))
        parts.append(events.select(keep).map(lambda t: t.detach()))
        seeds.append(result.noise_seeds[keep])
    controls = concat_controls(parts)
    return Splat(config=config, controls=controls, latents=torch.zeros(controls.n_events, 1), noise_seeds=torch.cat(seeds), parameters={}, rooms=rooms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", choices=("tail", "overlap"), required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2**16)
    parser.add_argument("--events", type=int, default=64)
    parser.add_argument("--event-samples", type=int, default=None)
    parser.add_argument("--work", type=Path, default=Path("/tmp/audiosplat-long"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = args.work / f"long-{args.seconds:g}s.wav"
    if not source.exists():
        make_long_file(source, args.seconds)
    config = ModelConfig(n_samples=args.samples, n_events=args.events, event_samples=args.event_samples)
    fit_config = FitConfig(steps=args.steps)
    began = time.perf_counter()
    if args.method == "tail":
        splat = fit_long_input(FitInput(source, args.work / "tail.splat", duration_s=math.inf), config=config, fit_config=fit_config, device="cpu").splat
    else:
        total = load_clip(source, n_samples=1, sample_rate=config.sample_rate).source_frames
        splat = fit_overlap(source, dataclasses.replace(config, total_samples=total), fit_config)
    fit_s = time.perf_counter() - began
    began = time.perf_counter()
    render = render_splat(splat)
    render_s = time.perf_counter() - began
    target = load_clip(source, n_samples=len(render), sample_rate=config.sample_rate).samples
    emit({
        "benchmark": "long_files", "method": args.method, "seconds_of_audio": len(render) / config.sample_rate,
        "steps_per_window": args.steps, "samples": args.samples, "events": args.events, "event_samples": args.event_samples,
        "stored_events": splat.n_events, "relative_spectral_l1": relative_spectral_l1(torch.from_numpy(target), torch.from_numpy(render)),
        "fit_s": fit_s, "render_s": render_s, "peak_rss_mib": peak_rss_mib(),
    })


if __name__ == "__main__":
    main()
