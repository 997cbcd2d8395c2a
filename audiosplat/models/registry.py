"""The models a `ModelConfig` can name (`core.config.MODEL_KINDS`), built by name."""

from __future__ import annotations

from audiosplat.core.config import ModelConfig
from audiosplat.models.base import EventModel
from audiosplat.models.direct import DirectModel
from audiosplat.models.seed import SeedModel

MODEL_CLASSES: dict[str, type] = {"direct": DirectModel, "seed": SeedModel}


def model_class(name: str) -> type:
    """The class of the model `name` (its defaults are class attributes, `EventModel`)."""
    return MODEL_CLASSES[name]


def build_model(config: ModelConfig, n_rooms: int) -> EventModel:
    """An uninitialised model of the kind `config.model` names."""
    return model_class(config.model)(config, n_rooms)
