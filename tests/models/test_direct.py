"""The direct model and its analysis-based start: notes found where they are, pitches
sounding where they should, continuous onsets with the gradient of a shift."""

from __future__ import annotations

import math

import pytest
import torch

from audiosplat.core.config import PITCH_BUMP_STEPS, ModelConfig
from audiosplat.dsp.onset import delay_by_samples
from audiosplat.dsp.wavetable import hz_to_midi
from audiosplat.fitting.fit import FitConfig, Fitter
from audiosplat.models.analysis import AFTER_FRAMES, find_notes, onset_frames
from audiosplat.models.direct import DirectModel, initial_groups, note_rows, pitch_weights
from audiosplat.models.relocate import dead_events, relocate_dead_events, residual_notes
from audiosplat.synth.render import SynthAssets, event_signals, noise_seeds_for, render_clips
from audiosplat.synth.rooms import procedural_bank

SR = 22050
CONFIG = ModelConfig(n_samples=2**15, n_events=4)


def _note(freq_hz: float, start_s: float, n: int = CONFIG.n_samples) -> torch.Tensor:
    """A decaying harmonic tone (5 harmonics, 1/h) starting at `start_s`."""
    t = torch.arange(n, dtype=torch.float64) / SR
    after = (t - start_s).clamp_min(0.0)
    tone = sum(torch.sin(2 * math.pi * h * freq_hz * after) / h for h in range(1, 6))
    return (tone * torch.exp(-3.0 * after) * (t >= start_s)).float()


def test_notes_are_found_at_their_onsets_and_pitches():
    clip = 0.5 * _note(440.0, 0.2) + 0.5 * _note(659.26, 0.9)  # A4 at 0.2 s, E5 at 0.9 s
    onsets = onset_frames(clip, CONFIG.frame_size)
    expected = [round(s * SR / CONFIG.frame_size) for s in (0.2, 0.9)]
    for frame in expected:
        assert any(abs(o - frame) <= 2 for o in onsets), (frame, onsets)
    notes = find_notes(clip, CONFIG)
    for frame, midi in zip(expected, (69.0, 76.0)):
        assert any(abs(n.onset_frame - frame) <= 2 and abs(n.pitch_midi - midi) < 0.5 for n in notes), (frame, midi, notes)


@pytest.mark.parametrize("freq_hz", [131.7, 443.7, 1021.3])
def test_notes_are_found_at_their_exact_pitches(freq_hz):
    """Between the 0.17-semitone candidates (up to 0.08 semitone off), a note's pitch is
    refined to within 0.03 (an exact pitch a tenth of a semitone off would beat against the
    clip; a low note's few bins per semitone limit it)."""
    notes = find_notes(_note(freq_hz, 0.3), CONFIG)
    strongest = max(notes, key=lambda n: n.salience)
    assert abs(strongest.pitch_midi - float(hz_to_midi(torch.tensor(freq_hz)))) < 0.03


def test_exact_pitches_are_fine_tuned_slower_than_grid_pitches():
    """Adam moves a parameter by about its rate a step: a grid pitch 0.02 semitone a step,
    an exact one, which starts on the analysis' refined pitch, a quarter of that's rate."""
    for pitches, semitones_per_step in (("grid", 0.02), ("exact", 0.0025)):
        model = DirectModel(ModelConfig(n_samples=2**15, n_events=4, pitches=pitches), 8)
        rates = {id(g["params"][0]): g["lr"] for g in model.parameter_groups(0.01)}
        assert rates[id(model.groups["pitch"])] == pytest.approx(semitones_per_step)


def test_a_silent_clip_has_no_notes():
    assert find_notes(torch.zeros(CONFIG.n_samples), CONFIG) == []


