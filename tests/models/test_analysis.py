"""The analysis of a clip: notes hidden under another note's partials are still found, a
clip that sounds from its start has one onset there, and where notes start is found
through vibrato."""

from __future__ import annotations

import math

import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.models.analysis import PEAK_RADIUS_FRAMES, find_notes, note_onset_frames, onset_frames

SR = 22050
CONFIG = ModelConfig(n_samples=2**15, n_events=16)


def _tone(midi: float, start_s: float, harmonics: int = 10) -> torch.Tensor:
    """A held harmonic tone with partials falling as 1/h, as a bowed string's, from `start_s`."""
    t = torch.arange(CONFIG.n_samples, dtype=torch.float64) / SR
    after = (t - start_s).clamp_min(0.0)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    tone = sum(torch.sin(2 * math.pi * h * f0 * after) / h for h in range(1, harmonics + 1) if h * f0 < SR / 2)
    return (tone * (t >= start_s)).float()


@pytest.mark.parametrize("upper_midi", [55.0, 62.0, 71.0])
def test_a_note_on_another_notes_partial_is_found(upper_midi):
    """G2 with G3 (its 2nd partial), D4 (its 3rd) or B4 (its 5th), as in the chord Haydn's
    op. 74/1 opens with: taking all of G2's partials out of the spectrum hides the other."""
    clip = 0.4 * _tone(43.0, 0.3) + 0.4 * _tone(upper_midi, 0.3)
    frame = round(0.3 * SR / CONFIG.frame_size)
    found = [n.pitch_midi for n in find_notes(clip, CONFIG) if abs(n.onset_frame - frame) <= 2]
    for midi in (43.0, upper_midi):
        assert any(abs(p - midi) < 0.5 for p in found), (midi, found)


def test_a_clip_sounding_from_its_start_has_one_onset_there():
    """A note 15 ms in: frame 0, whose window padding half fills, hears it start, and
    frame 1 hears it rise again. That is the same onset, not a second note."""
    onsets = onset_frames(0.5 * _tone(57.0, 0.015) + 0.5 * _tone(64.0, 0.8), CONFIG.frame_size)
    assert onsets[0] == 0
    assert all(o > PEAK_RADIUS_FRAMES for o in onsets[1:]), onsets
    assert any(abs(o - round(0.8 * SR / CONFIG.frame_size)) <= 2 for o in onsets), onsets


def _vibrato_tone(midi: float, start_s: float, depth_semitones: float = 0.3, rate_hz: float = 6.0) -> torch.Tensor:
    """A held tone from `start_s` whose pitch swings `depth_semitones` either way, as a
    bowed string's vibrato, with its level swinging 3 dB along."""
    t = torch.arange(CONFIG.n_samples, dtype=torch.float64) / SR
    after = (t - start_s).clamp_min(0.0)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    swing = torch.sin(2 * math.pi * rate_hz * after)
    phase = 2 * math.pi * f0 * (after - depth_semitones * math.log(2) / 12 * torch.cos(2 * math.pi * rate_hz * after) / (2 * math.pi * rate_hz))
    tone = sum(torch.sin(h * phase) / h for h in range(1, 11) if h * f0 * 2 ** (depth_semitones / 12) < SR / 2)
    return (tone * 10 ** (0.075 * swing) * (t >= start_s)).float()


def test_notes_start_where_they_start_through_vibrato():
    """A held G3 with vibrato from 0.1 s, D4 joining at 0.9 s: the note onsets are those
    two; the broadband flux (what spreads the start's events) also takes vibrato swells."""
    clip = 0.5 * _vibrato_tone(55.0, 0.1) + 0.5 * _vibrato_tone(62.0, 0.9)
    expected = [round(s * SR / CONFIG.frame_size) for s in (0.1, 0.9)]
    onsets = note_onset_frames(clip, CONFIG.frame_size, SR)
    assert all(any(abs(o - e) <= 3 for o in onsets) for e in expected), onsets  # 35 ms
    assert all(o == 0 or any(abs(o - e) <= 3 for e in expected) for o in onsets), onsets
    assert len(onset_frames(clip, CONFIG.frame_size)) > len(onsets)
