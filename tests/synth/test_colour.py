"""A clip's colour (`synth.colour`): 0 dB gives the audio back, a lift of L dB is L dB in
the band lifted and nowhere far from it, and the colour found between a render and the same
render through a known colour is that colour, within its limits; the colour's track lifts
where and when it says, follows a level that changes over time, and leaves a pause silent."""

from __future__ import annotations

import pytest
import torch

from audiosplat.core.bed_layout import band_centres_hz
from audiosplat.synth.colour import (
    COLOUR_MAX_DB,
    COLOUR_QUIET_DB,
    MIN_TRACK_ANCHORS,
    STORED_BUDGET,
    TRACK_ANCHORS,
    TRACK_BANDS,
    apply_colour,
    colour_levels_db,
    colour_track_db,
    track_anchors,
)

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


def _span_db(audio: torch.Tensor, first: int, last: int, low_hz: float, high_hz: float) -> float:
    """Power (dB) of `audio`'s samples [first, last) between two frequencies."""
    span = audio[first:last].double()
    power = torch.fft.rfft(span * torch.hann_window(len(span), dtype=torch.float64)).abs().square()
    bins_hz = torch.fft.rfftfreq(len(span), 1.0 / SR)
    return float(10 * torch.log10(power[(bins_hz > low_hz) & (bins_hz < high_hz)].sum()))


def test_a_track_lifts_its_band_only_while_it_says():
    """A track of 8 anchors and 3 bands, 0 dB but +6 dB in the top band from the fifth
    anchor on: the top band is 6 dB louder late in the clip, and the rest is as it was."""
    audio = _noise(4)
    track = torch.zeros(8, 3)
    track[4:, 2] = 6.0
    lifted = apply_colour(audio, torch.zeros(B), SR, track)
    top, low = (10700.0, 11000.0), (60.0, 1000.0)  # the top band's centre is Nyquist
    late, early = (3 * N // 4, N), (0, N // 4)
    assert _span_db(lifted, *late, *top) - _span_db(audio, *late, *top) == pytest.approx(6.0, abs=0.5)
    assert abs(_span_db(lifted, *early, *top) - _span_db(audio, *early, *top)) < 0.5
    assert abs(_span_db(lifted, *late, *low) - _span_db(audio, *late, *low)) < 0.5


def test_the_track_follows_a_level_that_changes_over_time():
    """The clip swells by 4 dB from its first half to its second; a render of the same noise
    at one level gets a track of about -2 dB then +2 dB, and through it, the clip's course."""
    render = _noise(5)
    ramp = torch.where(torch.arange(N) < N // 2, 10 ** (-2 / 20), 10 ** (2 / 20))
    target = render * ramp
    track = colour_track_db(target, render, SR, n_anchors=16, n_bands=3)
    assert track.shape == (16, 3)
    torch.testing.assert_close(track[1:6], torch.full((5, 3), -2.0), atol=0.3, rtol=0.0)
    torch.testing.assert_close(track[10:15], torch.full((5, 3), 2.0), atol=0.3, rtol=0.0)
    coloured = apply_colour(render, torch.zeros(B), SR, track)
    for first, last in ((N // 16, 6 * N // 16), (10 * N // 16, 15 * N // 16)):
        assert _span_db(coloured, first, last, 60.0, 10500.0) == pytest.approx(_span_db(target, first, last, 60.0, 10500.0), abs=0.5)


def test_a_pause_stays_silent_through_the_track():
    """A clip silent in its middle third, a render with noise there at -90 dB: the track
    never lifts the pause (it cuts what the clip does not hold), and the coloured render is
    still at least 50 dB under the clip's sound there."""
    render = _noise(6)
    pause = (N // 3, 2 * N // 3)
    target = render.clone()
    target[pause[0] : pause[1]] = 0.0
    render[pause[0] : pause[1]] *= 10 ** (-90 / 20)
    track = colour_track_db(target, render, SR, n_anchors=32, n_bands=3)
    inside = slice(32 // 3 + 2, 2 * 32 // 3 - 1)
    assert torch.all(track[inside] == -COLOUR_MAX_DB)
    coloured = apply_colour(render, torch.zeros(B), SR, track)
    assert _span_db(coloured, pause[0] + 2048, pause[1] - 2048, 60.0, 10500.0) < _span_db(target, 0, pause[0], 60.0, 10500.0) - 50.0


def test_the_track_takes_what_the_budget_leaves():
    """A 64-event default fit (2,337 numbers) leaves room for 74 anchors; a file of 47
    events for all 128; one past the budget still gets MIN_TRACK_ANCHORS; a short clip no
    more than one anchor per two of the bed's frames."""
    n = 2**16
    assert track_anchors(2337, n) == 74 and 2337 + 74 * TRACK_BANDS <= STORED_BUDGET
    assert track_anchors(1861, n) == TRACK_ANCHORS
    assert track_anchors(STORED_BUDGET + 500, n) == MIN_TRACK_ANCHORS
    assert track_anchors(0, 4096) == 8  # 17 frames of 256 samples
