"""The direct model's strategy: its level matched to the clip and its spare events put on
notes before the first step, then dead events relocated as gsplat relocates dead
Gaussians: an event whose gain has fallen 40 dB below the loudest explains nothing, so it is
moved to the note that the residual spectrogram (target minus render, rectified) holds most
energy in, and its Adam moments are reset so that it starts afresh there.

A converged fit's file keeps its live events (`kept`).

Models that use it have per-event parameter rows in `groups` (one `nn.Parameter` per group,
"log_gain" among them), `rows_for_notes` and `kept`."""

from __future__ import annotations

from typing import Any

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.spectrum import FULL_BAND_STFT, framed_stft_magnitude
from audiosplat.models.analysis import AFTER_FRAMES, PITCH_FFT, Note, magnitudes, notes_at

RELOCATE_EVERY = 100  # steps between relocations (counted over the whole fit, resumes included)
DEAD_BELOW_DB = -40.0
MAX_MOVED = 8  # events moved at a time, so the fit is never shaken up all at once
CLEARED_FRAMES = (2, 8)  # a found note's frames taken out of the residual: before, after


def dead_events(gain: torch.Tensor) -> torch.Tensor:
    """(E,) gains -> (E,) bool: more than 40 dB below the loudest event."""
    return gain < gain.max() * 10.0 ** (DEAD_BELOW_DB / 20.0)


def residual_notes(target: torch.Tensor, render: torch.Tensor, config: ModelConfig, count: int) -> list[Note]:
    """Up to `count` notes where the rectified residual |STFT target| - |STFT render| has the
    most energy, loudest first; each found note's neighbourhood in time is then cleared, so
    the next one is elsewhere. As in `analysis.find_notes`, no note starts in the last
    AFTER_FRAMES frames, where an event would sound for a few milliseconds. (N,), (N,) -> notes."""
    hop = config.frame_size
    target_mags = magnitudes(target, PITCH_FFT, hop)
    residual = torch.relu(target_mags - magnitudes(render, PITCH_FFT, hop))
    residual = residual[: max(residual.shape[0] - AFTER_FRAMES, 0)]
    found: list[Note] = []
    for _ in range(count):
        energy = residual.pow(2).sum(dim=-1)
        frame = int(energy.argmax())
        if not float(energy[frame]) > 0:
            break
        pitches = notes_at(residual[frame : frame + 4].mean(dim=0), config.sample_rate, config.n_pitches, sound=target_mags[frame : frame + 4].mean(dim=0))
        if not pitches:
            break
        found.append(Note(max(frame - 1, 0), *pitches[0]))
        residual[max(frame - CLEARED_FRAMES[0], 0) : frame + CLEARED_FRAMES[1]] = 0.0
    return found


def relocate_dead_events(model: Any, optimiser: torch.optim.Adam, target: torch.Tensor, render: torch.Tensor) -> int:
    """Move up to MAX_MOVED of the model's dead events onto the residual's notes, at the
    median live gain, and zero their Adam moments. Returns how many events moved."""
    return _move_dead_events(model, optimiser, target, render, MAX_MOVED)


def fill_spare_events(model: Any, target: torch.Tensor, render: torch.Tensor) -> int:
    """Before a fit's first step: move every dead event (the spares the analysis found no
    note for) onto the residual's notes. Returns how many events moved."""
    return _move_dead_events(model, None, target, render, model.config.n_events)


def _move_dead_events(
    model: Any, optimiser: torch.optim.Adam | None, target: torch.Tensor, render: torch.Tensor, limit: int
) -> int:
    """Up to `limit` dead events onto the residual's notes, at the median live gain; their
    Adam moments zeroed when there is an optimiser."""
    with torch.no_grad():
        gain = model.groups["log_gain"][:, 0].exp()
        is_dead = dead_events(gain)
        dead = is_dead.nonzero().flatten()[:limit]
        if dead.numel() == 0:
            return 0
        notes = residual_notes(target.detach().float().cpu(), render.detach().float().cpu(), model.config, dead.numel())
        if not notes:
            return 0
        rows = dead[: len(notes)]
        live_gain = gain[~is_dead].median()
        fresh = model.rows_for_notes(
            torch.tensor([n.onset_frame - 0.5 for n in notes]),
            torch.tensor([n.pitch_midi for n in notes]),
            torch.full((len(notes),), float(live_gain)),
        )
        for name, param in model.groups.items():
            param[rows] = fresh[name].to(param.device)
            state = optimiser.state.get(param) if optimiser is not None else None
            if state:
                state["exp_avg"][rows] = 0.0
                state["exp_avg_sq"][rows] = 0.0
        return len(notes)


def match_level(model: Any, target: torch.Tensor, render: torch.Tensor) -> None:
    """Scale the gains so that the render's spectrogram matches the target's in the
    least-squares sense (the analysis finds relative levels only)."""
    with torch.no_grad():
        r, t = (framed_stft_magnitude(x, *FULL_BAND_STFT) for x in (render, target))
        scale = (r * t).sum() / (r * r).sum().clamp_min(1e-12)
        if bool(torch.isfinite(scale)):  # a broken target is left to the step guard
            model.groups["log_gain"].add_(scale.clamp_min(1e-6).log())


class Relocation:
    """Level match, spare events onto the first render's residual notes (all at once:
    relocation moves only a few events every hundred steps, too late for a short fit), level
    match again if any moved; then every RELOCATE_EVERY steps, `relocate_dead_events`."""

    def start(self, model: Any, target: torch.Tensor, render: torch.Tensor, round_: int) -> bool:
        if round_ == 1:
            return fill_spare_events(model, target, render) > 0
        match_level(model, target, render)
        return round_ == 0

    def due(self, steps_taken: int) -> bool:
        return steps_taken > 0 and steps_taken % RELOCATE_EVERY == 0

    def before_step(self, model: Any, optimiser: torch.optim.Optimizer, target: torch.Tensor, render: torch.Tensor) -> None:
        relocate_dead_events(model, optimiser, target, render)

    def kept(self, model: Any) -> torch.Tensor:
        """(E,) bool: the events a converged fit's file keeps, its live ones."""
        return ~dead_events(model.groups["log_gain"][:, 0].detach().exp())


RELOCATION = Relocation()
