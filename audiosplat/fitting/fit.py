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

from audiosplat.core.config import LOSS_NAMES, ModelConfig
from audiosplat.core.fields import BED_PARAMETER
from audiosplat.core.runtime import DEVICES
from audiosplat.fitting.bed import BED_LR_SCALE, starting_bed
from audiosplat.fitting.loss import make_loss, relative_spectral_l1
from audiosplat.models.analysis import resolve_pitches
from audiosplat.models.base import EventModel
from audiosplat.models.registry import build_model, model_class
from audiosplat.synth.controls import EventControls, concat_controls
from audiosplat.synth.noise_bed import NoiseBed, bed_noise, noise_spectrum, render_bed
from audiosplat.synth.render import SynthAssets, noise_seeds_for, render_clips, render_stems
from audiosplat.synth.rooms import RoomBank

MAX_LR = 10.0  # Adam moves each parameter by about lr a step: beyond this, only overflow


# A converging fit (`FitConfig.converge`) is judged every CONVERGE_EVERY steps (half the
# direct model's relocation period), on the best loss of the period, from CONVERGE_FROM steps
# on (the first relocations shake it up).
CONVERGE_EVERY = 50
CONVERGE_FROM = 200
# `fit`'s default: stop once fifty steps lower the best loss by less than 2%
# (docs/benchmarks.md, "When a fit stops").
DEFAULT_CONVERGE = 0.02
# A converged fit leaves its dead events out of its file only when the loss without them is
# at most this much (relative) higher: speech's 12 events 40-47 dB under the loudest held
# 2% of its loss (docs/benchmarks.md, "When a fit stops").
KEEP_LOSS_RISE = 0.001
# ... and the live events whose removal alone raises its loss by less than this (relative):
# an eighth of a default fit's events (docs/benchmarks.md, "When a fit stops").
NEGLIGIBLE_RISE = 1e-4
DEFAULT_STEPS = 3000
# `fit`'s default takes coarse steps until converged, each event synthesised over its first
# DEFAULT_COARSE_SAMPLES samples (a step 2.8 times cheaper at N = 2^16), then FINE_STEPS exact
# steps that fit the events' tails (docs/benchmarks.md, "Coarse steps, then exact ones").
DEFAULT_COARSE_SAMPLES = 16384
FINE_STEPS = 50


@dataclass(frozen=True)
class FitConfig:
    """How to fit: Adam(lr, betas) for `steps` steps, or fewer if `seconds` (a wall-clock
    budget, set-up included) runs out first, or if `converge` is set and the fit has
    converged (`converged`); gradient norm clipped at `grad_clip`.
    `lr` and `loss` None mean the model's default (`learning_rate`, `loss_for`: the model
    class's `default_lr`, `default_loss`).
    `coarse_samples`: a fit of whole-clip event buffers (`coarse_for`) first takes coarse
    steps, each event synthesised over this many samples (`ModelConfig.event_samples`),
    until it converges or `fine_steps` steps are left of `steps`; then `fine_steps` exact
    steps."""

    steps: int = 3000
    lr: float | None = None
    beta1: float = 0.9
    beta2: float = 0.999
    seed: int = 0
    loss: str | None = None
    grad_clip: float = 1.0
    seconds: float | None = None
    converge: float | None = None
    coarse_samples: int | None = None
    fine_steps: int = FINE_STEPS

    def __post_init__(self) -> None:
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"seconds must be a positive number, got {self.seconds}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.lr is not None and not 0 < self.lr <= MAX_LR:
            raise ValueError(f"learning rate must be above 0 and at most {MAX_LR:g}, got {self.lr}")
        if self.converge is not None and not 0 < self.converge < 1:
            raise ValueError(f"converge is a relative loss improvement between 0 and 1, got {self.converge}")
        if self.coarse_samples is not None and self.seconds is not None:
            raise ValueError("a coarse phase needs a step budget: it cannot end by a time budget")
        if self.fine_steps < 1:
            raise ValueError(f"fine steps must be >= 1, got {self.fine_steps}")
        if self.loss is not None and self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss '{self.loss}' (choose {' or '.join(LOSS_NAMES)})")

    def learning_rate(self, model: str) -> float:
        """The rate a fit of the model named `model` uses."""
        return model_class(model).default_lr if self.lr is None else self.lr

    def loss_for(self, model: str) -> str:
        """The loss a fit of the model named `model` uses."""
        return model_class(model).default_loss if self.loss is None else self.loss

    def coarse_for(self, config: ModelConfig) -> int | None:
        """The coarse phase's event buffer for a fit of `config`, or None without one: only
        fits of whole-clip buffers longer than it, of a model that takes coarse steps."""
        exact = model_class(config.model).coarse_steps and config.event_samples is None
        return self.coarse_samples if exact and self.coarse_samples is not None and self.coarse_samples < config.n_samples else None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    """A fitted model and how the fit went. `loss_history[i]` is the loss before step i's
    update (NaN for a skipped step); `final_loss` is the loss of the final parameters."""

    model: EventModel
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
    converged: bool = False  # ended by its convergence rule (`FitConfig.converge`)
    noise_bed: NoiseBed | None = None  # the clip's bed, when the config has one
    coarse_steps: int = 0  # the steps taken with coarse event buffers (`FitConfig.coarse_samples`)


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA device is available")
    if name not in DEVICES:
        raise ValueError(f"unknown device '{name}' (choose {', '.join(DEVICES)})")
    return torch.device(name)


