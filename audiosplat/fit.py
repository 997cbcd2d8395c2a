"""The optimiser loop: Adam on a model's parameters against a spectral loss.

The loop owns nothing global: the seed, the device and the progress callback come in;
the fitted parameters, the loss history and the quality figures come out.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from audiosplat.analysis import find_notes, resolve_pitches
from audiosplat.config import ModelConfig
from audiosplat.controls import EventControls
from audiosplat.direct import DirectModel, initial_groups
from audiosplat.models import Model, build_model
from audiosplat.relocate import RELOCATE_EVERY, fill_spare_events, relocate_dead_events
from audiosplat.loss import FULL_BAND_STFT, LOSS_NAMES, framed_stft_magnitude, make_loss, relative_spectral_l1
from audiosplat.model import EventModel
from audiosplat.rooms import RoomBank
from audiosplat.synth import SynthAssets, noise_seeds_for, render_clips

DEFAULT_LR = {"seed": 1e-3, "direct": 1e-2}
# the seed model keeps method.md's loss; the direct model fits the quiet bands too
DEFAULT_LOSS = {"seed": "multiband", "direct": "multiband-balanced"}
# Adam moves a parameter by about its learning rate per step, so each group of the direct
# model gets a rate in its own units: a fiftieth of a frame, a fiftieth of a semitone, ...
DIRECT_LR_SCALE = {"onset_frames": 2.0, "pitch": 2.0, "noise": 2.0, "mix": 5.0, "shape": 5.0, "room": 5.0, "reverb": 5.0}
# Exact pitches start from the analysis' refined pitches and need only fine tuning: at the
# grid's rate, events on one partial drift apart and, no longer on shared rows, beat
# (glass at 381 steps: ViSQOL 3.15 at scale 2, 3.72 at 0.25; README).
EXACT_PITCH_LR_SCALE = 0.25

@dataclass(frozen=True)
class FitConfig:
    """How to fit: Adam(lr, betas) for `steps` steps, or fewer if `seconds` (a wall-clock
    budget, set-up included) runs out first; gradient norm clipped at `grad_clip`.
    `lr` and `loss` None mean the model's default (`learning_rate`, `loss_for`)."""

    steps: int = 3000
    lr: float | None = None
    beta1: float = 0.9
    beta2: float = 0.999
    seed: int = 0
    loss: str | None = None
    grad_clip: float = 1.0
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"seconds must be a positive number, got {self.seconds}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.loss is not None and self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss '{self.loss}' (choose {' or '.join(LOSS_NAMES)})")

    def learning_rate(self, model: str) -> float:
        return DEFAULT_LR[model] if self.lr is None else self.lr

    def loss_for(self, model: str) -> str:
        return DEFAULT_LOSS[model] if self.loss is None else self.loss

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    """A fitted model and how the fit went. `loss_history[i]` is the loss before step i's
    update (NaN for a skipped step); `final_loss` is the loss of the final parameters."""

    model: Model
    noise_seeds: torch.Tensor
    rooms: RoomBank
    loss_history: np.ndarray
    skipped_steps: int
    final_loss: float
    relative_l1: float
    seconds: float
    render: torch.Tensor
    controls: EventControls
    latents: torch.Tensor
    optimizer_state: dict[str, torch.Tensor]
    partial: bool = False  # stopped before all its steps (see fit_batch's should_stop)


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device '{name}' (choose auto, cpu or cuda)")
    return torch.device(name)


def new_model(config: ModelConfig, rooms: RoomBank, seed: int, target: torch.Tensor | None = None) -> tuple[Model, torch.Tensor]:
    """A freshly initialised model and its per-event noise seeds, both fixed by `seed`: the
    seed model at random, the direct model from the notes found in `target` (N,)."""
    model = build_model(config, rooms.n_rooms)
    if isinstance(model, EventModel):
        model.initialise(torch.Generator(device="cpu").manual_seed(seed))
    else:
        clip = torch.nan_to_num(target.detach().cpu().float(), nan=0.0, posinf=0.0, neginf=0.0)
        model.initialise_from(initial_groups(find_notes(clip, config), config, rooms.n_rooms))
    return model, noise_seeds_for(seed, config.n_events)


def batch_pitches(config: ModelConfig, targets: torch.Tensor) -> ModelConfig:
    """`config` with "auto" pitches chosen for the (C, N) clips fitted together, which
    need one kind (`analysis.resolve_pitches`; `api.fit_clips` batches clips by kind)."""
    kinds = {resolve_pitches(config, [clip]) for clip in targets}
    if len(kinds) > 1:
        raise ValueError("auto pitches chose grid for some of these clips and exact for others: fit each kind in its own batch")
    return kinds.pop()