@pytest.mark.parametrize("bump_steps", [PITCH_BUMP_STEPS, 0.5])
def test_pitch_weights_centre_on_the_pitch(bump_steps):
    weights = pitch_weights(torch.tensor([69.0, 40.3]), CONFIG.n_pitches, bump_steps)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2))
    grid = torch.linspace(21.0, 106.0, CONFIG.n_pitches)
    mean_pitch = (weights * grid).sum(dim=-1)
    # within 10 cents: a bump narrower than the grid's spacing is sampled coarsely
    torch.testing.assert_close(mean_pitch, torch.tensor([69.0, 40.3]), atol=0.1, rtol=0)


def test_a_note_on_the_grid_sounds_its_neighbours_35_db_down():
    """The default bump: an on-grid pitch's neighbouring rows, mistuned partials to the
    ear, are at least 35 dB below it (19 dB with the 0.5 steps of files before 1.4.0)."""
    grid = torch.linspace(21.0, 106.0, CONFIG.n_pitches)
    weights = pitch_weights(grid[60:61], CONFIG.n_pitches, PITCH_BUMP_STEPS)[0]
    assert int(weights.argmax()) == 60
    assert 20 * math.log10(float(weights[61] / weights[60])) < -35.0


def test_an_event_at_440_hz_peaks_at_440_hz():
    rooms = procedural_bank(CONFIG.n_samples, SR)
    model = DirectModel(CONFIG, rooms.n_rooms)
    groups = initial_groups([], CONFIG, rooms.n_rooms)
    groups["pitch"][:] = 69.0
    groups["shape"][:] = torch.tensor([0.0, 0.0, 0.0, 20.0])  # sine
    groups["mix"][:] = torch.tensor([-20.0, 20.0])  # resonance only
    model.initialise_from(groups)
    controls, _ = model()
    assets = SynthAssets.build(CONFIG, noise_seeds_for(0, CONFIG.n_events), rooms)
    signal = event_signals(controls, assets)[0].detach()
    spectrum = torch.fft.rfft(signal * torch.hann_window(signal.shape[-1])).abs()
    peak_hz = float(spectrum.argmax()) * SR / signal.shape[-1]
    assert abs(float(hz_to_midi(torch.tensor(peak_hz))) - 69.0) < 0.3, peak_hz


