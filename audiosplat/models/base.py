"""The one interface every event model offers: the fitter, the file reader, perturb and
merge use a model through it alone, never by its name or its class.

A model is an `nn.Module` whose parameters decode into `EventControls` (physical units).
Its strategy (gsplat's word) decides, around the optimiser's steps, where its events are.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.synth.controls import EventControls


class Strategy(Protocol):
    """Moves a model's events between the optimiser's steps (densify, prune, relocate)."""

    def start(self, model: EventModel, target: torch.Tensor, render: torch.Tensor, round_: int) -> bool:
        """Before a fresh fit's first step, given the clip (N,) and the render (N,) of the
        current parameters: adjust the model. Called with round_ = 0, 1, ... on a new render
        each time, for as long as it returns True."""

    def due(self, steps_taken: int) -> bool:
        """Whether `before_step` is to run before the step after `steps_taken` steps."""

    def before_step(self, model: EventModel, optimiser: torch.optim.Optimizer, target: torch.Tensor, render: torch.Tensor) -> None:
        """Adjust the model (and its optimiser state) given the clip and the current render."""

    def kept(self, model: EventModel) -> torch.Tensor:
        """(E,) bool: the events a converged fit's result keeps (the model's `kept` drops
        the rest)."""


class EventModel(Protocol):
    """What the fitter, the file reader, perturb and merge ask of a model.

    Class attributes: `default_lr` (Adam's rate when none is given), `default_loss` (a name
    in `core.config.LOSS_NAMES`), `fits_long_audio` (whether audio longer than one window can be fitted window
    by window into one file of this model), `coarse_steps` (whether a fit may begin with
    coarse steps, `FitConfig.coarse_samples`) and `strategy` (None: the events move by the
    gradient alone).
    """

    default_lr: ClassVar[float]
    default_loss: ClassVar[str]
    fits_long_audio: ClassVar[bool]
    coarse_steps: ClassVar[bool]
    strategy: ClassVar[Strategy | None]
    config: ModelConfig

    @property
    def latent_width(self) -> int:
        """Columns K of the (E, K) latents that `forward` returns and `decode` takes."""

    def initialise(self, clip: torch.Tensor, generator: torch.Generator) -> None:
        """Set the parameters for a fresh fit of `clip` (N,), drawing from `generator` (CPU)."""

    def forward(self) -> tuple[EventControls, torch.Tensor]:
        """Decode the current parameters: (controls of the E events, latents (E, K))."""

    def decode(self, latents: torch.Tensor, onset_bits: torch.Tensor) -> EventControls:
        """Latents (E, K) and one-hot onset bits (E, B, 2) -> controls."""

    def parameter_groups(self, lr: float) -> list[dict]:
        """Adam's parameter groups, each with its learning rate (`lr` scaled per group)."""

    def parameter_shapes(self, n_rows: int) -> dict[str, tuple[int, ...]]:
        """Shapes of the state dict a file holding `n_rows` events stores."""

    def perturb_latents(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, *, target: str, amount: float, generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """`target` (one of its kind's `perturb_targets`, `core.config.ModelKind`) moved by U(-amount, amount) noise from `generator`:
        the state dict and the latents (E, K) that decode to the varied events."""

    def described(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, onset_samples: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The state dict and latents that store the events decoded from `latents`, placed at
        `onset_samples` (E,) (a perturbation, a long fit's windows)."""

    def shifted(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, shift_samples: int
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The state dict and latents of these events moved `shift_samples` later (a merge)."""

    def kept(self, keep: torch.Tensor) -> EventModel:
        """A model of the same kind holding only the events `keep` (E,) bool, when the model
        has one row per event (only models with a strategy are asked)."""

    def joined(self, first: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The state dict that stores two sets of events side by side, when the model can
        (one row per event); else `first`'s."""