def parameter_groups(model: Model, lr: float) -> list[dict]:
    """Adam's parameter groups: one for the seed model, one per control group (with its
    rate from `DIRECT_LR_SCALE`, `EXACT_PITCH_LR_SCALE` for exact pitches) for the direct model."""
    if isinstance(model, EventModel):
        return [{"params": list(model.parameters()), "lr": lr}]
    return [
        {"params": [p], "lr": lr * (EXACT_PITCH_LR_SCALE if model.exact_pitches and name == "pitch" else DIRECT_LR_SCALE.get(name, 1.0))}
        for name, p in model.groups.items()
    ]


StepCallback = Callable[[int, float], None]


Renderer = Callable[[EventControls, SynthAssets], torch.Tensor]


@dataclass(frozen=True)
class ClipStart:
    """Where a continued fit starts: a model's state dict, its (E,) noise seeds and, when
    known, Adam's state (`adam_state`), so that the fit goes on as if never stopped."""

    parameters: dict[str, torch.Tensor]
    noise_seeds: torch.Tensor
    optimizer_state: dict[str, torch.Tensor] | None = None


def adam_state(model: Model, optimiser: torch.optim.Adam) -> dict[str, torch.Tensor]:
    """Adam's moments by parameter name ("exp_avg.<name>", "exp_avg_sq.<name>") and its
    step count ("step"), on the CPU; empty before the first step."""
    state: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        moments = optimiser.state.get(param)
        if moments:
            state[f"exp_avg.{name}"] = moments["exp_avg"].detach().cpu().clone()
            state[f"exp_avg_sq.{name}"] = moments["exp_avg_sq"].detach().cpu().clone()
            state["step"] = torch.as_tensor(float(moments["step"]))
    return state


def load_adam_state(model: Model, optimiser: torch.optim.Adam, state: dict[str, torch.Tensor]) -> None:
    """Restore what `adam_state` saved (parameters without saved moments start afresh)."""
    for name, param in model.named_parameters():
        if f"exp_avg.{name}" in state:
            optimiser.state[param] = {
                "step": torch.as_tensor(float(state["step"])),
                "exp_avg": state[f"exp_avg.{name}"].to(param.device).clone(),
                "exp_avg_sq": state[f"exp_avg_sq.{name}"].to(param.device).clone(),
            }


def concat_controls(parts: list[EventControls]) -> EventControls:
    """The events of several clips as one set of C*E events, clip after clip."""
    if len(parts) == 1:
        return parts[0]
    columns = {f.name: [getattr(p, f.name) for p in parts] for f in dataclasses.fields(EventControls)}
    return EventControls(**{name: None if v[0] is None else torch.cat(v) for name, v in columns.items()})