def new_model(config: ModelConfig, rooms: RoomBank, seed: int, target: torch.Tensor) -> tuple[EventModel, torch.Tensor]:
    """A freshly initialised model for the clip `target` (N,) and its per-event noise
    seeds, both fixed by `seed`."""
    model = build_model(config, rooms.n_rooms)
    model.initialise(target, torch.Generator(device="cpu").manual_seed(seed))
    return model, noise_seeds_for(seed, config.n_events)


def batch_pitches(config: ModelConfig, targets: torch.Tensor) -> ModelConfig:
    """`config` with "auto" pitches chosen for the (C, N) clips fitted together, which
    need one kind (`analysis.resolve_pitches`; `api.fit_clips` batches clips by kind)."""
    kinds = {resolve_pitches(config, [clip]) for clip in targets}
    if len(kinds) > 1:
        raise ValueError("auto pitches chose grid for some of these clips and exact for others: fit each kind in its own batch")
    return kinds.pop()


StepCallback = Callable[[int, float], None]


Renderer = Callable[[EventControls, SynthAssets], torch.Tensor]


@dataclass(frozen=True)
class ClipStart:
    """Where a continued fit starts: a model's state dict, its (E,) noise seeds and, when
    known, Adam's state (`adam_state`), so that the fit goes on as if never stopped."""

    parameters: dict[str, torch.Tensor]
    noise_seeds: torch.Tensor
    optimizer_state: dict[str, torch.Tensor] | None = None
    noise_bed: NoiseBed | None = None


def adam_state(named: list[tuple[str, torch.nn.Parameter]], optimiser: torch.optim.Adam) -> dict[str, torch.Tensor]:
    """Adam's moments by parameter name ("exp_avg.<name>", "exp_avg_sq.<name>") and its
    step count ("step"), on the CPU; empty before the first step."""
    state: dict[str, torch.Tensor] = {}
    for name, param in named:
        moments = optimiser.state.get(param)
        if moments:
            state[f"exp_avg.{name}"] = moments["exp_avg"].detach().cpu().clone()
            state[f"exp_avg_sq.{name}"] = moments["exp_avg_sq"].detach().cpu().clone()
            state["step"] = torch.as_tensor(float(moments["step"]))
    return state


def load_adam_state(named: list[tuple[str, torch.nn.Parameter]], optimiser: torch.optim.Adam, state: dict[str, torch.Tensor]) -> None:
    """Restore what `adam_state` saved (parameters without saved moments start afresh)."""
    for name, param in named:
        if f"exp_avg.{name}" in state:
            optimiser.state[param] = {
                "step": torch.as_tensor(float(state["step"])),
                "exp_avg": state[f"exp_avg.{name}"].to(param.device).clone(),
                "exp_avg_sq": state[f"exp_avg_sq.{name}"].to(param.device).clone(),
            }


