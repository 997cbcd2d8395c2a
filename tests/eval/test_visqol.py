"""The ViSQOL wrapper: its measures need the eval extra (skipped without it)."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from audiosplat.core.errors import AudiosplatError
from audiosplat.eval import visqol
from audiosplat.eval.visqol import visqol_if_installed, visqol_mos


def test_visqol_of_a_signal_with_itself_is_high_and_of_silence_undefined():
    pytest.importorskip("visqol")
    t = torch.arange(22050) / 22050
    chord = sum(torch.sin(2 * math.pi * hz * t) for hz in (220.0, 277.2, 329.6)) * torch.exp(-2 * t)
    assert visqol_mos(chord, chord, 22050) > 4
    assert math.isnan(visqol_mos(chord, torch.zeros_like(chord), 22050))


def test_visqol_refuses_clips_under_a_second_and_inspect_leaves_it_out():
    pytest.importorskip("visqol")
    short = torch.randn(8192, generator=torch.Generator().manual_seed(0))
    with pytest.raises(AudiosplatError, match="at least 1 s"):
        visqol_mos(short, short, 22050)
    assert visqol_if_installed(short, short, 22050) == {}


def test_visqol_without_the_eval_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "visqol", None)  # makes `import visqol` fail
    visqol._audio_mode.cache_clear()
    try:
        with pytest.raises(AudiosplatError, match=r"audiosplat\[eval\]"):
            visqol_mos(torch.zeros(22050), torch.zeros(22050), 22050)
    finally:
        visqol._audio_mode.cache_clear()
