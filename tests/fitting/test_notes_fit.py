"""Notes of real fits of synthetic notes, through the CLI: two notes read as two notes, a
note struck twice as two, and deleting one note's events takes its sound away and leaves
the other's."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from audiosplat.io.audio import load_clip
from audiosplat.io.splat_format import read_stored
from tests.cli_runner import run_cli

N, SR = 16384, 22050
A4, E5 = 440.0, 659.26


def _tone(hz: float, start_s: float) -> np.ndarray:
    """A decaying harmonic tone (5 partials, 1/h) from `start_s` to the clip's end."""
    t = np.arange(N) / SR
    after = np.clip(t - start_s, 0.0, None)
    tone = sum(np.sin(2 * math.pi * h * hz * after) / h for h in range(1, 6))
    return tone * np.exp(-4.0 * after) * (t >= start_s)


def _fit(tmp_path, name: str, clip: np.ndarray):
    wav, splat = tmp_path / f"{name}.wav", tmp_path / f"{name}.splat"
    sf.write(wav, (0.5 * clip / np.abs(clip).max()).astype(np.float32), SR)
    result = run_cli("fit", wav, "-o", splat, "--samples", N, "--events", 8, "--steps", 150, "-q")
    assert result.exit_code == 0, result.stderr
    notes = json.loads(run_cli("notes", splat, "--format", "json").stdout)
    return splat, notes


@pytest.fixture(scope="module")
def two_notes(tmp_path_factory):
    return _fit(tmp_path_factory.mktemp("two"), "two", _tone(A4, 0.1) + _tone(E5, 0.4))


def test_two_notes_are_two_notes(two_notes):
    _, notes = two_notes
    assert [n["note"] for n in notes] == ["A4", "E5"], notes
    assert all(abs(n["onset_s"] - start) < 0.03 for n, start in zip(notes, (0.1, 0.4))), notes


def test_the_fit_stores_where_the_notes_start(two_notes):
    splat, _ = two_notes
    onsets = read_stored(splat, optimizer=False).onsets_s
    assert onsets[0] == 0.0 and any(abs(t - 0.4) < 0.03 for t in onsets), onsets
    assert all(t < 0.03 or abs(t - 0.1) < 0.03 or abs(t - 0.4) < 0.03 for t in onsets), onsets


def test_a_note_struck_twice_is_two_notes(tmp_path):
    _, notes = _fit(tmp_path, "twice", _tone(A4, 0.1) + _tone(A4, 0.45))
    assert [n["note"] for n in notes] == ["A4", "A4"], notes
    assert all(abs(n["onset_s"] - start) < 0.03 for n, start in zip(notes, (0.1, 0.45))), notes


def _band_db(audio: np.ndarray, hz: float, start_s: float) -> float:
    """Energy (dB) within a semitone of `hz`, from `start_s` for 0.2 s."""
    span = audio[int(start_s * SR) : int((start_s + 0.2) * SR)]
    spectrum = np.abs(np.fft.rfft(span * np.hanning(len(span)))) ** 2
    bins = np.fft.rfftfreq(len(span), 1.0 / SR)
    inside = np.abs(12 * np.log2(np.maximum(bins, 1.0) / hz)) < 1.0
    return float(10 * np.log10(spectrum[inside].sum() + 1e-30))


def test_deleting_a_notes_events_takes_its_sound_away_and_leaves_the_other(two_notes, tmp_path):
    splat, _ = two_notes
    edited = tmp_path / "no_a4.splat"
    assert run_cli("edit", splat, "-o", edited, "--select", "note==A4", "--gain", "-120", "-q").exit_code == 0
    renders = {}
    for name, path in (("both", splat), ("edited", edited)):
        wav = tmp_path / f"{name}.wav"
        assert run_cli("render", path, "-o", wav, "-q").exit_code == 0
        renders[name] = load_clip(wav, n_samples=N, sample_rate=SR, normalise=False).samples
    # A4 alone sounds from 0.1 s to 0.4 s; both sound after 0.4 s
    assert _band_db(renders["edited"], A4, 0.15) < _band_db(renders["both"], A4, 0.15) - 30.0
    assert abs(_band_db(renders["edited"], E5, 0.45) - _band_db(renders["both"], E5, 0.45)) < 1.0
