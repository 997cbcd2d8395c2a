"""Rendering events over any length, a window at a time (formats/splat-v1.md §13.5).

An event whose onset lies in window k (samples [kN, (k+1)N)) sounds for its buffer of L
samples and its reverb rings N samples longer (the rooms are N samples long), so it touches
only samples [kN, kN + 2N + L - 1): the window and at most two after it. The events are
rendered window by window into a span of 2N + L samples that is overlap-added into a carry
buffer; once window k's events are in, its samples are final. Memory is bounded by the
window (and the events of one window), not by the length.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.onset import delay_by_samples
from audiosplat.synth.controls import EventControls
from audiosplat.synth.render import SynthAssets, event_signals, finite_or_refused, for_output
from audiosplat.synth.threads import render_threads


def span_samples(config: ModelConfig) -> int:
    """Samples that the events of one window can reach from the window's start: 2N + L."""
    return 2 * config.n_samples + config.event_length


def render_span(
    controls: EventControls, onset_samples: torch.Tensor, assets: SynthAssets, room_spectra: torch.Tensor
) -> torch.Tensor:
    """Events placed at `onset_samples` (E,) int64, counted from the span's start and all
    within its first N samples (the controls' own onsets are not used), reverberated and
    summed, nothing cut: (span_samples,).

    `room_spectra` (R, span/2+1): rfft of the rooms at the span's length (`span_room_spectra`);
    the span holds the whole linear convolution, so the circular one equals it.
    """
    n_span = 2 * room_spectra.shape[-1] - 2
    signals = event_signals(controls, assets)  # (E, L)
    placed = delay_by_samples(signals, onset_samples.to(signals.dtype), n_span)  # (E, span)
    dry = controls.reverb_mix[:, 0] @ placed
    per_room = (controls.room_weights * controls.reverb_mix[:, 1:]).T @ placed  # (R, span)
    wet = torch.fft.irfft((torch.fft.rfft(per_room, n=n_span) * room_spectra).sum(dim=0), n=n_span)
    return dry + wet


def span_room_spectra(assets: SynthAssets) -> torch.Tensor:
    """(R, span/2+1) spectra of the rooms at the span's length."""
    return torch.fft.rfft(assets.rooms, n=span_samples(assets.config))


def render_windows(
    controls: EventControls, noise_seeds: torch.Tensor, assets: SynthAssets, *, max_events: int = 64
) -> Iterator[torch.Tensor]:
    """The render of all events (onsets in [0, T)), a window of N samples at a time, the
    last one cut at T = `assets.config.total_length`. Events are synthesised `max_events`
    at a time. `assets` may hold any events' noise: each window's is made from `noise_seeds`.
    A render for output (`render.for_output`): each window is made at the fixed thread
    count, and one that is not finite is refused."""
    cfg = assets.config
    n, total = cfg.n_samples, cfg.total_length
    with render_threads():
        room_spectra = span_room_spectra(assets)
    bounded = for_output(controls, cfg)
    onsets = controls.onset_samples
    carry = torch.zeros(span_samples(cfg), device=assets.waves.device)
    for k in range(cfg.n_windows):
        chosen = torch.nonzero(onsets // n == k).flatten()
        with render_threads():  # not across the yield: the caller's work runs at its own count
            for part in torch.split(chosen, max_events) if len(chosen) else ():
                events = bounded.select(part).map(lambda t, device=carry.device: t.to(device))
                local_onsets = (onsets[part] - k * n).to(carry.device)
                carry += render_span(events, local_onsets, assets.with_events(noise_seeds[part]), room_spectra)
        yield finite_or_refused(carry[: min(n, total - k * n)]).clone()
        carry = torch.cat([carry[n:], torch.zeros(n, device=carry.device)])
