"""Room impulse responses for the reverb: a procedural bank that ships with the code, or a
folder of impulse-response recordings supplied by the user (method.md §9.4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from audiosplat.synth.procedural_rooms import (  # noqa: F401 - the bank's constants, re-exported
    PROCEDURAL_BANK,
    PROCEDURAL_RT60_S,
    SHIPPED_BANK_SIZE,
    generate_procedural_impulses,
    impulses_sha256,
    procedural_impulses,
    procedural_names,
    to_float32,
)


@dataclass(frozen=True)
class RoomBank:
    """R impulse responses of N samples, each with unit energy (sum of squares 1).

    `name` is PROCEDURAL_BANK for the shipped bank, otherwise "user"; `embedded` says whether
    a .splat must carry the impulses themselves (user rooms) or may regenerate them by name.
    """

    name: str
    room_names: tuple[str, ...]
    impulses: torch.Tensor  # (R, N) float32
    embedded: bool

    @property
    def n_rooms(self) -> int:
        return len(self.room_names)

    @property
    def sha256(self) -> str:
        """SHA-256 of the impulses (`procedural_rooms.impulses_sha256`)."""
        return impulses_sha256(self.impulses.detach().cpu().to(torch.float32).numpy())


def procedural_bank(n_samples: int, sample_rate: int) -> RoomBank:
    """The shipped bank: one room per entry of PROCEDURAL_RT60_S (each call gets its own
    copy of the impulses)."""
    impulses = torch.from_numpy(procedural_impulses(n_samples, sample_rate).copy())
    return RoomBank(PROCEDURAL_BANK, procedural_names(), impulses, embedded=False)


def generate_procedural_bank(n_samples: int, sample_rate: int) -> torch.Tensor:
    """The procedural bank's (R, N) float32 impulses, computed (not read from the shipped file)."""
    return torch.from_numpy(generate_procedural_impulses(n_samples, sample_rate))


def user_bank(room_names: list[str], impulses: torch.Tensor) -> RoomBank:
    """A bank of user impulses (R, N): each is rescaled to unit energy; rejected if silent."""
    data = impulses.detach().cpu().to(torch.float64).numpy()
    energy = np.sum(data**2, axis=-1)
    for name, e in zip(room_names, energy.tolist()):
        if not np.isfinite(e) or e <= 0.0:
            raise ValueError(f"room impulse response '{name}' is silent or not finite")
    return RoomBank("user", tuple(room_names), torch.from_numpy(to_float32(data / np.sqrt(energy)[:, None])), embedded=True)
