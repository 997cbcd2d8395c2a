"""Every model offers the one interface (`models.base.EventModel`), its torch-free layout
agrees with its real state dict, and nothing outside models/ asks which model it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from audiosplat.core.config import MODEL_KINDS, ModelConfig
from audiosplat.models.base import EventModel
from audiosplat.models.layouts import latent_width, parameter_shapes
from audiosplat.models.registry import MODEL_CLASSES, build_model
from tests.shared import ROOT

CONFIGS = [
    ModelConfig(model="seed", n_samples=4096, n_events=8),
    ModelConfig(model="seed", n_samples=2**16, n_events=64, latent_dim=5, n_pitches=7),
    ModelConfig(n_samples=4096, n_events=8),
    ModelConfig(n_samples=4096, n_events=4, pitches="grid"),
]


def test_every_kind_has_a_class_and_every_class_a_kind():
    assert set(MODEL_KINDS) == set(MODEL_CLASSES)


@pytest.mark.parametrize("name", sorted(MODEL_CLASSES))
def test_every_model_offers_the_interface(name):
    members = [m for m in dir(EventModel) if not m.startswith("_")] + list(EventModel.__annotations__)
    cls = MODEL_CLASSES[name]
    missing = [m for m in members if m != "config" and not hasattr(cls, m)]
    assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.model}-{c.n_events}-{c.pitches}")
@pytest.mark.parametrize("n_rooms", [1, 8])
def test_layout_is_the_models_own_state_dict(config, n_rooms):
    model = build_model(config, n_rooms)
    real = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    assert parameter_shapes(config, n_rooms, config.n_events) == real
    assert model.parameter_shapes(config.n_events) == real
    controls, latents = model()
    assert latent_width(config, n_rooms) == model.latent_width == latents.shape[1]
    assert controls.n_events == config.n_events


def test_a_direct_file_stores_one_row_per_event_whatever_their_number():
    config = ModelConfig(n_samples=4096, n_events=4)
    assert {shape[0] for shape in parameter_shapes(config, 8, 21).values()} == {21}


@pytest.mark.parametrize("config", CONFIGS[:1] + CONFIGS[2:3], ids=["seed", "direct"])
def test_described_latents_decode_to_the_same_events(config):
    """What perturb and a long fit store for decoded events decodes to those events again."""
    model = build_model(config, 8)
    model.initialise(torch.sin(torch.arange(config.n_samples) * 0.05), torch.Generator().manual_seed(0))
    controls, latents = model()
    with torch.no_grad():
        parameters, stored = model.described(model.state_dict(), latents.detach(), controls.onset_samples)
        again = build_model(config, 8)
        again.load_state_dict(parameters)
        decoded, _ = again()
    torch.testing.assert_close(decoded.gain, controls.gain.detach())
    assert torch.equal(decoded.onset_samples, controls.onset_samples)
    assert stored.shape == latents.shape


def test_no_code_outside_models_asks_which_model_it_has():
    """The check of docs/design.md: no isinstance on a model class, no test of a model's name."""
    pattern = re.compile(r'isinstance\([^)]*Model|== *"(direct|seed)"')
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "audiosplat").rglob("*.py"))
        if "models" not in path.relative_to(ROOT / "audiosplat").parts[:1]
        for n, line in enumerate(Path(path).read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, found
