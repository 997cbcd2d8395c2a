"""Fitting several clips together: each clip's fit is what it would be alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.fitting.fit import FitConfig, fit, fit_batch
from audiosplat.fitting.loss import relative_spectral_l1
from audiosplat.io.audio import load_clip
from audiosplat.io.splatfile import read_splat
from audiosplat.synth.rooms import procedural_bank
from tests.cli_runner import SMALL_FIT, run_cli
from tests.shared import GUITAR, PIANO

CONFIG = ModelConfig(n_samples=4096, n_events=4)
ROOMS = procedural_bank(CONFIG.n_samples, CONFIG.sample_rate)
CPU = torch.device("cpu")


def _clip(path) -> torch.Tensor:
    return torch.from_numpy(load_clip(path, n_samples=CONFIG.n_samples, sample_rate=CONFIG.sample_rate).samples)


@pytest.mark.parametrize("pitches, steps", [("grid", 6), ("exact", 2)])
def test_batched_fit_equals_separate_fits(pitches, steps):
    """Over a few steps, before round-off grows: Adam's first steps are +-lr wherever a
    gradient is ~0, whatever its size, so a sign flipped by round-off moves a parameter by
    lr. An exact pitch's gradient sums t-weighted terms of both signs over the clip, and
    its round-off does that by the third step (the thread count alone gives 1e-4 by the
    sixth)."""
    config = dataclasses.replace(CONFIG, pitches=pitches)
    settings = FitConfig(steps=steps, lr=1e-2, seed=2)
    clips = [_clip(GUITAR), _clip(PIANO)]
    together = fit_batch(torch.stack(clips), config, settings, ROOMS, CPU)
    for clip, batched in zip(clips, together):
        alone = fit(clip, config, settings, ROOMS, CPU)
        np.testing.assert_allclose(batched.loss_history, alone.loss_history, rtol=1e-4)
        assert relative_spectral_l1(alone.render, batched.render) < 1e-2
        assert torch.equal(batched.controls.onset_samples, alone.controls.onset_samples)
        # Parameters are not compared entry by entry: Adam divides by a gradient's running
        # RMS, so where a gradient is ~0 round-off alone can move a parameter by lr a step.


def test_a_bad_clip_does_not_disturb_its_batch():
    settings = FitConfig(steps=4, lr=1e-2)
    good = _clip(GUITAR)
    broken = torch.full_like(good, float("nan"))
    bad_result, good_result = fit_batch(torch.stack([broken, good]), CONFIG, settings, ROOMS, CPU)
    assert bad_result.skipped_steps == 4 and np.all(np.isnan(bad_result.loss_history))
    alone = fit(good, CONFIG, settings, ROOMS, CPU)
    assert good_result.skipped_steps == 0
    np.testing.assert_allclose(good_result.loss_history, alone.loss_history, rtol=1e-4)


def test_cli_fits_several_inputs_into_a_folder(tmp_path):
    out = tmp_path / "fitted"
    result = run_cli("fit", GUITAR, PIANO, "-o", out, *SMALL_FIT, "--batch-size", "2")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == ["guitar_em9.splat", "piano_mozart_k545.splat"]
    assert result.stdout.split() == [str(out / name) for name in written]
    one_by_one = tmp_path / "single"
    assert run_cli("fit", GUITAR, PIANO, "-o", one_by_one, *SMALL_FIT, "--batch-size", "1").exit_code == 0
    for name in written:
        batched, single = read_splat(out / name), read_splat(one_by_one / name)
        np.testing.assert_allclose(batched.loss_history, single.loss_history, rtol=1e-4)
        assert batched.provenance["source_name"] == single.provenance["source_name"]
