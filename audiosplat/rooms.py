"""Room impulse responses for the reverb: a procedural bank that ships with the code, or a
folder of impulse-response recordings supplied by the user (method.md §9.4)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiosplat.runtime import map_on_threads

PROCEDURAL_BANK = "procedural-v1"
# RT60 (time to decay by 60 dB) of each procedural room, seconds: booth to hall.
PROCEDURAL_RT60_S = (0.15, 0.25, 0.4, 0.6, 0.9, 1.3, 1.8, 2.5)
_PROCEDURAL_SEED = 20250101


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
        return impulses_sha256(self.impulses)


def impulses_sha256(impulses: torch.Tensor) -> str:
    """SHA-256 of the impulses as little-endian float32 bytes, row after row."""
    data = np.ascontiguousarray(impulses.detach().cpu().to(torch.float32).numpy(), dtype="<f4")  # a copy only on big-endian machines
    return hashlib.sha256(data).hexdigest()


def procedural_room(rt60_s: float, index: int, n_samples: int, sample_rate: int) -> np.ndarray:
    """One synthetic room: sparse early reflections, then noise decaying at the given RT60,
    darker as it decays (high frequencies are absorbed faster). Deterministic per `index`.

    Returns:
        (n_samples,) float64 impulse response with unit energy.
    """
    rng = np.random.Generator(np.random.PCG64(_PROCEDURAL_SEED + index))
    t_s = np.arange(n_samples) / sample_rate
    decay = 10.0 ** (-3.0 * t_s / rt60_s)  # -60 dB at rt60_s
    bright = rng.standard_normal(n_samples)
    dark = np.convolve(bright, np.ones(8) / 8.0, mode="same")
    # Crossfade from bright to dark over the first half of the decay.
    mix = np.clip(t_s / (0.5 * rt60_s), 0.0, 1.0)
    late = ((1.0 - mix) * bright + mix * dark) * decay
    onset = int(0.002 * sample_rate * (1 + index))  # pre-delay grows with room size
    late[:onset] = 0.0
    for _ in range(6):
        delay = onset + int(rng.uniform(0.0, 0.03 + 0.01 * index) * sample_rate)
        if delay < n_samples:
            late[delay] += rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.0) * 10.0 ** (-3.0 * t_s[delay] / rt60_s) * 4.0
    energy = np.sum(late**2)
    return late / np.sqrt(energy) if energy > 0 else late  # silent only for absurd sizes


def _to_float32(impulses: np.ndarray) -> torch.Tensor:
    """Cast to float32 with values below float32's smallest normal set to 0 first: they would
    cast to denormals, or to 0 where the CPU flushes denormals, and the bank and its hash
    must not depend on that."""
    impulses = np.where(np.abs(impulses) < np.finfo(np.float32).tiny, 0.0, impulses)
    return torch.from_numpy(impulses.astype(np.float32))


def procedural_bank(n_samples: int, sample_rate: int) -> RoomBank:
    """The shipped bank: one room per entry of PROCEDURAL_RT60_S.

    The rooms are made on torch's threads, each drawing from its own generator."""
    def room(index: int) -> torch.Tensor:
        return _to_float32(procedural_room(PROCEDURAL_RT60_S[index], index, n_samples, sample_rate))

    rooms = map_on_threads(room, range(len(PROCEDURAL_RT60_S)))
    names = tuple(f"rt60-{rt60:.2f}s" for rt60 in PROCEDURAL_RT60_S)
    return RoomBank(PROCEDURAL_BANK, names, torch.stack(rooms), embedded=False)


def user_bank(room_names: list[str], impulses: torch.Tensor) -> RoomBank:
    """A bank of user impulses (R, N): each is rescaled to unit energy; rejected if silent."""
    data = impulses.detach().cpu().to(torch.float64).numpy()
    energy = np.sum(data**2, axis=-1)
    for name, e in zip(room_names, energy.tolist()):
        if not np.isfinite(e) or e <= 0.0:
            raise ValueError(f"room impulse response '{name}' is silent or not finite")
    return RoomBank("user", tuple(room_names), _to_float32(data / np.sqrt(energy)[:, None]), embedded=True)


def load_room_folder(folder: Path, n_samples: int, sample_rate: int) -> RoomBank:
    """Every audio file directly in `folder` (sorted by name) as a room: mixed to mono,
    resampled, cut or zero-padded to `n_samples`, rescaled to unit energy."""
    from audiosplat.audio import AUDIO_SUFFIXES, load_clip

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: rooms folder not found")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not paths:
        raise ValueError(f"{folder}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) to use as rooms")
    clips = [load_clip(p, n_samples=n_samples, sample_rate=sample_rate, normalise=False).samples for p in paths]
    return user_bank([p.stem for p in paths], torch.from_numpy(np.stack(clips)).to(torch.float32))