class Fitter:
    """C clips fitted together on one device: C models and C Adam optimisers (so every
    clip's fit is exactly what it would be alone), one batched synth over their C*E events,
    and one batched loss. C = 1 is the ordinary fit.

    `renderer` turns the controls of C*E events into (C, N) clips; the default is the fast
    synth, `audiosplat.synth.reference.reference_clips` the slow reference (for benchmarks, tests).
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
        self.backgrounds = None if backgrounds is None else backgrounds.to(device=device, dtype=torch.float32)
        if targets.dim() == 1:
            targets = targets[None]
        if targets.dim() != 2 or targets.shape[1] != config.n_samples:
            raise ValueError(f"targets must have shape (C, {config.n_samples}), got {tuple(targets.shape)}")
        config = batch_pitches(config, targets)
        self.exact_event_samples = config.event_samples  # what `refine` sets once the coarse phase ends
        coarse = fit_config.coarse_for(config)
        if coarse is not None:
            config = dataclasses.replace(config, event_samples=coarse)
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
        beds = [_clip_bed(config, fit_config, targets[c], None if start is None else start[c]) for c in range(self.n_clips)] if config.has_noise_bed else []
        self.beds = [torch.nn.Parameter(bed.levels_db.to(device=device, dtype=torch.float32).clone()) for bed in beds]
        self.bed_seeds = [bed.seed for bed in beds]
        self.bed_spectra = noise_spectrum(torch.stack([bed_noise(seed, config.n_samples) for seed in self.bed_seeds]).to(device)) if beds else None
        self.assets = SynthAssets.build(config, torch.cat(self.noise_seeds), rooms, device)
        self.targets = targets.to(device=device, dtype=torch.float32)
        self.loss_fn = make_loss(fit_config.loss_for(config.model), self.targets, torch.Generator(device="cpu").manual_seed(fit_config.seed))
        if start is None:
            self._start_strategies()
        self.optimisers = [self._optimiser(c) for c in range(self.n_clips)]
        for c, optimiser in enumerate(self.optimisers):
            if start is not None and start[c].optimizer_state:
                load_adam_state(self.named_parameters(c), optimiser, start[c].optimizer_state)
        # steps taken so far, an earlier run's included, so that a resumed fit relocates
        # events at the same steps as an uninterrupted one
        self.steps_taken = [int(s.optimizer_state["step"]) if s.optimizer_state else 0 for s in start] if start else [0] * self.n_clips
        self.relocated_at = [-1] * self.n_clips  # so a skipped step does not relocate twice
        self.pruned = False  # whether `keep_live_events` left clips of different event counts

    @property
    def coarse(self) -> bool:
        """Whether the steps are coarse: events synthesised over fewer samples than exact."""
        return self.config.event_samples != self.exact_event_samples

    def refine(self) -> None:
        """End the coarse phase, if there is one: from here on every event is synthesised
        over its exact buffer. The parameters and Adam's state carry over as they are."""
        if not self.coarse:
            return
        self.config = dataclasses.replace(self.config, event_samples=self.exact_event_samples)
        for model in self.models:
            model.config = dataclasses.replace(model.config, event_samples=self.exact_event_samples)
        self.assets = SynthAssets.build(self.config, torch.cat(self.noise_seeds), self.rooms, self.targets.device)

    def _optimiser(self, c: int) -> torch.optim.Adam:
        """A fresh Adam over clip c's parameters, each group at its own rate."""
        lr = self.fit_config.learning_rate(self.config.model)
        groups = self.models[c].parameter_groups(lr) + [{"params": [bed], "lr": lr * BED_LR_SCALE} for bed in self.beds[c : c + 1]]
        return torch.optim.Adam(groups, betas=(self.fit_config.beta1, self.fit_config.beta2))

    def keep_live_events(self) -> None:
        """Each clip's events reduced to those that carry something, Adam's moments with
        them: what a converged fit stores. Of the events its model's strategy keeps
        (`Strategy.kept`, the live ones), the negligible ones are left out (`candidate_keeps`);
        unless the clip's loss without them rises by more than KEEP_LOSS_RISE (quiet events
        together can carry a quiet passage), when the live ones are kept.
        Then the clips may hold different event counts: `evaluate` renders them one by one,
        and no more steps are taken. The render is a sum of the events' stems, so each
        loss without some events is the render less their stems: one render of stems a clip."""
        as_they_stand = None  # (renders, losses), rendered only once some clip has events to judge
        for c, model in enumerate(self.models):
            live = model.strategy.kept(model).cpu() if model.strategy is not None else None
            if live is None or not bool(live.any()):
                continue
            as_they_stand = as_they_stand or self.evaluate()[2:]
            renders, losses = as_they_stand
            with torch.no_grad():
                assets = dataclasses.replace(self.assets.with_events(self.noise_seeds[c]), config=model.config)
                stems = render_stems(model()[0].replace(onset_continuous=None), assets)  # (E, N)
            rises = torch.tensor([self._loss_replacing(c, renders, renders[c] - stem) for stem in stems]) / losses[c] - 1.0
            for keep in candidate_keeps(live, rises):
                if self._loss_replacing(c, renders, renders[c] - stems[~keep.to(stems.device)].sum(dim=0)) <= losses[c] * (1.0 + KEEP_LOSS_RISE):
                    self._keep(c, keep)
                    break

    def _keep(self, c: int, keep: torch.Tensor) -> None:
        """Clip c's events reduced to `keep` (E,) bool, their noise seeds and Adam's moments
        with them."""
        state = adam_state(self.named_parameters(c), self.optimisers[c])
        self.models[c], self.noise_seeds[c] = self.models[c].kept(keep), self.noise_seeds[c][keep]
        self.optimisers[c] = self._optimiser(c)
        per_event = {k: v[keep] if k.startswith("exp_avg") and not k.endswith(BED_PARAMETER) else v for k, v in state.items()}
        load_adam_state(self.named_parameters(c), self.optimisers[c], per_event)
        self.pruned = True

    def _loss_replacing(self, c: int, renders: torch.Tensor, render: torch.Tensor) -> float:
        """Clip c's loss were its render `render` (N,), the other clips as in `renders` (C, N)."""
        with torch.no_grad():
            renders = renders.clone()
            renders[c] = render
            return float(self.loss_fn(renders)[c])

    def _start_strategies(self) -> None:
        """Before a fresh fit's first step, each model's strategy adjusts it against renders
        of its parameters, for as many rounds as it asks for: each clip as it would alone."""
        asking = [m.strategy is not None for m in self.models]
        round_ = 0
        while any(asking):
            with torch.no_grad():
                renders = self._render(self._decode()[0])
            asking = [
                ask and self.models[c].strategy.start(self.models[c], self.targets[c], renders[c], round_)
                for c, ask in enumerate(asking)
            ]
            round_ += 1

    def named_parameters(self, c: int) -> list[tuple[str, torch.nn.Parameter]]:
        """Clip c's parameters by name: its model's, and its bed's (`BED_PARAMETER`)."""
        return [*self.models[c].named_parameters(), *((BED_PARAMETER, bed) for bed in self.beds[c : c + 1])]

    def noise_bed(self, c: int) -> NoiseBed | None:
        """Clip c's bed as it stands (on the CPU), or None without one."""
        return NoiseBed(self.beds[c].detach().cpu().clone(), self.bed_seeds[c]) if self.beds else None

    def _render(self, controls: EventControls) -> torch.Tensor:
        """The C clips' renders (C, N): the events, the beds under them and the backgrounds."""
        return self._with_beds(self.renderer(controls, self.assets))

    def _with_beds(self, renders: torch.Tensor, clips: slice = slice(None)) -> torch.Tensor:
        """Event renders (C', N) of the clips `clips` with their beds and backgrounds added."""
        if self.beds:
            cfg = self.config
            renders = renders + render_bed(torch.stack(list(self.beds[clips])), self.bed_spectra[clips], cfg.n_samples, cfg.sample_rate)
        return renders if self.backgrounds is None else renders + self.backgrounds[clips]

    def _render_clip(self, c: int, controls: EventControls, noise_seeds: torch.Tensor, config: ModelConfig) -> torch.Tensor:
        """Clip c's render (1, N) of its own count of events, their `noise_seeds` and `config`."""
        assets = dataclasses.replace(self.assets.with_events(noise_seeds), config=config)
        return self._with_beds(self.renderer(controls, assets), slice(c, c + 1))

    def _render_each(self, controls: list[EventControls]) -> torch.Tensor:
        """The C clips' renders (C, N), clip by clip: each its own count of events."""
        return torch.cat([self._render_clip(c, clip_controls, self.noise_seeds[c], self.models[c].config) for c, clip_controls in enumerate(controls)])

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
        losses = self.loss_fn(self._render(controls))
        values = losses.detach().cpu().tolist()
        finite = torch.isfinite(losses.detach())
        if bool(finite.any()):
            losses[finite].sum().backward()
        applied = [
            bool(ok) and clip_and_step([p for _, p in self.named_parameters(c)], opt, self.fit_config.grad_clip)
            for c, (ok, opt) in enumerate(zip(finite.tolist(), self.optimisers))
        ]
        for c, ok in enumerate(applied):
            self.steps_taken[c] += ok
        return values, applied

    def _relocate_when_due(self) -> None:
        """Run each model's strategy when it is due (counted in steps over the whole fit,
        resumes included), judged on a render of the current parameters. Before a step
        rather than after, so that a fit never ends on events just moved and not yet fitted."""
        due = [
            c for c, (model, taken) in enumerate(zip(self.models, self.steps_taken))
            if model.strategy is not None and model.strategy.due(taken) and self.relocated_at[c] != taken
        ]
        if not due:
            return
        with torch.no_grad():
            renders = self._render(self._decode()[0])
        for c in due:
            self.models[c].strategy.before_step(self.models[c], self.optimisers[c], self.targets[c], renders[c])
            self.relocated_at[c] = self.steps_taken[c]

    def evaluate(self) -> tuple[list[EventControls], list[torch.Tensor], torch.Tensor, list[float]]:
        """(controls per clip, latents per clip, renders (C, N), losses per clip) of the
        current parameters, without gradients."""
        with torch.no_grad():
            decoded = [model() for model in self.models]
            controls = [c.replace(onset_continuous=None) for c, _ in decoded]
            renders = self._render_each(controls) if self.pruned else self._render(concat_controls(controls))
            return controls, [z for _, z in decoded], renders, self.loss_fn(renders).cpu().tolist()


