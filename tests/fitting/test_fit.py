"""The optimiser loop on real clips: it lowers the loss, is deterministic, and skips bad steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.fitting.fit import CONVERGE_EVERY, CONVERGE_FROM, FitConfig, clip_and_step, converged, fit, new_model, resolve_device
from audiosplat.io.audio import load_clip
from audiosplat.synth.rooms import procedural_bank
from tests.shared import GUITAR, PIANO, TINY

SMALL = ModelConfig(n_samples=8192, n_events=8)


def _target(config: ModelConfig, path=PIANO) -> torch.Tensor:
    return torch.from_numpy(load_clip(path, n_samples=config.n_samples, sample_rate=config.sample_rate).samples)


def _fit(config=TINY, steps=3, path=GUITAR, **kwargs):
    rooms = procedural_bank(config.n_samples, config.sample_rate)
    return fit(_target(config, path), config, FitConfig(steps=steps, **kwargs), rooms, torch.device("cpu"))


def test_fit_lowers_the_loss_on_a_real_clip():
    result = _fit(SMALL, steps=40, path=PIANO, lr=1e-2)
    history = result.loss_history
    assert np.all(np.isfinite(history)) and result.skipped_steps == 0
    assert result.final_loss < 0.9 * history[0]
    assert np.mean(history[-5:]) < np.mean(history[:5])


def test_fit_is_deterministic_for_a_seed():
    first, second = _fit(seed=3), _fit(seed=3)
    np.testing.assert_array_equal(first.loss_history, second.loss_history)
    assert torch.equal(first.render, second.render)
    assert not np.array_equal(first.loss_history, _fit(seed=4).loss_history)


def test_non_finite_steps_are_skipped_and_change_nothing():
    rooms = procedural_bank(TINY.n_samples, TINY.sample_rate)
    target = torch.full((TINY.n_samples,), float("nan"))
    result = fit(target, TINY, FitConfig(steps=4), rooms, torch.device("cpu"))
    assert result.skipped_steps == 4 and np.all(np.isnan(result.loss_history))
    initial, _ = new_model(TINY, rooms, 0, target)
    for name, value in initial.state_dict().items():
        assert torch.equal(value, result.model.state_dict()[name]), name


def test_gradient_norm_is_clipped():
    weights = torch.nn.Parameter(torch.zeros(4))
    sgd = torch.optim.SGD([weights], lr=1.0)
    (1e6 * weights.sum()).backward()
    assert clip_and_step([weights], sgd, max_grad_norm=1.0)
    # raw gradient (1e6, 1e6, 1e6, 1e6) clipped to norm 1: one SGD step moves by -0.5 each
    torch.testing.assert_close(weights.detach(), torch.full((4,), -0.5))


def test_non_finite_gradients_are_not_applied():
    weights = torch.nn.Parameter(torch.ones(2))
    sgd = torch.optim.SGD([weights], lr=1.0)
    loss = (weights - 1.0).sqrt().sum()  # value 0, gradient 0.5 / sqrt(0) = inf
    assert torch.isfinite(loss)
    loss.backward()
    assert not clip_and_step([weights], sgd, 1.0)
    assert torch.equal(weights.detach(), torch.ones(2))


def test_noise_loss_runs_and_is_seeded():
    first, second = _fit(loss="noise", seed=2), _fit(loss="noise", seed=2)
    assert np.all(np.isfinite(first.loss_history))
    np.testing.assert_array_equal(first.loss_history, second.loss_history)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="loss"):
        FitConfig(loss="l2")
    with pytest.raises(ValueError, match="learning rate"):
        FitConfig(lr=0.0)
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(n_events=3, model="seed")  # its events are a binary tree's leaves
    with pytest.raises(ValueError, match="events"):
        ModelConfig(n_events=0)
    assert ModelConfig(n_events=3).n_events == 3  # the direct model's are any count
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")


def test_a_converging_fit_stops_when_a_period_stops_paying():
    """`converged` judges at the end of each period of CONVERGE_EVERY steps: the period's
    best loss against the best before it."""
    start = CONVERGE_FROM - CONVERGE_EVERY
    falling = np.linspace(100.0, 50.0, start)
    assert not converged(np.concatenate([falling, np.full(CONVERGE_EVERY, 45.0)]), CONVERGE_FROM, 0.02)  # 10% better
    flat = np.concatenate([falling, np.full(CONVERGE_EVERY, 49.5)])  # 1% better: done
    assert converged(flat, CONVERGE_FROM, 0.02)
    assert not converged(flat[:-1], CONVERGE_FROM - 1, 0.02)  # judged only at a period's end
    assert not converged(falling[:CONVERGE_EVERY], CONVERGE_EVERY, 0.02)  # too early
    relocated = np.concatenate([falling, np.full(CONVERGE_EVERY, 80.0)])  # worse than before: done too
    assert converged(relocated, CONVERGE_FROM, 0.02)


def test_a_fit_stops_once_converged_and_says_so():
    clip = torch.from_numpy(load_clip(GUITAR, n_samples=4096, sample_rate=22050).samples)
    config = ModelConfig(n_samples=4096, n_events=4)
    result = fit(clip, config, FitConfig(steps=2000, converge=0.5), procedural_bank(4096, 22050), torch.device("cpu"))
    assert result.converged and len(result.loss_history) == CONVERGE_FROM
