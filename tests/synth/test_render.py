"""The fast synth against the step-by-step reference (method.md §4-§6), the physics of a
hand-made event, determinism (§9.1), and the event model's trees and decoder (§2, §3)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.core import decay_factor, fft_convolve, gauss_band, gauss_window
from audiosplat.fitting.loss import MultibandLoss
from audiosplat.models.seed import DECAY_BASE, SeedModel
from audiosplat.synth import render as synth
from audiosplat.synth.controls import concat_controls
from audiosplat.synth.reference import reference_clips, reference_stems
from audiosplat.synth.render import (
    SynthAssets,
    envelope,
    event_noise,
    noise_seeds_for,
    render_clips,
    render_placed,
    render_stems,
    reverb_clips,
    unit_band,
)
from tests.synth_helpers import assets_for, assets_in_float64, hand_controls, rooms_for, scattered_model, sine_row_nearest, spectral_peak_hz

SMALL = [ModelConfig(pitches="grid", n_samples=4096, n_events=4), ModelConfig(pitches="grid", n_samples=8192, n_events=8)]
SMALL_IDS = ["N4096-E4", "N8192-E8"]
SR = 22050


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).norm() / b.detach().norm().clamp_min(1e-30))


def _max_rel_to_peak(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# --- fast synth == reference ---------------------------------------------------------------


@pytest.mark.parametrize("config", SMALL, ids=SMALL_IDS)
def test_fast_synth_matches_reference_forward(config):
    assets = assets_for(config, seed=3)
    model = scattered_model(config, seed=5)
    with torch.no_grad():
        controls, _ = model()
        onsets = controls.onset_samples
        assert len(set(onsets.tolist())) == config.n_events  # scattered: all different
        fast = render_clips(controls, assets)
        slow = reference_clips(controls, assets)
        fast_stems = render_stems(controls, assets)
        slow_stems = reference_stems(controls, assets)
    assert fast.shape == (1, config.n_samples) and fast_stems.shape == (config.n_events, config.n_samples)
    assert float(slow.abs().max()) > 0
    assert _max_rel_to_peak(fast, slow) <= 1e-4
    for e in range(config.n_events):
        assert _max_rel_to_peak(fast_stems[e], slow_stems[e]) <= 1e-4
    # every event is silent before its onset (the reference's FFT delay leaks round-off only)
    for e, onset in enumerate(onsets.tolist()):
        assert torch.all(fast_stems[e, :onset] == 0) or float(fast_stems[e, :onset].abs().max()) <= 1e-6 * float(
            fast_stems[e].abs().max()
        )


@pytest.mark.parametrize("config", SMALL, ids=SMALL_IDS)
def test_stems_sum_to_the_clip(config):
    assets = assets_for(config, seed=4)
    model = scattered_model(config, seed=6)
    with torch.no_grad():
        controls, _ = model()
        clip = render_clips(controls, assets)[0]
        stems = render_stems(controls, assets)
    assert _max_rel_to_peak(stems.sum(0), clip) <= 1e-5


def test_fast_synth_matches_reference_at_default_size():
    config = ModelConfig(pitches="grid")
    assert (config.n_samples, config.n_events) == (65536, 64)
    assets = assets_for(config, seed=0)
    model = scattered_model(config, seed=1)
    with torch.no_grad():
        controls, _ = model()
        fast = render_clips(controls, assets)
        slow = reference_clips(controls, assets)
    assert len(set(controls.onset_samples.tolist())) > 48
    assert float(slow.abs().max()) > 0 and torch.isfinite(fast).all()
    assert _max_rel_to_peak(fast, slow) <= 1e-4


@pytest.mark.parametrize("config", SMALL, ids=SMALL_IDS)
def test_fast_synth_gradients_match_reference_for_a_linear_loss(config):
    """A linear loss sum(render * g): its gradient is exactly the synth's adjoint applied to g,
    so two correct implementations agree to round-off (a spectral loss would not do here:
    |STFT| has ill-conditioned gradients at near-zero bins). In float64, so that round-off
    is far below the tolerance."""
    assets = assets_in_float64(assets_for(config, seed=7))
    model = scattered_model(config, seed=8).double()
    g = torch.randn(1, config.n_samples, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    names, params = zip(*model.named_parameters())
    controls, _ = model()
    grads_fast = torch.autograd.grad((render_clips(controls, assets) * g).sum(), params, retain_graph=True)
    grads_slow = torch.autograd.grad((reference_clips(controls, assets) * g).sum(), params)
    for name, a, b in zip(names, grads_fast, grads_slow):
        assert torch.isfinite(a).all(), name
        assert float(b.norm()) > 0, name
        assert _rel(a, b) < 1e-9, (name, _rel(a, b))
    # per-event stems (each through its own room) too
    g_stems = torch.randn(config.n_events, config.n_samples, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    controls, _ = model()
    grads_fast = torch.autograd.grad((render_stems(controls, assets) * g_stems).sum(), params, retain_graph=True)
    grads_slow = torch.autograd.grad((reference_stems(controls, assets) * g_stems).sum(), params)
    for name, a, b in zip(names, grads_fast, grads_slow):
        assert _rel(a, b) < 1e-9, (name, _rel(a, b))


@pytest.mark.parametrize("config", SMALL, ids=SMALL_IDS)
def test_events_made_a_chunk_at_a_time_render_and_differentiate_as_all_at_once(config, monkeypatch):
    """`event_signals` makes events in chunks (one autograd graph each, for memory): forced
    down to chunks of one or a few events, the clip and every gradient are unchanged."""
    assets = assets_in_float64(assets_for(config, seed=11))
    model = scattered_model(config, seed=12).double()
    g = torch.randn(1, config.n_samples, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    names, params = zip(*model.named_parameters())

    def clip_and_grads():
        controls, _ = model()
        clip = render_clips(controls, assets)
        return clip.detach(), torch.autograd.grad((clip * g).sum(), params)

    assert len(synth.event_chunks(config.n_events, config.n_samples)) == 1
    whole, grads_whole = clip_and_grads()
    for chunk_bytes in (1, 24 * config.n_samples):
        monkeypatch.setattr(synth, "EVENT_CHUNK_BYTES", chunk_bytes)
        assert len(synth.event_chunks(config.n_events, config.n_samples)) > 1
        chunked, grads_chunked = clip_and_grads()
        assert _max_rel_to_peak(chunked, whole) <= 1e-12
        for name, a, b in zip(names, grads_chunked, grads_whole):
            assert _rel(a, b) < 1e-12, (name, _rel(a, b))


@pytest.mark.parametrize("event_samples", [None, 1024], ids=["exact", "short-buffers"])
def test_a_render_without_gradients_overlap_adds_what_the_fit_places(event_samples, monkeypatch):
    """A render (no gradients) adds each event into the room mixes at its onset
    (`overlap_added_mixes`); a fit places every event on an (E, N) buffer first. Two clips
    at once, events cut into chunks of 3 (some onsets near the end), the same clips."""
    config = ModelConfig(pitches="grid", n_samples=4096, n_events=8, event_samples=event_samples)
    monkeypatch.setattr(synth, "EVENT_CHUNK_BYTES", 48 * config.event_length)
    both = concat_controls([scattered_model(config, seed=seed)()[0].map(torch.Tensor.detach) for seed in (21, 22)])
    assets = SynthAssets.build(config, torch.arange(2 * config.n_events), rooms_for(config.n_samples))
    assert len(synth.onset_chunks(synth.placed_onsets(both), config.n_samples, config.event_length)) > 2
    placed = reverb_clips(render_placed(both, assets), both, assets)
    with torch.no_grad():
        added = render_clips(both, assets)
    assert added.shape == placed.shape == (2, config.n_samples)
    assert _max_rel_to_peak(added, placed) <= 1e-6


def test_event_buffer_option():
    """event_samples = N is the exact model; a shorter buffer approximates a short event
    closely (its filters become circular over the buffer); the reference refuses it."""
    rooms = rooms_for(16384)
    exact = ModelConfig(pitches="grid", n_samples=16384, n_events=2)
    row, _ = sine_row_nearest(440.0, exact.n_pitches)
    controls = hand_controls(
        exact, 8, [100, 9000], resonance_row=row, excitation_mix=(0.3, 0.7), decay_per_frame=0.5,
        crossfade_per_frame=0.5, reverb_mix=(0.6, 0.4), envelope_centre_s=0.01, envelope_width_s=0.003,
    )  # fmt: skip
    seeds = noise_seeds_for(0, 2)
    with torch.no_grad():
        reference = render_clips(controls, SynthAssets.build(exact, seeds, rooms))
        same = render_clips(controls, SynthAssets.build(ModelConfig(pitches="grid", n_samples=16384, n_events=2, event_samples=16384), seeds, rooms))
        assert torch.equal(same, reference)
        for length in (8192, 4096):
            short = ModelConfig(pitches="grid", n_samples=16384, n_events=2, event_samples=length)
            assets = SynthAssets.build(short, seeds, rooms)
            assert assets.waves.shape == (512, length) and assets.noise.shape == (2, length)
            approx = render_clips(controls, assets)
            assert _rel(approx, reference) < 0.05
            with pytest.raises(ValueError):
                reference_clips(controls, assets)


# --- physics of one hand-made event ----------------------------------------------------------


@pytest.mark.parametrize("target_hz", [220.0, 440.0, 1000.0])
@pytest.mark.parametrize("shape", ["sine", "saw"])
def test_a_resonance_rings_at_its_wave_pitch(target_hz, shape):
    config = ModelConfig(pitches="grid", n_samples=16384, n_events=2)
    assets = assets_for(config, seed=11)
    row, pitch = sine_row_nearest(target_hz, config.n_pitches)
    if shape == "saw":
        row -= 3 * config.n_pitches
    controls = hand_controls(
        config,
        assets.rooms.shape[0],
        [0, 0],
        gains=[1.0, 0.0],  # event 1 is silent: the clip is event 0 alone
        resonance_row=row,
        excitation_mix=(0.0, 1.0),
        noise_centre_hz=pitch,
        noise_width_hz=3000.0,
        envelope_centre_s=0.01,
        envelope_width_s=0.003,
        decay_per_frame=0.99,
    )
    with torch.no_grad():
        clip = render_clips(controls, assets)[0].double().numpy()
    assert np.abs(clip).max() > 0
    bin_hz = SR / config.n_samples
    peak = spectral_peak_hz(clip, SR)
    if shape == "sine":
        assert abs(peak - pitch) <= 2 * bin_hz  # within two bins (2.7 Hz)
    else:
        # The noise excitation weights each harmonic by its own random factor, so the
        # strongest may be any harmonic; but it is a harmonic, and the harmonics hold the energy.
        k = round(peak / pitch)
        assert k >= 1 and abs(peak - k * pitch) <= 2 * bin_hz
    power = np.abs(np.fft.rfft(clip * np.hanning(len(clip)))) ** 2
    freqs = np.fft.rfftfreq(len(clip), 1 / SR)
    harmonic = np.abs(freqs / pitch - np.round(freqs / pitch)) * pitch <= 6 * bin_hz
    harmonic &= freqs > pitch / 2
    # The naive (not band-limited) saw folds its harmonics above Nyquist back to
    # non-harmonic frequencies: a few % of its energy at 440 Hz (method.md §9.7).
    assert power[harmonic].sum() > (0.98 if shape == "sine" else 0.9) * power.sum()
    if shape == "sine":  # only the fundamental
        near = np.abs(freqs - pitch) <= 6 * bin_hz
        assert power[near].sum() > 0.98 * power.sum()


@pytest.mark.parametrize("target_hz", [233.3, 1001.7])
def test_an_exact_pitch_rings_at_its_pitch_between_the_rows(target_hz):
    """A sine event at a pitch between the wavetable's rows (where a grid pitch would sound
    its two neighbouring rows): the clip's spectral peak is that pitch, within a tenth of
    a bin, and nearly all its energy lies within 6 bins of it."""
    config = ModelConfig(n_samples=16384, n_events=2)
    assert config.pitches == "exact"
    assets = assets_for(config, seed=11)
    row, _ = sine_row_nearest(target_hz, config.n_pitches)
    controls = hand_controls(config, assets.rooms.shape[0], [0, 0], gains=[1.0, 0.0], resonance_row=row, noise_width_hz=3000.0)
    controls = controls.replace(pitch_hz=torch.full((2,), target_hz), noise_centre_hz=torch.full((2,), target_hz))
    with torch.no_grad():
        clip = render_clips(controls, assets)[0].double().numpy()
    bin_hz = SR / config.n_samples
    assert abs(spectral_peak_hz(clip, SR) - target_hz) <= 0.1 * bin_hz
    power = np.abs(np.fft.rfft(clip * np.hanning(len(clip)))) ** 2
    freqs = np.fft.rfftfreq(len(clip), 1 / SR)
    assert power[np.abs(freqs - target_hz) <= 6 * bin_hz].sum() > 0.98 * power.sum()


def test_resonance_decays_at_its_per_frame_factor():
    """With dry weight 0 and a short burst of excitation, the event is the wave times the
    amplitude decay A = r^(f+1): its RMS drops by r per 256-sample frame."""
    config = ModelConfig(pitches="grid", n_samples=16384, n_events=2)
    assets = assets_for(config, seed=12)
    row, _ = sine_row_nearest(440.0, config.n_pitches)
    r = 0.97
    controls = hand_controls(
        config,
        assets.rooms.shape[0],
        [0, 0],
        gains=[1.0, 0.0],
        resonance_row=row,
        excitation_mix=(0.0, 1.0),
        noise_centre_hz=440.0,
        noise_width_hz=3000.0,
        envelope_centre_s=0.0,
        envelope_width_s=0.0005,
        resonance_cutoff_hz=(9000.0, 9000.0),
        decay_per_frame=r,
    )
    with torch.no_grad():
        clip = render_clips(controls, assets)[0].double().numpy()
    frame = config.frame_size
    rms = np.sqrt(np.mean(clip.reshape(-1, frame) ** 2, axis=-1))
    # frames 4..40: well after the burst, well above round-off
    f = np.arange(4, 41)
    slope = np.polyfit(f, np.log(rms[f]), 1)[0]
    assert math.exp(slope) == pytest.approx(r, abs=2e-3)


def test_reverb_is_the_dry_event_convolved_with_its_room():
    config = ModelConfig(pitches="grid", n_samples=8192, n_events=2)
    assets = assets_for(config, seed=13)
    row, _ = sine_row_nearest(300.0, config.n_pitches)
    common = dict(resonance_row=row, excitation_mix=(0.4, 0.6), gains=[1.0, 0.5], room=5)
    n_rooms = assets.rooms.shape[0]
    with torch.no_grad():
        dry = render_stems(hand_controls(config, n_rooms, [100, 3000], reverb_mix=(1.0, 0.0), **common), assets)
        wet = render_stems(hand_controls(config, n_rooms, [100, 3000], reverb_mix=(0.0, 1.0), **common), assets)
        half = render_clips(hand_controls(config, n_rooms, [100, 3000], reverb_mix=(0.5, 0.5), **common), assets)[0]
    expected_wet = fft_convolve(dry.double(), assets.rooms[5].double()[None])
    assert _max_rel_to_peak(wet.double(), expected_wet) < 1e-5
    assert _max_rel_to_peak(half.double(), 0.5 * (dry.sum(0).double() + expected_wet.sum(0))) < 1e-5


def test_an_event_at_one_second_is_silent_before_and_starts_right_there():
    config = ModelConfig(pitches="grid", n_samples=32768, n_events=2)
    assets = assets_for(config, seed=14)
    onset = SR  # 1.0 s
    row, _ = sine_row_nearest(440.0, config.n_pitches)
    n_rooms = assets.rooms.shape[0]
    # a dry part too, so the event's own first sample is generically non-zero; wet reverb on
    kwargs = dict(resonance_row=row, excitation_mix=(0.5, 0.5), reverb_mix=(0.7, 0.3), gains=[1.0, 0.0], room=2)
    late_controls = hand_controls(config, n_rooms, [onset, 0], **kwargs)
    early_controls = hand_controls(config, n_rooms, [0, 0], **kwargs)
    assert late_controls.onset_samples.tolist() == [onset, 0]
    with torch.no_grad():
        for render in (render_clips, reference_clips):
            late = render(late_controls, assets)[0].double()
            early = render(early_controls, assets)[0].double()
            total = float((late**2).sum())
            assert total > 0
            assert float((late[:onset] ** 2).sum()) < 1e-10 * total
            # it starts right at the onset: the same event as at 0, shifted by exactly 22050 samples
            assert _max_rel_to_peak(late[onset:], early[: config.n_samples - onset]) < 1e-5
            assert abs(float(late[onset])) > 1e-3 * float(late.abs().max())
            # most of its energy in the first 0.1 s after the onset? at least a sizeable part
            assert float((late[onset : onset + 2205] ** 2).sum()) > 0.05 * total


def test_gain_is_linear_and_mix_weights_split_dry_and_resonant():
    config = ModelConfig(pitches="grid", n_samples=4096, n_events=2)
    assets = assets_for(config, seed=15)
    row, _ = sine_row_nearest(500.0, config.n_pitches)
    n_rooms = assets.rooms.shape[0]
    with torch.no_grad():

        def clip(**kw):
            return render_clips(hand_controls(config, n_rooms, [10, 700], resonance_row=row, **kw), assets)[0].double()

        one = clip(gain=1.0, excitation_mix=(0.3, 0.7))
        three = clip(gain=3.0, excitation_mix=(0.3, 0.7))
        dry = clip(gain=1.0, excitation_mix=(1.0, 0.0))
        resonant = clip(gain=1.0, excitation_mix=(0.0, 1.0))
    assert _max_rel_to_peak(three, 3.0 * one) < 1e-6
    assert _max_rel_to_peak(one, 0.3 * dry + 0.7 * resonant) < 1e-6


# --- determinism (method.md §9.1) --------------------------------------------------------------


def test_render_is_bit_identical_twice_and_after_rebuilding_assets():
    config = SMALL[0]
    seeds = noise_seeds_for(21, config.n_events)
    rooms = rooms_for(config.n_samples)
    model = scattered_model(config, seed=22)
    with torch.no_grad():
        controls, _ = model()
        assets = SynthAssets.build(config, seeds, rooms)
        first = render_clips(controls, assets)
        second = render_clips(controls, assets)
        rebuilt = render_clips(controls, SynthAssets.build(config, seeds.clone(), rooms))
        other = render_clips(controls, SynthAssets.build(config, noise_seeds_for(23, config.n_events), rooms))
    assert torch.equal(first, second)
    assert torch.equal(first, rebuilt)
    assert not torch.allclose(first, other)


def test_event_noise_is_fixed_by_its_seed():
    seeds = torch.tensor([5, 6, 5], dtype=torch.int64)
    noise = event_noise(seeds, 8192)
    assert noise.shape == (3, 8192) and noise.dtype == torch.float32
    assert torch.equal(noise[0], noise[2])
    assert torch.equal(noise, event_noise(seeds, 8192))
    # a short event buffer draws the first samples of the whole clip's noise, alone
    assert torch.equal(event_noise(seeds, 65536)[:, :8192], noise)
    assert float((noise[0] - noise[1]).abs().max()) > 0.5
    # U(-1, 1): range, mean 0, variance 1/3, weakly correlated across seeds
    assert float(noise.min()) >= -1.0 and float(noise.max()) < 1.0
    assert abs(float(noise[0].mean())) < 0.02
    assert float(noise[0].var()) == pytest.approx(1 / 3, rel=0.03)
    corr = float((noise[0] * noise[1]).mean() / noise[0].std() / noise[1].std())
    assert abs(corr) < 0.05
    # noise seeds: fixed per fit seed, different per event and per fit seed
    a, b = noise_seeds_for(1, 64), noise_seeds_for(2, 64)
    assert torch.equal(a, noise_seeds_for(1, 64)) and len(set(a.tolist())) == 64
    assert not torch.equal(a, b)


# --- the event model (method.md §2, §3) ------------------------------------------------------


def test_leaf_latents_are_root_plus_offsets_along_the_path():
    config = ModelConfig(pitches="grid", n_samples=4096, n_events=8)
    model = SeedModel(config, 8)
    model.initialise(torch.zeros(config.n_samples), torch.Generator().manual_seed(0))
    roots, offsets = model.latent_roots.detach(), model.latent_offsets.detach()
    assert roots.shape == (2, 16) and offsets.shape == (2, 2, 16)
    latents = model.leaf_latents().detach()
    assert latents.shape == (8, 16)
    # leaf 5 = bits 1, 0, 1
    assert torch.equal(latents[5], roots[1] + offsets[0, 0] + offsets[1, 1])
    for e in range(8):
        r, c0, c1 = (e >> 2) & 1, (e >> 1) & 1, e & 1
        torch.testing.assert_close(latents[e], roots[r] + offsets[0, c0] + offsets[1, c1], rtol=0, atol=1e-7)
    # 64 events: 12 vectors make all of them
    big = SeedModel(ModelConfig(pitches="grid"), 8)
    big.initialise(torch.zeros(big.config.n_samples), torch.Generator().manual_seed(1))
    assert big.latent_offsets.shape == (5, 2, 16)
    z = big.leaf_latents().detach()
    e = 0b101101
    bits = [(e >> s) & 1 for s in range(5, -1, -1)]
    expected = big.latent_roots[bits[0]] + sum(big.latent_offsets[i, bits[i + 1]] for i in range(5))
    torch.testing.assert_close(z[e], expected.detach(), rtol=0, atol=1e-6)


def test_leaf_time_logits_sum_the_tables_along_the_path():
    config = ModelConfig(pitches="grid", n_samples=4096, n_events=8)
    model = scattered_model(config, seed=2)
    tables = [t.detach() for t in model.time_tables]
    assert [tuple(t.shape) for t in tables] == [(2, 12, 2), (4, 12, 2), (8, 12, 2)]
    logits = model.leaf_time_logits().detach()
    assert logits.shape == (8, 12, 2)
    assert torch.equal(logits[5], tables[0][1] + tables[1][2] + tables[2][5])
    for e in range(8):
        torch.testing.assert_close(logits[e], tables[0][e >> 2] + tables[1][e >> 1] + tables[2][e], rtol=0, atol=1e-6)
    # siblings share all but their private table
    torch.testing.assert_close(logits[4] - tables[2][4], logits[5] - tables[2][5], rtol=0, atol=1e-6)


def test_initialisation_ranges():
    model = SeedModel(ModelConfig(pitches="grid", n_samples=4096, n_events=4), 8)
    model.initialise(torch.zeros(model.config.n_samples), torch.Generator().manual_seed(3))
    for name, p in model.named_parameters():
        p = p.detach()
        if name.startswith(("latent_", "time_tables")):
            assert float(p.abs().max()) <= 0.1 and float(p.abs().max()) > 0.05, name
        elif name.endswith("norm.weight"):
            assert torch.all(p == 1.0), name
        elif name.endswith("weight"):
            assert float(p.abs().max()) <= 0.05 and float(p.abs().max()) > 0.02, name
        else:
            assert torch.all(p == 0.0), name


def test_decoded_controls_are_the_method_formulas_in_physical_units():
    """§3/§4: controls in Hz and seconds map back to the unit-interval Gaussians of the method."""
    config = ModelConfig(pitches="grid", n_samples=4096, n_events=4)
    model = scattered_model(config, seed=4)
    with torch.no_grad():
        # bigger decoder weights, so that the raw values are not all near zero
        for layer in model.decoder.values():
            layer.weight.mul_(40.0)
            layer.bias.copy_(torch.linspace(-0.3, 0.5, layer.bias.numel()))
        controls, latents = model()
        raw = {k: layer(latents) for k, layer in model.decoder.items()}
    n, nyquist = config.n_samples, SR / 2
    a, b = raw["env"][:, 0], raw["env"][:, 1]
    torch.testing.assert_close(
        envelope(controls.envelope_centre_s, controls.envelope_width_s, SR, n),
        gauss_window(a, 0.5 * (b.abs() + 1e-12), n),
        rtol=1e-4,
        atol=1e-6,
    )
    c, w = raw["noise_filter"][:, 0], raw["noise_filter"][:, 1]
    torch.testing.assert_close(
        unit_band(controls.noise_centre_hz, controls.noise_width_hz, SR, n, gauss_window), gauss_band(c, w, n), rtol=1e-4, atol=1e-6
    )
    for j, key in enumerate(("resonance_filter_1", "resonance_filter_2")):
        torch.testing.assert_close(
            unit_band(torch.zeros(4), controls.resonance_cutoff_hz[:, j], SR, n, gauss_window),
            gauss_band(torch.zeros(4), raw[key][:, 0], n),
            rtol=1e-4,
            atol=1e-6,
        )
    torch.testing.assert_close(controls.noise_centre_hz, c * nyquist)
    torch.testing.assert_close(controls.gain, raw["amp"][:, 0].abs())
    torch.testing.assert_close(controls.excitation_mix, torch.softmax(raw["mix"], -1))
    torch.testing.assert_close(controls.resonance, torch.relu(raw["resonance"]))
    assert controls.resonance.shape == (4, 512) and bool((controls.resonance > 0).any())
    torch.testing.assert_close(controls.decay_per_frame, decay_factor(raw["decay"][:, 0], DECAY_BASE))
    torch.testing.assert_close(controls.crossfade_per_frame, decay_factor(raw["filter_decay"][:, 0], DECAY_BASE))
    for name in ("room_weights", "reverb_mix"):
        weights = getattr(controls, name)
        assert torch.all(weights >= 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(4))
    assert controls.room_weights.shape == (4, 8) and controls.reverb_mix.shape == (4, 2)


def test_gradients_reach_every_parameter_through_the_multiband_loss():
    config = SMALL[0]
    assets = assets_for(config, seed=30)
    model = scattered_model(config, seed=31)
    target = torch.randn(config.n_samples, generator=torch.Generator().manual_seed(32)) * 0.01
    loss_fn = MultibandLoss(target)
    controls, _ = model()
    loss = loss_fn(render_clips(controls, assets)[0])
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert bool((p.grad != 0).any()), name
    # every event's private time table gets a gradient on every bit row
    private = model.time_tables[-1].grad
    assert bool((private.abs().sum(-1) > 0).all())


@pytest.mark.parametrize("fixture", ["fitted_grid_splat", "fitted_seed_splat"])
def test_render_with_the_used_waves_only_equals_the_render_with_all(fixture, request):
    """`render_splat` makes only the waves the events use (`used_waves`); the audio is that
    of all 512 waves, for the direct model with grid pitches (a few pitches per event) and
    the seed model."""
    from audiosplat.app.api import render_splat
    from audiosplat.io.splatfile import read_splat
    from audiosplat.synth.render import used_waves

    splat = read_splat(request.getfixturevalue(fixture))
    with torch.no_grad():
        plain = render_clips(splat.controls, SynthAssets.build(splat.config, splat.noise_seeds, splat.rooms))[0]
    fast = torch.from_numpy(render_splat(dataclasses.replace(splat, colour_db=None), stems=True).sum(axis=0))  # the events alone: no bed, no colour
    assert float(plain.abs().max()) > 0
    assert _max_rel_to_peak(fast, plain) <= 1e-4
    _, rows = used_waves(splat.controls)
    assert 0 < len(rows) <= splat.config.n_waves


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_event_noise_on_threads_under_inference_mode_is_the_one_thread_noise(threads):
    """The rows are drawn on torch's threads, which take the caller's inference mode (a
    render runs under it); every thread count draws the same bits."""
    seeds = noise_seeds_for(4, 6)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = event_noise(seeds, 4096)
        torch.set_num_threads(threads)
        with torch.inference_mode():
            drawn = event_noise(seeds, 4096)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(drawn, alone)
