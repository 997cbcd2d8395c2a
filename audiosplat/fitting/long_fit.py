"""Fitting audio longer than one window: consecutive windows of N samples, each fitted
with E events against a carried tail (formats/splat-v1.md §6, `total_samples`).

Window k's fit sees the render of the events of the windows before it, as far as it reaches
into window k (their decays and reverb), as a fixed background added to its render before
the loss (`fit_batch`'s `backgrounds`), so its own events explain only what is new. That
tail is the carry of the overlap-add renderer (`long_render`), so after window k is fitted
its samples are final: the render of the whole file, restricted to window k, is what the
loss of window k saw. Memory is bounded by the window.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import AudiosplatError
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.fitting.fit import BatchStepCallback, FitConfig, fit_batch
from audiosplat.models.analysis import resolve_pitches
from audiosplat.models.base import EventModel
from audiosplat.models.registry import model_class
from audiosplat.synth.controls import EventControls, concat_controls
from audiosplat.synth.long_render import render_span, span_room_spectra, span_samples
from audiosplat.synth.render import SynthAssets
from audiosplat.synth.rooms import RoomBank


@dataclass(frozen=True)
class WindowOutcome:
    """How window k's fit went: the loss before its first step and of its final events
    (background included), its relative spectral L1 and its wall time in seconds."""

    first_loss: float
    final_loss: float
    relative_l1: float
    seconds: float


@dataclass
class LongFit:
    """All windows' events with onsets in samples from the start of the whole audio, and
    the config they were fitted with ("auto" pitches chosen)."""

    config: ModelConfig
    controls: EventControls
    latents: torch.Tensor
    noise_seeds: torch.Tensor
    parameters: dict[str, torch.Tensor]
    loss_history: np.ndarray
    windows: list[WindowOutcome]
    seconds: float
    coarse_steps: int = 0  # over all windows (`FitResult.coarse_steps`)


def fit_windows(
    read_window: Callable[[int], np.ndarray],
    config: ModelConfig,
    fit_config: FitConfig,
    rooms: RoomBank,
    device: torch.device,
    *,
    on_window: Callable[[int, int], None] | None = None,
    on_step: BatchStepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LongFit:
    """Fit the `config.n_windows` windows that `read_window(k)` returns ((N,) float32, all
    at one scale), one after another, window k with seed `fit_config.seed` + k (its own
    start and noise). `on_window(k, n)` is called before window k's fit. "auto" pitches
    are chosen once, from all the windows: one file has one kind.

    Raises:
        AudiosplatError: the model cannot fit long audio (`fits_long_audio`: the seed
            model's parameters describe one window's event tree), or `should_stop()` turned true.
    """
    if not model_class(config.model).fits_long_audio:
        raise AudiosplatError(f"audio longer than one window cannot be fitted with the {config.model} model; use --model direct, or fit one window (no --duration or --whole)")
    began = time.perf_counter()
    config = resolve_pitches(config, (torch.from_numpy(read_window(k)) for k in range(config.n_windows)))
    n = config.n_samples
    window_config = dataclasses.replace(config, total_samples=None)
    assets = SynthAssets.build(window_config, torch.zeros(0, dtype=torch.int64), rooms, device)
    room_spectra = span_room_spectra(assets)
    carry = torch.zeros(span_samples(config), device=device)
    parts: list[tuple[EventControls, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]] = []
    histories, outcomes, coarse_steps = [], [], 0
    for k in range(config.n_windows):
        if on_window is not None:
            on_window(k, config.n_windows)
        target = torch.from_numpy(read_window(k))[None]
        window_fit = dataclasses.replace(fit_config, seed=fit_config.seed + k)
        result = fit_batch(
            target, window_config, window_fit, rooms, device, on_step=on_step, should_stop=should_stop, backgrounds=carry[None, :n],
        )[0]
        if result.partial:
            raise AudiosplatError(f"interrupted in window {k + 1} of {config.n_windows}; a long fit writes no checkpoint")
        events = result.controls.map(lambda t: t.detach())
        with torch.no_grad():
            carry += render_span(events, events.onset_samples, assets.with_events(result.noise_seeds), room_spectra)
        carry = torch.cat([carry[n:], torch.zeros(n, device=device)])
        controls, latents, parameters, inside = _moved(events, result.latents, result.model.state_dict(), result.model, k * n, config)
        parts.append((controls, latents, result.noise_seeds[inside], parameters))
        histories.append(result.loss_history)
        coarse_steps += result.coarse_steps
        outcomes.append(WindowOutcome(float(result.loss_history[0]) if len(result.loss_history) else result.final_loss, result.final_loss, result.relative_l1, result.seconds))
    controls, latents, seeds, parameters = zip(*parts)
    return LongFit(
        config=config,
        controls=concat_controls(list(controls)),
        latents=torch.cat(latents),
        noise_seeds=torch.cat(seeds),
        parameters={name: torch.cat([p[name] for p in parameters]) for name in parameters[0]},
        loss_history=np.concatenate(histories),
        windows=outcomes,
        seconds=time.perf_counter() - began,
        coarse_steps=coarse_steps,
    )


def _moved(
    events: EventControls, latents: torch.Tensor, state: dict[str, torch.Tensor], model: EventModel, start: int, config: ModelConfig
) -> tuple[EventControls, torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """One window's events, latents and stored parameters (`model`'s state dict `state`) on the CPU, with onsets counted
    from the start of the whole audio (window start `start` samples). The stored onsets
    become the events' onsets exactly (the fit's may lie before the window and were clamped
    to it), so that parameters and events agree without knowing the windows. Events the
    last window placed after the end of the audio (in its zero padding) are dropped: they
    sound nowhere in it. Also returns the (E,) mask of the events kept."""
    onsets = events.onset_samples.cpu() + start
    inside = onsets < config.total_samples
    onsets = onsets[inside]
    controls = events.map(lambda t: t.cpu()).select(inside).replace(onset_bits=samples_to_bits(onsets, config.n_onset_bits))
    parameters = {name: value.detach().cpu()[inside].clone() for name, value in state.items()}
    parameters, latents = model.described(parameters, latents.detach().cpu()[inside].clone(), onsets)
    return controls, latents, parameters, inside
