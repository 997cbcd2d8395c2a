"""Auto pitches: a fit chooses grid pitches for a clip whose main pitch glides (a voice)
and exact pitches for held notes, and a file always stores the kind it chose."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiosplat.cli import app
from audiosplat.core.config import MODEL_KINDS, ModelConfig
from audiosplat.fitting.fit import FitConfig, Fitter
from audiosplat.io.audio import load_clip
from audiosplat.io.splatfile import read_splat
from audiosplat.models.analysis import GLIDING_FRACTION, PITCH_FFT, magnitudes, pitches_for, resolve_pitches, slides
from audiosplat.models.direct import DirectModel
from audiosplat.synth.rooms import procedural_bank
from tests.shared import DATA, GUITAR

SR = 22050
CONFIG = ModelConfig(n_samples=2**15, n_events=4, pitches="auto")
SPEECH = DATA / "speech_apollo11.wav"


def _tone(pitch_hz: torch.Tensor) -> torch.Tensor:
    """A harmonic tone (5 harmonics, 1/h) following a pitch contour (N,) Hz."""
    phase = 2 * math.pi * torch.cumsum(pitch_hz.double(), dim=0) / SR
    return (0.3 * sum(torch.sin(h * phase) / h for h in range(1, 6))).float()


def _seconds(n: int = CONFIG.n_samples) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float64) / SR


def test_a_voice_like_glide_gets_grid_pitches():
    """A pitch that wanders like intonation (150 Hz, +-3 semitones at 1.5 Hz) slides in
    most frame pairs."""
    t = _seconds()
    contour = 150.0 * 2.0 ** (3.0 * torch.sin(2 * math.pi * 1.5 * t) / 12.0)
    sliding, pairs = slides(magnitudes(_tone(contour), PITCH_FFT, CONFIG.frame_size), SR, CONFIG.n_pitches)
    assert sliding > 0.5 * pairs
    assert pitches_for([_tone(contour)], CONFIG) == "grid"


@pytest.mark.parametrize("vibrato_semitones", [0.0, 0.1])
def test_held_notes_get_exact_pitches(vibrato_semitones):
    """Notes held for half a second each (a scale), plain or with a light 5.5 Hz vibrato:
    their pitch jumps between notes, and does not slide within them."""
    t = _seconds()
    notes = torch.tensor([220.0, 247.0, 277.0, 294.0])[(t / 0.5).long().clamp(max=3)]
    contour = notes * 2.0 ** (vibrato_semitones * torch.sin(2 * math.pi * 5.5 * t) / 12.0)
    assert pitches_for([_tone(contour)], CONFIG) == "exact"


def test_the_shared_clips_speech_is_grid_and_the_guitar_exact():
    speech = torch.from_numpy(load_clip(SPEECH, n_samples=2**16, sample_rate=SR).samples)
    guitar = torch.from_numpy(load_clip(GUITAR, n_samples=2**16, sample_rate=SR).samples)
    config = ModelConfig(pitches="auto")
    assert resolve_pitches(config, [speech]).pitches == "grid"
    assert resolve_pitches(config, [guitar]).pitches == "exact"
    assert resolve_pitches(ModelConfig(pitches="exact"), [speech]).pitches == "exact"  # only auto is chosen


def test_pooled_windows_decide_by_their_frame_pairs():
    """Windows are pooled by their voiced frame pairs, not by window: a window that glides
    in its first 0.15 s and is silent after is grid alone, but beside a window of a held
    tone its few pairs are under a fifth of the pairs (the mean of the two windows'
    fractions would say grid)."""
    t = _seconds()
    glide = _tone(150.0 * 2.0 ** (3.0 * torch.sin(2 * math.pi * 4.0 * t) / 12.0)) * (t < 0.15)
    held = _tone(torch.full_like(t, 220.0))
    (glide_slides, glide_pairs), (held_slides, held_pairs) = (
        slides(magnitudes(w, PITCH_FFT, CONFIG.frame_size), SR, CONFIG.n_pitches) for w in (glide, held)
    )
    assert glide_slides > 2 * GLIDING_FRACTION * glide_pairs and held_slides <= 0.05 * held_pairs
    assert (glide_slides / glide_pairs + held_slides / held_pairs) / 2 > GLIDING_FRACTION  # per window, it would be grid
    assert (glide_slides + held_slides) < GLIDING_FRACTION * (glide_pairs + held_pairs)
    assert pitches_for([glide], CONFIG) == "grid"
    assert pitches_for([glide, held], CONFIG) == "exact"


def test_auto_is_for_fitting_only():
    """A model is built from a chosen kind; auto needs what exact needs."""
    with pytest.raises(ValueError, match="chosen per clip"):
        DirectModel(CONFIG, 4)
    with pytest.raises(ValueError, match="not for the seed model"):
        ModelConfig(model="seed", pitches="auto")
    with pytest.raises(ValueError, match="band-limited"):
        ModelConfig(waves="naive", pitches="auto")
    direct, seed = MODEL_KINDS["direct"], MODEL_KINDS["seed"]
    assert direct.fit_pitches() == "auto" and direct.fit_pitches("naive") is None and seed.fit_pitches() is None


def test_a_fitter_resolves_auto_and_refuses_a_batch_of_both_kinds():
    t = _seconds()
    glide = _tone(150.0 * 2.0 ** (3.0 * torch.sin(2 * math.pi * 1.5 * t) / 12.0))
    held = _tone(torch.full_like(t, 220.0))
    rooms, fit_config = procedural_bank(CONFIG.n_samples, SR), FitConfig(steps=1)
    assert Fitter(glide, CONFIG, fit_config, rooms, torch.device("cpu")).config.pitches == "grid"
    fitter = Fitter(torch.stack([held, held]), CONFIG, fit_config, rooms, torch.device("cpu"))
    assert fitter.config.pitches == "exact" and fitter.models[0].config.pitches == "exact"
    with pytest.raises(ValueError, match="own batch"):
        Fitter(torch.stack([glide, held]), CONFIG, fit_config, rooms, torch.device("cpu"))


def test_cli_fits_a_batch_of_both_kinds_each_with_its_own(tmp_path):
    """One batch of a voice and a guitar: each file holds the kind chosen for its clip,
    and renders."""
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["fit", str(SPEECH), str(GUITAR), "-o", str(out), "--batch-size", "2", "--steps", "2",
                                 "--events", "4", "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    speech, guitar = read_splat(out / "speech_apollo11.splat"), read_splat(out / "guitar_em9.splat")
    assert speech.config.pitches == "grid" and speech.controls.pitch_hz is None
    assert guitar.config.pitches == "exact" and guitar.controls.pitch_hz.shape == (4,)
    wav = tmp_path / "speech.wav"
    assert runner.invoke(app, ["render", str(out / "speech_apollo11.splat"), "-o", str(wav)]).exit_code == 0
    audio, rate = sf.read(wav)
    assert rate == SR and np.abs(audio).max() > 0


def test_a_long_fit_chooses_once_for_all_its_windows(tmp_path):
    """Speech fitted as four windows of 16384 samples: one file, grid pitches."""
    out = tmp_path / "speech.splat"
    result = CliRunner().invoke(app, ["fit", str(SPEECH), "-o", str(out), "--whole", "--samples", "16384", "--steps", "1",
                                      "--events", "2", "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    splat = read_splat(out)
    assert splat.config.n_windows == 4 and splat.config.pitches == "grid"