def candidate_keeps(live: torch.Tensor, rises: torch.Tensor) -> list[torch.Tensor]:
    """The event sets (E,) bool a converged fit tries to keep, in turn, from its `live`
    events (E,) bool and the loss rise (E,) each event's removal alone makes: the live
    events less the negligible ones (a rise under NEGLIGIBLE_RISE), then the live ones;
    each set once, and none of all the events or of no event."""
    carrying = live & (rises >= NEGLIGIBLE_RISE)
    sets = (carrying, live) if bool((carrying != live).any()) else (live,)
    return [keep for keep in sets if bool(keep.any()) and not bool(keep.all())]


def _clip_bed(config: ModelConfig, fit_config: FitConfig, target: torch.Tensor, start: ClipStart | None) -> NoiseBed:
    """A clip's bed: a continued fit's, else one started from the clip (`starting_bed`)."""
    if start is not None and start.noise_bed is not None:
        return start.noise_bed
    return starting_bed(target, config, fit_config.seed)


def clip_and_step(params: list[torch.nn.Parameter], optimiser: torch.optim.Optimizer, max_grad_norm: float) -> bool:
    """Clip the gradients' total norm at `max_grad_norm` and step, unless the gradients or
    the updated parameters are not finite (then the parameters stay as they were). Returns
    whether the update was made."""
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if not torch.isfinite(grad_norm):
        return False
    before = [p.detach().clone() for p in params]  # a few thousand numbers: cheap insurance
    optimiser.step()
    if bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
        return True
    with torch.no_grad():
        for p, old in zip(params, before):
            p.copy_(old)
    return False


