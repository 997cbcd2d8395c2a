"""A render for output is finite and bounded, or refused: controls that are finite but huge
are clamped where float32 would overflow (`controls.within_render_range`), which no fitted
file reaches, and a render that is still not finite raises one sentence naming the events."""

from __future__ import annotations

import dataclasses
import shutil

import h5py
import numpy as np
import pytest
import torch

from audiosplat.app.api import render_splat
from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import AudiosplatError
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.io.splatfile import read_splat, write_splat
from audiosplat.ops.merge import merge
from audiosplat.synth.controls import within_render_range
from audiosplat.synth.long_render import render_windows
from audiosplat.synth.render import SynthAssets, noise_seeds_for, render_clips, render_stems
from audiosplat.synth.rooms import RoomBank
from tests.synth_helpers import assets_for, hand_controls, rooms_for

HUGE = 3e38  # finite float32, near its largest
CONFIG = ModelConfig(n_samples=4096, n_events=4, pitches="exact")
ONSETS = [0, 1000, 2500, 3000]


def _with_events(source, tmp_path, **values) -> object:
    """A copy of the .splat at `source` with /events datasets set (every row, or the rows
    of a {row: value} dict), read back."""
    path = tmp_path / "hostile.splat"
    shutil.copy(source, path)
    with h5py.File(path, "r+") as f:
        for name, value in values.items():
            data = f["events"][name][()]
            for row, v in (value.items() if isinstance(value, dict) else [(slice(None), value)]):
                data[row] = v
            f["events"][name][...] = data
    return read_splat(path)


@pytest.mark.parametrize(
    "values",
    [
        {"gain": {1: HUGE}},
        {"noise_centre_hz": {1: -HUGE}},
        {"noise_centre_hz": {1: HUGE}},
        {"envelope_centre_s": {0: HUGE}},
        {"envelope_centre_s": {0: -HUGE}},
        {"resonance": {2: HUGE}},
        {"excitation_mix": {1: HUGE}, "reverb_mix": {1: HUGE}, "room_weights": {1: HUGE}},
        # every event at once, with the widths and cutoffs at their largest or at zero
        {name: HUGE for name in ("gain", "resonance", "excitation_mix", "reverb_mix", "room_weights", "noise_centre_hz",
                                 "envelope_centre_s", "noise_width_hz", "envelope_width_s", "resonance_cutoff_hz")},
        {"gain": HUGE, "resonance": HUGE, "noise_centre_hz": -HUGE, "envelope_centre_s": -HUGE,
         "noise_width_hz": 0.0, "envelope_width_s": 0.0, "resonance_cutoff_hz": 0.0},
    ],
    ids=["gain", "noise-centre-low", "noise-centre-high", "envelope-late", "envelope-early", "resonance", "mixes", "all-huge", "all-extreme"],
)
@pytest.mark.parametrize("fixture", ["fitted_splat", "fitted_grid_splat"])
def test_huge_finite_controls_in_a_file_render_finite(fixture, values, request, tmp_path):
    splat = _with_events(request.getfixturevalue(fixture), tmp_path, **values)
    audio = render_splat(splat)
    stems = render_splat(splat, stems=True)
    assert np.isfinite(audio).all() and np.isfinite(stems).all()
    assert np.abs(audio).max() < 1e30  # far from float32's overflow


def test_huge_controls_in_a_long_file_render_finite(fitted_splat, tmp_path):
    splat = read_splat(fitted_splat)
    long = merge(splat, dataclasses.replace(splat, noise_bed=splat.noise_bed.muted()), 0.25)  # a merge keeps one bed
    path = tmp_path / "long.splat"
    write_splat(path, long)
    splat = _with_events(path, tmp_path, gain={5: HUGE}, noise_centre_hz={6: -HUGE}, envelope_centre_s={7: HUGE})
    assert np.isfinite(render_splat(splat)).all()