class Fitter:
    """C clips fitted together on one device: C models and C Adam optimisers (so every
    clip's fit is exactly what it would be alone), one batched synth over their C*E events,
    and one batched loss. C = 1 is the ordinary fit.

    `renderer` turns the controls of C*E events into (C, N) clips; the default is the fast
    synth, `audiosplat.reference.reference_clips` the slow reference (for benchmarks, tests).
    `start` continues earlier fits (`ClipStart` per clip); by default every clip starts
    from `fit_config.seed`. `backgrounds` (C, N), when given, is fixed audio added to each
    clip's render before the loss (a long file's earlier windows' tails), so the events
    explain only what it lacks.
    """

    def __init__(
        self,
        targets: torch.Tensor,
        config: ModelConfig,
        fit_config: FitConfig,
        rooms: RoomBank,
        device: torch.device,
        renderer: Renderer = render_clips,
        start: list[ClipStart] | None = None,
        backgrounds: torch.Tensor | None = None,
    ):
        if backgrounds is not None:
            fixed = backgrounds.to(device=device, dtype=torch.float32)
            renderer = lambda controls, assets, events=renderer: events(controls, assets) + fixed  # noqa: E731
        if targets.dim() == 1:
            targets = targets[None]
        if targets.dim() != 2 or targets.shape[1] != config.n_samples:
            raise ValueError(f"targets must have shape (C, {config.n_samples}), got {tuple(targets.shape)}")
        config = batch_pitches(config, targets)
        self.config, self.fit_config, self.rooms, self.renderer = config, fit_config, rooms, renderer
        self.n_clips = targets.shape[0]
        if start is not None and len(start) != self.n_clips:
            raise ValueError(f"give one start per clip: {len(start)} for {self.n_clips} clips")
        self.models, self.noise_seeds = [], []
        for c in range(self.n_clips):
            if start is None:
                model, noise_seeds = new_model(config, rooms, fit_config.seed, targets[c])
            else:  # the stored parameters replace any start: no analysis, no random draw
                model, noise_seeds = build_model(config, rooms.n_rooms), start[c].noise_seeds
                model.load_state_dict(start[c].parameters, strict=True)
            self.models.append(model.to(device))
            self.noise_seeds.append(noise_seeds)
        self.assets = SynthAssets.build(config, torch.cat(self.noise_seeds), rooms, device)
        self.targets = targets.to(device=device, dtype=torch.float32)
        self.loss_fn = make_loss(fit_config.loss_for(config.model), self.targets, torch.Generator(device="cpu").manual_seed(fit_config.seed))
        betas = (fit_config.beta1, fit_config.beta2)
        if isinstance(self.models[0], DirectModel) and start is None:
            self._match_level()
            self._fill_spare_events()
        lr = fit_config.learning_rate(config.model)
        self.optimisers = [torch.optim.Adam(parameter_groups(m, lr), betas=betas) for m in self.models]
        for c, (model, optimiser) in enumerate(zip(self.models, self.optimisers)):
            if start is not None and start[c].optimizer_state:
                load_adam_state(model, optimiser, start[c].optimizer_state)
        # steps taken so far, an earlier run's included, so that a resumed fit relocates
        # events at the same steps as an uninterrupted one
        self.steps_taken = [int(s.optimizer_state["step"]) if s.optimizer_state else 0 for s in start] if start else [0] * self.n_clips
        self.relocated_at = [-1] * self.n_clips  # so a skipped step does not relocate twice

    def _match_level(self) -> None:
        """Scale each clip's gains so that its first render's spectrogram matches the
        target's in the least-squares sense (the analysis finds relative levels only)."""
        with torch.no_grad():
            controls, _ = self._decode()
            renders = self.renderer(controls, self.assets)
            for model, render, target in zip(self.models, renders, self.targets):
                r, t = (framed_stft_magnitude(x, *FULL_BAND_STFT) for x in (render, target))
                scale = (r * t).sum() / (r * r).sum().clamp_min(1e-12)
                if bool(torch.isfinite(scale)):  # a broken target is left to the step guard
                    model.groups["log_gain"].add_(scale.clamp_min(1e-6).log())

    def _fill_spare_events(self) -> None:
        """Put the events that the analysis left spare (near-silent) on the notes of the
        first render's residual, all at once, then match the level again: relocation moves
        only a few events every hundred steps, too late for a short fit."""
        with torch.no_grad():
            renders = self.renderer(self._decode()[0], self.assets)
        moved = [fill_spare_events(model, target, render) for model, target, render in zip(self.models, self.targets, renders)]
        if any(moved):
            self._match_level()

    def _decode(self) -> tuple[EventControls, list[torch.Tensor]]:
        decoded = [model() for model in self.models]
        return concat_controls([c for c, _ in decoded]), [z for _, z in decoded]

    def step(self) -> tuple[list[float], list[bool]]:
        """One Adam step per clip, each guarded on its own. Returns per clip the loss before
        the update and whether the update was applied."""
        self._relocate_when_due()
        for optimiser in self.optimisers:
            optimiser.zero_grad(set_to_none=True)
        controls, _ = self._decode()
        losses = self.loss_fn(self.renderer(controls, self.assets))
        values = losses.detach().cpu().tolist()
        finite = torch.isfinite(losses.detach())
        if bool(finite.any()):
            losses[finite].sum().backward()
        applied = [
            bool(ok) and clip_and_step(list(m.parameters()), opt, self.fit_config.grad_clip)
            for ok, m, opt in zip(finite.tolist(), self.models, self.optimisers)
        ]
        for c, ok in enumerate(applied):
            self.steps_taken[c] += ok
        return values, applied

    def _relocate_when_due(self) -> None:
        """Before every RELOCATE_EVERY-th step of a direct model's fit, move its dead events
        (`relocate`), judged on a render of the current parameters. Before a step rather
        than after, so that a fit never ends on events just moved and not yet fitted."""
        due = [
            c for c, (model, taken) in enumerate(zip(self.models, self.steps_taken))
            if isinstance(model, DirectModel) and taken > 0 and taken % RELOCATE_EVERY == 0 and self.relocated_at[c] != taken
        ]
        if not due:
            return
        with torch.no_grad():
            renders = self.renderer(self._decode()[0], self.assets)
        for c in due:
            relocate_dead_events(self.models[c], self.optimisers[c], self.targets[c], renders[c])
            self.relocated_at[c] = self.steps_taken[c]

    def evaluate(self) -> tuple[EventControls, list[torch.Tensor], torch.Tensor, list[float]]:
        """(controls of all C*E events, latents per clip, renders (C, N), losses per clip) of
        the current parameters, without gradients."""
        with torch.no_grad():
            controls, latents = self._decode()
            renders = self.renderer(controls, self.assets)
            return controls, latents, renders, self.loss_fn(renders).cpu().tolist()


