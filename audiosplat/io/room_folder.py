"""A folder of impulse-response recordings as the room bank (`fit --rooms DIR`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from audiosplat.io.audio import load_clip
from audiosplat.io.kinds import AUDIO_SUFFIXES
from audiosplat.synth.rooms import RoomBank, user_bank


def load_room_folder(folder: Path, n_samples: int, sample_rate: int) -> RoomBank:
    """Every audio file directly in `folder` (sorted by name) as a room: mixed to mono,
    resampled, cut or zero-padded to `n_samples`, rescaled to unit energy."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: rooms folder not found")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not paths:
        raise ValueError(f"{folder}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) to use as rooms")
    clips = [load_clip(p, n_samples=n_samples, sample_rate=sample_rate, normalise=False).samples for p in paths]
    return user_bank([p.stem for p in paths], torch.from_numpy(np.stack(clips)).to(torch.float32))
