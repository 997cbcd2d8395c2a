"""The optimiser loop: Adam on the seed model's parameters against a spectral loss.

The loop owns nothing global: the seed, the device and the progress callback come in;
the fitted parameters, the loss history and the quality figures come out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from audiosplat.config import ModelConfig
from audiosplat.controls import EventControls
from audiosplat.loss import make_loss, relative_spectral_l1
from audiosplat.model import EventModel
from audiosplat.rooms import RoomBank
from audiosplat.synth import SynthAssets, noise_seeds_for, render_clip

LOSSES = ("multiband", "noise")


@dataclass(frozen=True)
class FitConfig:
    """How to fit: Adam(lr, betas) for `steps` steps, gradient norm clipped at `grad_clip`."""

    steps: int = 3000
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    seed: int = 0
    loss: str = "multiband"
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss '{self.loss}' (choose {' or '.join(LOSSES)})")

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


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device '{name}' (choose auto, cpu or cuda)")
    return torch.device(name)


def new_model(config: ModelConfig, rooms: RoomBank, seed: int) -> tuple[EventModel, torch.Tensor]:
    """A freshly initialised model and its per-event noise seeds, both fixed by `seed`."""
    model = EventModel(config, rooms.n_rooms)
    model.initialise(torch.Generator(device="cpu").manual_seed(seed))
    return model, noise_seeds_for(seed, config.n_events)


StepCallback = Callable[[int, float], None]


def guarded_step(
    loss: torch.Tensor, params: list[torch.nn.Parameter], optimiser: torch.optim.Optimizer, max_grad_norm: float
) -> bool:
    """Backward and update, unless the loss or the gradients are not finite (then nothing
    changes). The gradient's total norm is clipped at `max_grad_norm`. Returns whether the
    update was made."""
    if not torch.isfinite(loss.detach()):
        return False
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if not torch.isfinite(grad_norm):
        return False
    optimiser.step()
    return True


Renderer = Callable[[EventControls, SynthAssets], torch.Tensor]


class Fitter:
    """One fit in progress: the model, its synth assets, the loss and Adam, on one device.

    `renderer` turns controls into the clip; the default is the fast synth, and
    `audiosplat.reference.reference_clip` gives the slow reference (for benchmarks and tests).
    """

    def __init__(
        self,
        target: torch.Tensor,
        config: ModelConfig,
        fit_config: FitConfig,
        rooms: RoomBank,
        device: torch.device,
        renderer: Renderer = render_clip,
    ):
        if target.shape != (config.n_samples,):
            raise ValueError(f"target must have shape ({config.n_samples},), got {tuple(target.shape)}")
        self.config, self.fit_config, self.rooms, self.renderer = config, fit_config, rooms, renderer
        model, self.noise_seeds = new_model(config, rooms, fit_config.seed)
        self.model = model.to(device)
        self.assets = SynthAssets.build(config, self.noise_seeds, rooms, device)
        self.target = target.to(device=device, dtype=torch.float32)
        self.loss_fn = make_loss(fit_config.loss, self.target, torch.Generator(device="cpu").manual_seed(fit_config.seed))
        self.params = list(self.model.parameters())
        self.optimiser = torch.optim.Adam(self.params, lr=fit_config.lr, betas=(fit_config.beta1, fit_config.beta2))

    def step(self) -> tuple[float, bool]:
        """One guarded Adam step. Returns (loss before the update, whether it was applied)."""
        self.optimiser.zero_grad(set_to_none=True)
        controls, _ = self.model()
        loss = self.loss_fn(self.renderer(controls, self.assets))
        applied = guarded_step(loss, self.params, self.optimiser, self.fit_config.grad_clip)
        return float(loss.detach()), applied

    def evaluate(self) -> tuple[EventControls, torch.Tensor, torch.Tensor, float]:
        """(controls, latents, render, loss) of the current parameters, without gradients."""
        with torch.no_grad():
            controls, latents = self.model()
            render = self.renderer(controls, self.assets)
            return controls, latents, render, float(self.loss_fn(render))


def fit(
    target: torch.Tensor,
    config: ModelConfig,
    fit_config: FitConfig,
    rooms: RoomBank,
    device: torch.device,
    on_step: StepCallback | None = None,
) -> FitResult:
    """Fit E events to `target` (N,), a peak-normalised clip, for `fit_config.steps` steps.

    A step whose loss or gradients are not finite is skipped (no update) and counted
    (method.md §9.6). `on_step(step, loss)` is called after every step, for progress display.
    """
    start = time.perf_counter()
    fitter = Fitter(target, config, fit_config, rooms, device)
    history = np.full(fit_config.steps, np.nan, dtype=np.float64)
    skipped = 0
    for step in range(fit_config.steps):
        loss, applied = fitter.step()
        if applied:
            history[step] = loss
        else:
            skipped += 1
        if on_step is not None:
            on_step(step, loss)
    controls, latents, render, final_loss = fitter.evaluate()
    return FitResult(
        model=fitter.model,
        noise_seeds=fitter.noise_seeds,
        rooms=rooms,
        loss_history=history,
        skipped_steps=skipped,
        final_loss=final_loss,
        relative_l1=relative_spectral_l1(fitter.target, render),
        seconds=time.perf_counter() - start,
        render=render,
        controls=controls,
        latents=latents,
    )
