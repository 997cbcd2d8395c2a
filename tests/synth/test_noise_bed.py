"""The noise bed's physics: a 0 dB bed is its white noise, levels come back as set, a silent
band or span is silent, and the interpolation is the plain one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiosplat.core.bed_layout import anchor_samples, band_centres_hz
from audiosplat.core.fields import SILENT_DB
from audiosplat.synth.noise_bed import NoiseBed, bed_levels_of, bed_noise, linear_weights, noise_spectrum, render_bed

N, RATE = 16384, 22050


def _bed(levels_db: torch.Tensor, seed: int = 3) -> torch.Tensor:
    return render_bed(levels_db, noise_spectrum(bed_noise(seed, N)), N, RATE)


def _power_above(audio: torch.Tensor, hz: float) -> float:
    """Share of the energy above `hz`, in dB (Hann-windowed: the clip's ends would leak)."""
    power = torch.fft.rfft(audio.double() * torch.hann_window(len(audio), dtype=torch.float64)).abs().square()
    freqs = torch.fft.rfftfreq(len(audio), 1.0 / RATE)
    return float(10 * torch.log10(power[freqs > hz].sum() / power.sum()))


def test_a_0_db_bed_is_its_white_noise():
    np.testing.assert_allclose(_bed(torch.zeros(8, 6)).numpy(), bed_noise(3, N).numpy(), atol=1e-5)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_noise():
    levels = torch.randn(8, 6, generator=torch.Generator().manual_seed(1)) * 10
    assert torch.equal(_bed(levels), _bed(levels))
    assert not torch.allclose(_bed(levels), _bed(levels, seed=4))


def test_levels_read_back_from_a_render_within_a_decibel_or_two():
    """Smooth levels (a tilt and a swell) come back from the render's own band energies."""
    anchors, bands = 8, 6
    tilt = torch.linspace(0.0, -30.0, bands)[None, :]
    swell = torch.linspace(-10.0, 0.0, anchors)[:, None]
    levels = (tilt + swell).float()
    measured = bed_levels_of(_bed(levels), anchors, bands, RATE)
    assert float((measured - levels)[1:-1, 1:-1].abs().max()) < 2.0  # the ends see half a window


def test_a_silent_band_leaves_nothing_above_its_neighbour():
    levels = torch.zeros(8, 16)
    centres = band_centres_hz(16, RATE)
    levels[:, centres > 6000] = SILENT_DB
    edge = float(centres[centres <= 6000][-1])
    assert _power_above(_bed(levels), edge + 1500) < -60.0


def test_a_silent_span_is_silent():
    levels = torch.zeros(16, 6)
    levels[5:10] = SILENT_DB
    anchors = anchor_samples(16, N)
    audio = _bed(levels)
    quiet = audio[int(anchors[6]) : int(anchors[9])]  # a frame's half-length inside the span
    assert float(quiet.abs().max()) < 1e-8 * float(audio.abs().max())  # -160 dB: the ramps' tails


@pytest.mark.parametrize("n_points", [1, 7, 300])
def test_linear_weights_interpolate_as_numpy_does(n_points):
    anchors = torch.tensor([0.0, 1.0, 2.5, 7.0], dtype=torch.float64)
    values = torch.tensor([3.0, -1.0, 4.0, 10.0], dtype=torch.float64)
    points = torch.linspace(-1.0, 8.0, n_points, dtype=torch.float64)
    np.testing.assert_allclose((linear_weights(points, anchors) @ values).numpy(), np.interp(points.numpy(), anchors.numpy(), values.numpy()), atol=1e-12)


def test_gain_and_mute_act_on_audible_levels_only():
    levels = torch.tensor([[0.0, SILENT_DB], [-20.0, 5.0]])
    bed = NoiseBed(levels, seed=1)
    assert torch.equal(bed.louder(6.0).levels_db, torch.tensor([[6.0, SILENT_DB], [-14.0, 11.0]]))
    assert float(bed.muted().render(N, RATE).abs().max()) == 0.0


def test_the_levels_get_a_gradient():
    levels = torch.zeros(8, 6, requires_grad=True)
    _bed(levels).square().mean().backward()
    assert torch.isfinite(levels.grad).all() and float(levels.grad.abs().min()) > 0
