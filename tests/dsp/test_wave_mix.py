"""The grouped wave mix (`wave_mix.mix_waves`) against the plain product: same audio, same
gradients of the models' parameters, and the plain product where grouping saves nothing."""

from __future__ import annotations

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.wave_mix import _groups, mix_waves
from audiosplat.dsp.wavetable import make_wavetable
from audiosplat.models.direct import DirectModel, note_rows
from audiosplat.models.seed import SeedModel

CONFIG = ModelConfig(pitches="grid", n_samples=4096, n_events=16)
N_ROOMS = 8


def _direct_model() -> DirectModel:
    """16 notes over five octaves, some sharing pitches, one silent."""
    generator = torch.Generator().manual_seed(3)
    pitches = torch.randint(36, 96, (CONFIG.n_events,), generator=generator).float() + 0.3
    gains = torch.rand(CONFIG.n_events, generator=generator).index_fill_(0, torch.tensor([5]), 0.0)
    model = DirectModel(CONFIG, N_ROOMS)
    model.initialise_from(note_rows(torch.linspace(1, 40, CONFIG.n_events), pitches, gains + 1e-3, N_ROOMS))
    return model


def _mix_and_gradients(model: torch.nn.Module, mix) -> tuple[torch.Tensor, list[torch.Tensor]]:
    waves = make_wavetable(CONFIG.n_pitches, CONFIG.n_samples, CONFIG.sample_rate, "band-limited")
    mixed = mix(model()[0].resonance, waves)
    weights = torch.randn(mixed.shape, generator=torch.Generator().manual_seed(5))
    grads = torch.autograd.grad((mixed * weights).sum(), list(model.parameters()), allow_unused=True)
    return mixed.detach(), [g if g is not None else torch.zeros(()) for g in grads]


def test_direct_weights_are_mixed_in_groups_as_the_plain_product():
    model = _direct_model()
    resonance = model()[0].resonance.detach()
    groups = _groups(resonance != 0)
    assert groups is not None, "a direct model's weights should be grouped"
    assert sorted(torch.cat([rows for rows, _ in groups]).tolist()) == list(range(CONFIG.n_events))
    mixed, grads = _mix_and_gradients(model, mix_waves)
    plain, plain_grads = _mix_and_gradients(model, lambda w, v: w @ v)
    assert float((mixed - plain).abs().max()) <= 1e-5 * float(plain.abs().max())
    assert float(grads[list(model.groups).index("pitch")].abs().max()) > 0
    for grad, plain_grad in zip(grads, plain_grads):
        assert float((grad - plain_grad).norm()) <= 1e-5 * float(plain_grad.norm()) + 1e-12


def test_each_group_reads_only_the_rows_its_events_use():
    resonance = _direct_model()()[0].resonance.detach()
    for rows, runs in _groups(resonance != 0):
        covered = torch.zeros(resonance.shape[1], dtype=torch.bool)
        for first, last in runs:
            covered[first:last] = True
        assert bool(((resonance[rows] != 0) <= covered).all())
        assert int(covered.sum()) < resonance.shape[1] // 2


def test_dense_weights_use_the_plain_product():
    """The seed model's relu'd decoder weighs rows all over the table: no grouping."""
    model = SeedModel(CONFIG, N_ROOMS)
    assert _groups(model()[0].resonance.detach() != 0) is None
    mixed, grads = _mix_and_gradients(model, mix_waves)
    plain, plain_grads = _mix_and_gradients(model, lambda w, v: w @ v)
    assert torch.equal(mixed, plain)
    assert all(torch.equal(a, b) for a, b in zip(grads, plain_grads))
