"""A clip's colour (`synth.colour`): 0 dB gives the audio back, a lift of L dB is L dB in
the band lifted and nowhere far from it, and the colour found between a render and the same
render through a known colour is that colour, within its limits."""

from __future__ import annotations

import pytest
import torch

from audiosplat.core.bed_layout import band_centres_hz
from audiosplat.synth.colour import COLOUR_MAX_DB, COLOUR_QUIET_DB, apply_colour, colour_levels_db

N, SR, B = 2**15, 22050, 16


def _noise(seed: int = 0) -> torch.Tensor:
    return torch.randn(N, generator=torch.Generator().manual_seed(seed))


def _band_db(audio: torch.Tensor, hz: float, width_hz: float = 15.0) -> float:
    """Power (dB) of `audio`'s middle half within `width_hz` of `hz`."""
    middle = audio[N // 4 : 3 * N // 4].double()
    power = torch.fft.rfft(middle * torch.hann_window(len(middle), dtype=torch.float64)).abs().square()
    bins_hz = torch.fft.rfftfreq(len(middle), 1.0 / SR)
    return float(10 * torch.log10(power[(bins_hz - hz).abs() < width_hz].sum()))


def test_a_flat_colour_gives_the_audio_back_and_a_lift_scales_it():
    audio = _noise()
    flat = apply_colour(audio, torch.zeros(B), SR)
    assert float((flat - audio).abs().max()) < 1e-5 * float(audio.abs().max())
    doubled = apply_colour(torch.stack([audio, 0.5 * audio]), torch.full((B,), 20 * torch.log10(torch.tensor(2.0)).item()), SR)
    torch.testing.assert_close(doubled, torch.stack([2 * audio, audio]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("band", [3, 9, 13])
def test_a_bands_lift_is_heard_at_its_centre_and_not_far_from_it(band):
    audio = _noise(1)
    levels = torch.zeros(B)
    levels[band] = 12.0
    lifted = apply_colour(audio, levels, SR)
    centres = band_centres_hz(B, SR)
    assert _band_db(lifted, centres[band]) - _band_db(audio, centres[band]) == pytest.approx(12.0, abs=1.0)
    far = centres[band + 2]  # past the neighbour, where the lift has fallen to 0 dB
    assert abs(_band_db(lifted, far) - _band_db(audio, far)) < 0.5


def test_the_colour_between_a_render_and_its_coloured_self_is_that_colour():
    render = _noise(2)
    levels = torch.linspace(-5.0, 5.0, B)
    levels[7] = 9.0  # past COLOUR_MAX_DB: found as the limit
    target = apply_colour(render, levels, SR)
    found = colour_levels_db(target, render, SR, B)
    expected = levels.clamp(-COLOUR_MAX_DB, COLOUR_MAX_DB)
    inner = [b for b in range(1, B - 1) if b not in (6, 7, 8)]  # pooling over a band's bins blurs the spike into its neighbours
    torch.testing.assert_close(found[inner], expected[inner], atol=0.6, rtol=0.0)
    assert float(found[7]) == pytest.approx(COLOUR_MAX_DB)


def test_a_band_the_clip_hardly_holds_is_left_alone():
    """A render with noise where the clip is empty (above 5 kHz, 80 dB down) is not lifted
    or cut there: a lift would only raise round-off."""
    render = _noise(3)
    spectrum = torch.fft.rfft(render)
    spectrum[torch.fft.rfftfreq(N, 1.0 / SR) > 5000] *= 10 ** (-80 / 20)
    target = torch.fft.irfft(spectrum, n=N)
    found = colour_levels_db(target, 2 * render, SR, B)  # 6 dB too loud where the clip sounds
    quiet = torch.from_numpy(band_centres_hz(B, SR) > 6500)
    assert COLOUR_QUIET_DB < 80.0
    assert torch.all(found[quiet] == 0.0)
    assert torch.all((found[~quiet][1:-1] + COLOUR_MAX_DB).abs() < 0.6)
