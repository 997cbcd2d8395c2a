"""Perturbation (method.md §8): noise on the latents, decoded again through the stored decoder."""

from __future__ import annotations

import hashlib
import shutil

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch

from audiosplat.app.api import render_splat
from audiosplat.core.errors import AudiosplatError
from audiosplat.io.splatfile import read_splat
from audiosplat.ops.perturb import perturb
from tests.cli_runner import assert_one_line_error, run_cli


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_zero_amount_decodes_to_the_same_events(fitted_splat):
    s = read_splat(fitted_splat)
    same = perturb(s, amount=0.0, generator=_gen())
    for name, value in s.controls.named_fields().items():
        assert torch.equal(same.controls.named_fields()[name], value), name


def test_roots_move_the_events_under_each_root_together(fitted_seed_splat):
    s = read_splat(fitted_seed_splat)
    moved = perturb(s, amount=0.5, generator=_gen(1), target="roots")
    delta = moved.latents - s.latents
    half = s.n_events // 2
    assert torch.allclose(delta[:half], delta[0].expand_as(delta[:half]), atol=1e-6)
    assert torch.allclose(delta[half:], delta[half].expand_as(delta[half:]), atol=1e-6)
    assert not torch.allclose(delta[0], delta[half])
    assert float(delta.abs().max()) <= 0.5
    # the stored tree parameters move with them: they decode to the new latents
    with torch.no_grad():
        torch.testing.assert_close(moved.model().leaf_latents(), moved.latents)
    assert torch.equal(moved.controls.onset_samples, s.controls.onset_samples)
    assert not torch.allclose(moved.controls.resonance, s.controls.resonance)


def test_events_move_each_event_on_its_own(fitted_seed_splat):
    s = read_splat(fitted_seed_splat)
    moved = perturb(s, amount=0.25, generator=_gen(2), target="events")
    delta = moved.latents - s.latents
    assert float(delta.abs().max()) <= 0.25
    assert len({tuple(row.tolist()) for row in delta}) == s.n_events
    assert torch.equal(moved.parameters["latent_roots"], s.parameters["latent_roots"])


def test_direct_model_events_move_in_natural_units_and_stay_resumable(fitted_splat):
    s = read_splat(fitted_splat)
    moved = perturb(s, amount=0.5, generator=_gen(2))  # default target for direct: events
    pitch_shift = moved.parameters["groups.pitch"] - s.parameters["groups.pitch"]
    assert 0 < float(pitch_shift.abs().max()) <= 0.5  # semitones
    assert torch.equal(moved.controls.onset_samples, s.controls.onset_samples)
    assert torch.equal(moved.latents, torch.cat(list(moved.parameters.values()), dim=-1))
    again, _ = moved.model()()  # the stored parameters decode to the stored controls
    assert torch.allclose(again.resonance, moved.controls.resonance) and torch.allclose(again.gain, moved.controls.gain)
    with pytest.raises(AudiosplatError, match="not for the direct model"):
        perturb(s, amount=0.5, generator=_gen(2), target="roots")


def test_onset_jitter_stays_within_bounds(fitted_splat):
    s = read_splat(fitted_splat)
    jitter_s = 0.01
    moved = perturb(s, amount=0.0, generator=_gen(3), onset_jitter_s=jitter_s)
    shift = (moved.controls.onset_samples - s.controls.onset_samples).abs()
    assert int(shift.max()) <= round(jitter_s * s.config.sample_rate) and int(shift.max()) > 0
    assert int(moved.controls.onset_samples.min()) >= 0 and int(moved.controls.onset_samples.max()) < s.config.n_samples


def test_perturbed_events_sound_different_and_are_reproducible(fitted_seed_splat):
    s = read_splat(fitted_seed_splat)
    a = render_splat(perturb(s, amount=0.5, generator=_gen(4), target="both"))
    b = render_splat(perturb(s, amount=0.5, generator=_gen(4), target="both"))
    assert np.array_equal(a, b)
    original = render_splat(s)
    assert np.abs(a - original).max() > 1e-3 * np.abs(original).max()


def test_cli_writes_variants_and_keeps_the_input(fitted_splat, tmp_path):
    source = tmp_path / "in.splat"
    shutil.copy(fitted_splat, source)
    before = source.read_bytes()
    result = run_cli("perturb", source, "-o", tmp_path / "v.splat", "--variants", "3", "--render", "--seed", "10")
    assert result.exit_code == 0, result.stderr
    names = [f"v-{k:03d}.splat" for k in (1, 2, 3)]
    assert result.stdout.split() == [str(tmp_path / n) for n in names]
    assert source.read_bytes() == before
    parent = hashlib.sha256(before).hexdigest()
    for k, name in enumerate(names):
        variant = read_splat(tmp_path / name)
        step = variant.provenance["history"][-1]
        assert step["op"] == "perturb" and step["parent_sha256"] == parent and step["seed"] == 10 + k
        audio, rate = sf.read(str((tmp_path / name).with_suffix(".wav")))
        assert rate == 22050 and audio.shape == (variant.config.n_samples,)


def test_edited_files_are_refused(fitted_splat, tmp_path):
    source = tmp_path / "edited.splat"
    shutil.copy(fitted_splat, source)
    with h5py.File(source, "a") as f:
        f.attrs["latents_match_controls"] = False
    with pytest.raises(AudiosplatError, match="edited"):
        perturb(read_splat(source), amount=0.5, generator=_gen())
    assert_one_line_error(run_cli("perturb", source, "-o", tmp_path / "out.splat"), source, "edited")
    assert not (tmp_path / "out.splat").exists()


def test_bad_target_is_a_usage_error(fitted_splat, tmp_path):
    assert run_cli("perturb", fitted_splat, "-o", tmp_path / "x.splat", "--target", "leaves").exit_code == 2
