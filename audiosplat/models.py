"""The models a `ModelConfig` can name, built by name."""

from __future__ import annotations

from audiosplat.config import ModelConfig
from audiosplat.direct import DirectModel
from audiosplat.model import EventModel

Model = EventModel | DirectModel


def build_model(config: ModelConfig, n_rooms: int) -> Model:
    """An uninitialised model of the kind `config.model` names."""
    return EventModel(config, n_rooms) if config.model == "seed" else DirectModel(config, n_rooms)