def test_continuous_onset_renders_at_the_nearest_sample_with_the_shift_gradient():
    n = 256
    signal = torch.exp(-0.5 * ((torch.arange(n, dtype=torch.float64) - 60.0) / 9.0) ** 2)[None]
    weights = torch.randn(1, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss(onset: torch.Tensor) -> torch.Tensor:
        return (weights * delay_by_samples(signal, onset, n)).sum()

    onset = torch.tensor([40.3], dtype=torch.float64, requires_grad=True)
    placed = delay_by_samples(signal, onset, n)
    torch.testing.assert_close(placed[0, 40:], signal[0, : n - 40])  # 40.3 renders at sample 40
    loss(onset).backward()
    # the gradient of a shift is the central difference over one sample either side
    central = (loss(torch.tensor([41.0], dtype=torch.float64)) - loss(torch.tensor([39.0], dtype=torch.float64))) / 2
    torch.testing.assert_close(onset.grad[0], central)


def test_analysis_start_puts_events_on_the_notes():
    clip = 0.5 * _note(440.0, 0.2) + 0.5 * _note(659.26, 0.9)
    rooms = procedural_bank(CONFIG.n_samples, SR)
    groups = initial_groups(find_notes(clip, CONFIG), CONFIG, rooms.n_rooms)
    loud = groups["log_gain"][:, 0] > math.log(0.05)
    pitches = sorted(round(p) for p in groups["pitch"][loud, 0].tolist())
    assert 69 in pitches and 76 in pitches


def test_dead_events_move_to_the_residual_note_with_fresh_adam_moments():
    rooms = procedural_bank(CONFIG.n_samples, SR)
    clip = 0.5 * _note(440.0, 0.2) + 0.5 * _note(659.26, 0.9)
    model = DirectModel(CONFIG, rooms.n_rooms)
    # event 0 explains the A4; the others are silent, one onset frame each
    model.initialise_from(note_rows(torch.tensor([16.7, 1.0, 2.0, 3.0]), torch.tensor([69.0, 60, 60, 60]), torch.tensor([1.0, 1e-4, 1e-4, 1e-4]), rooms.n_rooms))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    model()[0].gain.sum().backward()
    optimiser.step()
    assert dead_events(model.groups["log_gain"][:, 0].exp()).tolist() == [False, True, True, True]
    a4_alone = 0.5 * _note(440.0, 0.2)
    moved = relocate_dead_events(model, optimiser, clip, a4_alone)  # the render lacks the E5
    assert moved >= 1
    e5 = round(0.9 * SR / CONFIG.frame_size)
    pitch, onset = model.groups["pitch"].detach()[1, 0], model.groups["onset_frames"].detach()[1, 0]
    assert abs(float(pitch) - 76.0) < 0.5 and abs(float(onset) - e5) <= 3
    state = optimiser.state[model.groups["log_gain"]]
    assert float(state["exp_avg"][1].abs().sum()) == 0.0 and float(state["exp_avg"][0].abs().sum()) > 0.0
    assert float(model.groups["pitch"].detach()[0, 0]) == 69.0  # the live event stays


def test_a_gliding_voice_gets_notes_along_its_glide():
    """A harmonic tone gliding from 200 to 300 Hz (7 semitones) over 1 s, with no new
    attack: notes are found along the glide, not only at its start."""
    t = torch.arange(CONFIG.n_samples, dtype=torch.float64) / SR
    glide_s = t.clamp(0.2, 1.2) - 0.2
    freq = 200.0 * 1.5 ** glide_s  # 200 Hz -> 300 Hz from 0.2 s to 1.2 s
    phase = 2 * math.pi * torch.cumsum(freq, dim=0) / SR
    clip = (sum(torch.sin(h * phase) / h for h in range(1, 6)) * 0.3).float()
    pitches = sorted({round(n.pitch_midi) for n in find_notes(clip, CONFIG)})
    start, end = float(hz_to_midi(torch.tensor(200.0))), float(hz_to_midi(torch.tensor(300.0)))
    along = [p for p in pitches if start + 1 <= p <= end - 0.5]
    assert len(along) >= 3, pitches



def test_a_fit_starts_with_its_spare_events_on_the_residual():
    """Events the analysis leaves spare start near-silent; the fit puts them on the notes of
    the first render's residual before its first step (relocation alone would take
    hundreds of steps)."""
    config = ModelConfig(n_samples=2**15, n_events=8)
    clip = 0.5 * _note(440.0, 0.2) + 0.5 * _note(659.26, 0.9)
    spare = config.n_events - len(find_notes(clip, config))
    assert spare > 0
    fitter = Fitter(clip, config, FitConfig(steps=0), procedural_bank(config.n_samples, SR), torch.device("cpu"), render_clips)
    gains = fitter.models[0].groups["log_gain"][:, 0].exp()
    assert int(dead_events(gains).sum()) < spare


def test_no_note_starts_in_the_last_frames():
    """A note needs AFTER_FRAMES frames after its onset to be heard: a tone that starts
    20 ms before the clip ends takes no event (it would sound for a few milliseconds)."""
    n = CONFIG.n_samples
    clip = 0.5 * _note(440.0, 0.2) + 0.5 * _note(659.26, (n - 450) / SR)
    last = max(n.onset_frame for n in find_notes(clip, CONFIG))
    assert last + AFTER_FRAMES < CONFIG.n_frames + 1, last


def test_no_residual_note_starts_in_the_last_frames():
    """Relocated and spare events follow the same rule: in a residual whose loudest part is
    a tone starting 20 ms before the end, no note starts in the last AFTER_FRAMES frames."""
    n = CONFIG.n_samples
    late, early = _note(659.26, (n - 450) / SR), 0.2 * _note(440.0, 0.5)
    notes = residual_notes(late + early, torch.zeros(n), CONFIG, 4)
    assert notes and all(note.onset_frame + AFTER_FRAMES < CONFIG.n_frames + 1 for note in notes), notes