def clip_and_step(params: list[torch.nn.Parameter], optimiser: torch.optim.Optimizer, max_grad_norm: float) -> bool:
    """Clip the gradients' total norm at `max_grad_norm` and step, unless the gradients are
    not finite (then nothing changes). Returns whether the update was made."""
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if not torch.isfinite(grad_norm):
        return False
    optimiser.step()
    return True


BatchStepCallback = Callable[[int, list[float]], None]


def fit_batch(
    targets: torch.Tensor,
    config: ModelConfig,
    fit_config: FitConfig,
    rooms: RoomBank,
    device: torch.device,
    on_step: BatchStepCallback | None = None,
    start: list[ClipStart] | None = None,
    should_stop: Callable[[], bool] | None = None,
    backgrounds: torch.Tensor | None = None,
) -> list[FitResult]:
    """Fit E events to each of C peak-normalised clips `targets` (C, N) together, for
    `fit_config.steps` steps; one result per clip, each as `fit` alone would give it.

    A clip's step whose loss or gradients are not finite is skipped (no update) and counted
    (method.md §9.6). `on_step(step, losses)` is called after every step. When
    `should_stop()` turns true (checked between steps), the fit ends early and the results
    hold the steps done (`FitResult.partial`), ready to be resumed. When the time budget
    `fit_config.seconds` runs out, the fit ends too, complete (not partial).
    `backgrounds` (C, N): fixed audio added to the renders before the loss (see `Fitter`).
    """
    began = time.perf_counter()
    fitter = Fitter(targets, config, fit_config, rooms, device, start=start, backgrounds=backgrounds)
    rows: list[list[float]] = []  # per step, per clip; grown as it goes (--seconds has no step count)
    skipped = np.zeros(fitter.n_clips, dtype=np.int64)
    interrupted = False
    for step in range(fit_config.steps):
        if should_stop is not None and should_stop():
            interrupted = True
            break
        if fit_config.seconds is not None and time.perf_counter() - began > fit_config.seconds:
            break
        losses, applied = fitter.step()
        rows.append([loss if ok else math.nan for loss, ok in zip(losses, applied)])
        skipped += np.logical_not(applied)
        if on_step is not None:
            on_step(step, losses)
    controls, latents, renders, final_losses = fitter.evaluate()
    seconds = time.perf_counter() - began
    history = np.array(rows, dtype=np.float64).reshape(len(rows), fitter.n_clips).T
    e = config.n_events
    return [
        FitResult(
            model=fitter.models[c],
            noise_seeds=fitter.noise_seeds[c],
            rooms=rooms,
            loss_history=history[c],
            skipped_steps=int(skipped[c]),
            final_loss=final_losses[c],
            relative_l1=relative_spectral_l1(fitter.targets[c], renders[c]),
            seconds=seconds,
            render=renders[c],
            controls=controls.select(slice(c * e, (c + 1) * e)).replace(onset_continuous=None),
            latents=latents[c],
            optimizer_state=adam_state(fitter.models[c], fitter.optimisers[c]),
            partial=interrupted,
        )
        for c in range(fitter.n_clips)
    ]


def fit(
    target: torch.Tensor,
    config: ModelConfig,
    fit_config: FitConfig,
    rooms: RoomBank,
    device: torch.device,
    on_step: StepCallback | None = None,
) -> FitResult:
    """Fit E events to one peak-normalised clip `target` (N,); see `fit_batch`."""
    callback = None if on_step is None else (lambda step, losses: on_step(step, losses[0]))
    return fit_batch(target[None], config, fit_config, rooms, device, callback)[0]
