"""The optimiser loop on real clips: it lowers the loss, is deterministic, and skips bad steps."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.fitting.fit import (
    CONVERGE_EVERY,
    CONVERGE_FROM,
    NEGLIGIBLE_RISE,
    ClipStart,
    FitConfig,
    Fitter,
    candidate_keeps,
    clip_and_step,
    converged,
    fit,
    new_model,
    resolve_device,
)
from audiosplat.io.audio import load_clip
from audiosplat.ops.summary import decay_time_s
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


def test_a_coarse_fit_steps_as_a_short_buffer_fit_then_exactly_and_ends_exact():
    """With `coarse_samples` the first steps are those of a fit whose events are that short;
    the last `fine_steps` are exact, and what the fit returns is the exact render of its
    events: the loss of its parameters restarted in an exact fit."""
    config = ModelConfig(n_samples=8192, n_events=4)
    result = _fit(config, steps=5, coarse_samples=2048, fine_steps=2)
    short = _fit(dataclasses.replace(config, event_samples=2048), steps=3)
    np.testing.assert_array_equal(result.loss_history[:3], short.loss_history)
    exact = _fit(config, steps=5)
    assert not np.array_equal(result.loss_history[3:], exact.loss_history[3:])
    assert result.coarse_steps == 3 and exact.coarse_steps == 0
    assert result.model.config.event_samples is None
    start = ClipStart(result.model.state_dict(), result.noise_seeds, None, result.noise_bed)
    rooms = procedural_bank(config.n_samples, config.sample_rate)
    again = Fitter(_target(config, GUITAR), config, FitConfig(steps=0), rooms, torch.device("cpu"), start=[start])
    assert again.evaluate()[3][0] == pytest.approx(result.final_loss, rel=1e-6)


@pytest.mark.parametrize("model, event_samples, n_samples", [("seed", None, 8192), ("direct", 4096, 8192), ("direct", None, 2048)])
def test_only_direct_fits_of_whole_buffers_longer_than_the_coarse_one_are_coarse(model, event_samples, n_samples):
    config = ModelConfig(n_samples=n_samples, n_events=4, model=model, event_samples=event_samples)
    assert FitConfig(coarse_samples=2048).coarse_for(config) is None
    assert FitConfig(coarse_samples=2048).coarse_for(ModelConfig(n_samples=8192)) == 2048


def test_a_coarse_phase_needs_a_step_budget():
    with pytest.raises(ValueError, match="step budget"):
        FitConfig(coarse_samples=2048, seconds=10.0)
    with pytest.raises(ValueError, match="fine steps"):
        FitConfig(coarse_samples=2048, fine_steps=0)


def test_a_converged_coarse_phase_is_followed_by_its_fine_steps():
    clip = torch.from_numpy(load_clip(GUITAR, n_samples=8192, sample_rate=22050).samples)
    config = ModelConfig(n_samples=8192, n_events=4)
    fit_config = FitConfig(steps=2000, converge=0.5, coarse_samples=2048, fine_steps=3)
    result = fit(clip, config, fit_config, procedural_bank(8192, 22050), torch.device("cpu"))
    assert result.converged and result.coarse_steps == CONVERGE_FROM
    assert len(result.loss_history) == CONVERGE_FROM + 3


def test_a_fit_finds_a_short_decay_within_a_few_dozen_steps():
    """A plucked A4 whose partials fall 60 dB in 0.3 s: its loudest event's decay should
    reach that order in 60 steps (each group's rate is in its own units; a decay at the base
    rate stays near its 1.5 s start)."""
    sample_rate, n_samples, t60_s = 22050, 16384, 0.3
    t = np.arange(n_samples) / sample_rate
    pluck = sum(np.sin(2 * np.pi * 440.0 * k * t) / k for k in (1, 2, 3)) * np.exp(np.log(1e-3) * t / t60_s)
    target = torch.from_numpy((0.5 * pluck / np.abs(pluck).max()).astype(np.float32))
    config = ModelConfig(n_samples=n_samples, n_events=4, noise_anchors=0, noise_bands=0, pitches="exact")
    result = fit(target, config, FitConfig(steps=60), procedural_bank(n_samples, sample_rate), torch.device("cpu"))
    loudest = int(result.controls.gain.argmax())
    decay_s = decay_time_s(result.controls.decay_per_frame.detach().numpy(), config.frame_size, sample_rate)[loudest]
    assert 0.15 < decay_s < 0.5


def _two_quiet_events(under_db: float):
    """A start of four events, the last two `under_db` under the loudest; the render of all
    four; and the render of the two loud ones alone."""
    config = ModelConfig(n_samples=8192, n_events=4, noise_anchors=0, noise_bands=0)
    rooms, cpu = procedural_bank(config.n_samples, config.sample_rate), torch.device("cpu")
    first = Fitter(_target(config, GUITAR), config, FitConfig(steps=0), rooms, cpu)
    log_gain = first.models[0].groups["log_gain"].data
    log_gain[2:] = log_gain[:2].max() + math.log(10 ** (-under_db / 20))
    start = ClipStart(first.models[0].state_dict(), first.noise_seeds[0])
    whole = first.evaluate()[2][0]
    loud = Fitter(whole, config, FitConfig(steps=0), rooms, cpu, start=[start])
    loud.models[0].groups["log_gain"].data[2:] -= 100.0  # silent: the render of the two loud events
    return config, rooms, start, whole, loud.evaluate()[2][0]


@pytest.mark.parametrize("under_db", [50.0, 20.0])
def test_a_converged_fit_leaves_out_only_the_events_its_clip_does_not_need(under_db):
    """Two quiet events, dead (50 dB under the loudest) or live (20 dB under), leave a
    converged fit's file only when the loss does not need them: against a clip that is all
    the events' own render they stay; against the loud events' render alone they go."""
    config, rooms, start, whole, loud_only = _two_quiet_events(under_db)
    for target, kept in ((whole, 4), (loud_only, 2)):
        fitter = Fitter(target, config, FitConfig(steps=0), rooms, torch.device("cpu"), start=[start])
        fitter.keep_live_events()
        assert fitter.models[0].config.n_events == kept and len(fitter.noise_seeds[0]) == kept


def test_a_fit_tries_to_leave_out_the_negligible_events_then_only_the_dead():
    """Of five events, one dead and two negligible (their removal raises the loss by less
    than NEGLIGIBLE_RISE, or lowers it): first all three go, then the dead one alone."""
    live = torch.tensor([True, True, True, True, False])
    rises = torch.tensor([1.0, NEGLIGIBLE_RISE / 2, -0.01, NEGLIGIBLE_RISE, 0.0])
    sets = [keep.nonzero()[:, 0].tolist() for keep in candidate_keeps(live, rises)]
    assert sets == [[0, 3], [0, 1, 2, 3]]
    assert candidate_keeps(torch.ones(3, dtype=torch.bool), torch.ones(3)) == []  # nothing to leave out
    assert len(candidate_keeps(live, torch.ones(5))) == 1  # nothing negligible: the dead one alone
