"""Fits with a noise bed (`synth.noise_bed`): noise is carried by the bed, not bought from
the notes; a band-limited clip renders nothing above its band; the bed is silent where the
source is; and the file's render, through its colour and the colour's track, keeps the band."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiosplat.app.api import fit_audio_file, render_splat
from audiosplat.core.config import ModelConfig
from audiosplat.fitting.fit import FitConfig, fit
from audiosplat.io.audio import load_clip
from audiosplat.synth.rooms import procedural_bank
from tests.shared import GUITAR

N, RATE = 16384, 22050
CONFIG = ModelConfig(n_samples=N, n_events=8)


def _fit(clip: torch.Tensor, steps: int = 30):
    """(render, bed's render) of a short fit of `clip` (N,), peak-normalised first."""
    result = fit((clip / clip.abs().max()).float(), CONFIG, FitConfig(steps=steps), procedural_bank(N, RATE), torch.device("cpu"))
    return result.render, result.noise_bed.render(N, RATE)


def _db(part: torch.Tensor, whole: torch.Tensor) -> float:
    return float(10 * torch.log10(part.double().square().sum() / whole.double().square().sum()))


def _guitar() -> torch.Tensor:
    return torch.from_numpy(load_clip(GUITAR, n_samples=N, sample_rate=RATE).samples)


def test_white_noise_is_carried_by_the_bed():
    """The bed starts 30 dB under the clip and rises about 1 dB a step: 80 steps let it arrive."""
    render, bed = _fit(torch.randn(N, generator=torch.Generator().manual_seed(0)), steps=80)
    assert _db(bed, render) > -1.0 and _db(render - bed, render) < -10.0


def test_a_band_limited_clip_renders_nothing_above_its_band():
    spectrum = torch.fft.rfft(_guitar())
    hz = torch.fft.rfftfreq(N, 1.0 / RATE)
    spectrum[hz > 5000] = 0
    render, _ = _fit(torch.fft.irfft(spectrum, n=N))
    power = torch.fft.rfft(render.double() * torch.hann_window(N, dtype=torch.float64)).abs().square()
    assert float(10 * torch.log10(power[hz > 6000].sum() / power.sum())) < -60.0


@pytest.mark.parametrize("source", ["noise", "guitar"])
def test_the_bed_is_silent_in_a_silent_gap(source):
    clip = torch.randn(N, generator=torch.Generator().manual_seed(1)) if source == "noise" else _guitar()
    clip[5000:11000] = 0
    render, bed = _fit(clip)
    peak = float(render.abs().max())
    assert float(bed[6000:10000].abs().max()) < 10 ** (-50 / 20) * peak


def _file_render(clip: torch.Tensor, tmp_path) -> torch.Tensor:
    """The render of the .splat that `fit` writes for `clip` (N,): colour and track included."""
    source = tmp_path / "clip.wav"
    sf.write(source, (0.5 * clip / clip.abs().max()).numpy().astype(np.float32), RATE, subtype="FLOAT")
    outcome = fit_audio_file(source, tmp_path / "clip.splat", config=CONFIG, fit_config=FitConfig(steps=30), device="cpu")
    assert outcome.splat.colour_track_db is not None
    return torch.from_numpy(render_splat(outcome.splat))


def test_the_files_render_keeps_a_band_limit(tmp_path):
    """Through the colour and its track, a band-limited clip still renders nothing above its
    band (< -60 dB): neither lifts a band the clip does not hold."""
    hz = torch.fft.rfftfreq(N, 1.0 / RATE)
    spectrum = torch.fft.rfft(_guitar())
    spectrum[hz > 5000] = 0
    render = _file_render(torch.fft.irfft(spectrum, n=N), tmp_path)
    power = torch.fft.rfft(render.double() * torch.hann_window(N, dtype=torch.float64)).abs().square()
    assert float(10 * torch.log10(power[hz > 6000].sum() / power.sum())) < -60.0