BatchStepCallback = Callable[[int, list[float]], None]


def default_fit(seed: int = 0) -> FitConfig:
    """What `fit` does without --steps or --seconds: coarse steps until converged
    (`DEFAULT_CONVERGE`), then exact ones (`DEFAULT_COARSE_SAMPLES`), at most DEFAULT_STEPS."""
    return FitConfig(steps=DEFAULT_STEPS, seed=seed, converge=DEFAULT_CONVERGE, coarse_samples=DEFAULT_COARSE_SAMPLES)


def converged(history: np.ndarray, steps_taken: int, converge: float) -> bool:
    """Whether a fit whose losses so far are `history` (steps,) (NaN: skipped), having taken
    `steps_taken` steps in all, has converged: at the end of a period of CONVERGE_EVERY steps,
    at least CONVERGE_FROM into this run, the period's best loss is less than `converge`
    (relative) below the best before it."""
    if steps_taken % CONVERGE_EVERY or len(history) < max(CONVERGE_FROM, 2 * CONVERGE_EVERY):
        return False
    earlier, latest = np.nanmin(history[:-CONVERGE_EVERY], initial=np.inf), np.nanmin(history[-CONVERGE_EVERY:], initial=np.inf)
    return bool(np.isfinite(earlier) and latest > earlier * (1.0 - converge))


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
    With `fit_config.converge`, the fit ends, complete, once every clip has `converged`
    (`FitResult.converged`).
    """
    began = time.perf_counter()
    fitter = Fitter(targets, config, fit_config, rooms, device, start=start, backgrounds=backgrounds)
    rows: list[list[float]] = []  # per step, per clip; grown as it goes (--seconds has no step count)
    skipped = np.zeros(fitter.n_clips, dtype=np.int64)
    interrupted = stopped_converged = False
    coarse_steps, ends_at = 0, fit_config.steps  # a converged coarse phase moves the end to after its fine steps
    step = 0
    while step < ends_at:
        if should_stop is not None and should_stop():
            interrupted = True
            break
        if fit_config.seconds is not None and time.perf_counter() - began > fit_config.seconds:
            break
        if step >= ends_at - fit_config.fine_steps:
            fitter.refine()
        coarse_steps += fitter.coarse
        losses, applied = fitter.step()
        rows.append([loss if ok else math.nan for loss, ok in zip(losses, applied)])
        skipped += np.logical_not(applied)
        if on_step is not None:
            on_step(step, losses)
        step += 1
        # the history is gathered only at a period's end, not every step
        if fit_config.converge is not None and not stopped_converged and all(taken % CONVERGE_EVERY == 0 for taken in fitter.steps_taken):
            history = np.array(rows)
            if all(converged(history[:, c], fitter.steps_taken[c], fit_config.converge) for c in range(fitter.n_clips)):
                stopped_converged = True
                ends_at = step + fit_config.fine_steps if fitter.coarse else step
    fitter.refine()  # the file holds exact events, whatever phase the fit ended in
    if stopped_converged:  # a fit cut short keeps every row, so that a resume goes on exactly
        fitter.keep_live_events()
    controls, latents, renders, final_losses = fitter.evaluate()
    seconds = time.perf_counter() - began
    history = np.array(rows, dtype=np.float64).reshape(len(rows), fitter.n_clips).T
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
            controls=controls[c],
            latents=latents[c],
            optimizer_state=adam_state(fitter.named_parameters(c), fitter.optimisers[c]),
            partial=interrupted,
            converged=stopped_converged,
            noise_bed=fitter.noise_bed(c),
            coarse_steps=coarse_steps,
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