@pytest.mark.parametrize("fixture", ["fitted_splat", "fitted_grid_splat", "fitted_seed_splat"])
def test_the_bounds_leave_fitted_controls_alone_to_the_bit(fixture, request):
    splat = read_splat(request.getfixturevalue(fixture))
    cfg = splat.config
    bounded = within_render_range(splat.controls, cfg.sample_rate, cfg.n_samples)
    for name, value in splat.controls.named_fields().items():
        assert torch.equal(bounded.named_fields()[name], value), name


def test_a_huge_gain_renders_loud_and_in_proportion():
    """Clamped at MAX_AMPLITUDE, a huge gain is a loud render of the same shape."""
    assets = assets_for(CONFIG)
    quiet = render_clips(hand_controls(CONFIG, 8, ONSETS, resonance_row=60, gains=[1.0, 0.0, 0.0, 0.0]), assets)
    loud = render_clips(hand_controls(CONFIG, 8, ONSETS, resonance_row=60, gains=[HUGE, 0.0, 0.0, 0.0]), assets)
    assert torch.isfinite(loud).all()
    torch.testing.assert_close(loud / 1e6, quiet, rtol=1e-4, atol=1e-6 * float(quiet.abs().max()))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_controls_are_refused_naming_the_event(bad):
    assets = assets_for(CONFIG)
    controls = hand_controls(CONFIG, 8, ONSETS, resonance_row=60, gains=[1.0, bad, 1.0, 1.0])
    with pytest.raises(AudiosplatError, match=r"^event 1 renders non-finite samples \(NaN or inf\): its controls are out of range$"):
        render_clips(controls, assets)
    with pytest.raises(AudiosplatError, match=r"^event 1 renders non-finite samples"):
        render_stems(controls, assets)
    two = controls.replace(noise_centre_hz=torch.tensor([float("nan"), 440.0, 440.0, 440.0]))
    with pytest.raises(AudiosplatError, match=r"^events 0, 1 render non-finite samples \(NaN or inf\): their controls are out of range$"):
        render_clips(two, assets)


def test_a_long_render_is_refused_naming_the_event_before_any_window():
    config = dataclasses.replace(CONFIG, total_samples=3 * CONFIG.n_samples)
    controls = hand_controls(config, 8, [0, 0, 0, 0], resonance_row=60, gains=[1.0, 1.0, float("nan"), 1.0])
    controls = controls.replace(onset_bits=samples_to_bits(torch.tensor([100, 5000, 9000, 9500]), config.n_onset_bits))
    assets = SynthAssets.build(config, torch.zeros(0, dtype=torch.int64), rooms_for(config.n_samples))
    with pytest.raises(AudiosplatError, match=r"^event 2 renders non-finite samples"):
        next(render_windows(controls, noise_seeds_for(0, 4), assets))


def test_a_render_that_overflows_from_finite_controls_blames_controls_or_rooms():
    loud_rooms = rooms_for(CONFIG.n_samples)
    loud_rooms = RoomBank("user", loud_rooms.room_names, loud_rooms.impulses * 1e37, embedded=True)
    assets = SynthAssets.build(CONFIG, noise_seeds_for(0, 4), loud_rooms)
    controls = hand_controls(CONFIG, 8, ONSETS, resonance_row=60, reverb_mix=(0.0, 1.0))
    with pytest.raises(AudiosplatError, match=r"^the events render non-finite samples \(NaN or inf\): their controls or rooms are out of range$"):
        render_clips(controls, assets)


def test_a_fit_still_renders_through_gradients_unchecked():
    """The bounds and the check are for renders for output: a fit's differentiable render
    is the plain one, so its gradients are those of the unclamped controls."""
    assets = assets_for(CONFIG)
    gain = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    controls = hand_controls(CONFIG, 8, ONSETS, resonance_row=60).replace(gain=gain)
    render_clips(controls, assets).square().sum().backward()
    assert torch.isfinite(gain.grad).all() and bool((gain.grad != 0).all())
