"""The fixed wavetable (method.md §4.1): shapes, pitches, phase and amplitude."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiosplat.dsp import oscillator, wavetable
from audiosplat.dsp.oscillator import oscillate, oscillate_reference
from audiosplat.dsp.wavetable import band_limited_cycles, hz_to_midi, make_wavetable, midi_to_hz, wave_pitch_hz, wave_pitches_hz
from tests.synth_helpers import spectral_peak_hz

SR = 22050
P = 128
N = 16384


@pytest.fixture(scope="module")
def table() -> torch.Tensor:
    return make_wavetable(P, N, SR)


@pytest.fixture(scope="module")
def band_limited() -> torch.Tensor:
    return make_wavetable(P, N, SR, "band-limited")


def test_shape_dtype_and_block_order(table):
    assert table.shape == (4 * P, N)
    assert table.dtype == torch.float32
    assert make_wavetable(3, 1024, SR).shape == (12, 1024)
    # The 4th block is sin(2 pi f t) for the pitches in order.
    t = np.arange(N) / SR
    for k in (0, 40, 127):
        f = float(wave_pitches_hz(P)[k])
        np.testing.assert_allclose(table[3 * P + k].numpy(), np.sin(2 * np.pi * f * t), atol=2e-6)


def test_pitches_span_a0_to_midi_106():
    pitches = wave_pitches_hz(P)
    assert pitches.shape == (P,) and pitches.dtype == torch.float64
    assert float(pitches[0]) == pytest.approx(27.5, rel=1e-12)
    assert float(pitches[-1]) == pytest.approx(440 * 2 ** (37 / 12), rel=1e-12)  # 3729.3 Hz
    assert float(pitches[-1]) == pytest.approx(3729.31, abs=0.01)
    # evenly spaced in MIDI (geometric in Hz), strictly increasing
    midi = hz_to_midi(pitches)
    np.testing.assert_allclose(np.diff(midi.numpy()), 85 / 127, rtol=1e-9)
    assert torch.all(torch.diff(pitches) > 0)
    assert float(midi_to_hz(torch.tensor(69.0))) == 440.0
    # wave_pitch_hz: the row's pitch for every shape block
    rows = torch.tensor([5, P + 5, 2 * P + 5, 3 * P + 5])
    assert torch.all(wave_pitch_hz(rows, P) == pitches[5])


@pytest.mark.parametrize("shape_index", [0, 1, 2, 3], ids=["saw", "square", "triangle", "sine"])
@pytest.mark.parametrize("target_hz", [110.0, 440.0, 1000.0])
def test_spectral_peak_is_the_rows_pitch(table, shape_index, target_hz):
    pitches = wave_pitches_hz(P)
    k = int(torch.argmin((pitches - target_hz).abs()))
    row = shape_index * P + k
    pitch = float(wave_pitch_hz(torch.tensor(row), P))
    assert pitch == float(pitches[k])
    peak = spectral_peak_hz(table[row].numpy(), SR)
    assert abs(peak - pitch) <= SR / N  # within one bin (1.35 Hz)


@pytest.mark.parametrize("kind", ["table", "band_limited"])
def test_harmonic_content_of_each_shape(kind, request):
    """Saw: all harmonics ~1/k; square and triangle: odd harmonics only (1/k and 1/k^2);
    sine: none. Checked at ~440 Hz, harmonic 2 and 3 relative to the fundamental."""
    table = request.getfixturevalue(kind)
    pitches = wave_pitches_hz(P)
    k = int(torch.argmin((pitches - 440.0).abs()))
    f0 = float(pitches[k])

    t = np.arange(N) / SR
    window = np.hanning(N)

    def amplitude_at(x, f):
        # windowed DTFT at exactly f (no scalloping between harmonics)
        return abs(np.sum(x * window * np.exp(-2j * np.pi * f * t)))

    ratios = {}
    for s, name in enumerate(("saw", "square", "triangle", "sine")):
        x = table[s * P + k].double().numpy()
        a1 = amplitude_at(x, f0)
        ratios[name] = (amplitude_at(x, 2 * f0) / a1, amplitude_at(x, 3 * f0) / a1)
    assert ratios["saw"][0] == pytest.approx(1 / 2, rel=0.05) and ratios["saw"][1] == pytest.approx(1 / 3, rel=0.05)
    assert ratios["square"][0] < 0.02 and ratios["square"][1] == pytest.approx(1 / 3, rel=0.05)
    assert ratios["triangle"][0] < 0.02 and ratios["triangle"][1] == pytest.approx(1 / 9, rel=0.05)
    assert ratios["sine"][0] < 1e-3 and ratios["sine"][1] < 1e-3


def test_phase_zero_at_sample_zero_rising_like_a_sine(table):
    start = table[:, 0]
    # saw, triangle and sine start at exactly 0 ...
    for s in (0, 2, 3):
        assert torch.all(start[s * P : (s + 1) * P] == 0.0)
    # ... the square (two levels only) starts its positive half-cycle at +1 ...
    assert torch.all(start[P : 2 * P] == 1.0)
    # ... and every wave is positive over the first part of its first half-cycle.
    pitches = wave_pitches_hz(P)
    for row in range(4 * P):
        half_cycle = int(SR / float(pitches[row % P]) / 2)
        first = table[row, 1:half_cycle]
        assert torch.all(first > 0), row


def test_unit_amplitude(table):
    peak = table.abs().amax(dim=-1)
    assert torch.all(peak <= 1.0)
    assert torch.all(peak >= 0.99)
    assert torch.all(table.amin(dim=-1) >= -1.0)
    # square is exactly +-1
    assert torch.all(table[P : 2 * P].abs() == 1.0)


def _off_harmonic_db(x: np.ndarray, f0: float) -> float:
    """Energy more than 8 Hz away from every multiple of f0, relative to the energy near them, dB."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    near = np.abs(f - f0 * np.round(f / f0)) < 8.0
    return 10 * np.log10(spectrum[~near].sum() / spectrum[near].sum())


@pytest.mark.parametrize("target_hz", [1000.0, 3000.0])
@pytest.mark.parametrize("shape_index", [0, 1, 2], ids=["saw", "square", "triangle"])
def test_band_limited_waves_have_no_aliases(table, band_limited, shape_index, target_hz):
    """Sampled ideal shapes fold their harmonics above Nyquist back between the harmonics;
    the band-limited ones put (almost) nothing there."""
    k = int(torch.argmin((wave_pitches_hz(P) - target_hz).abs()))
    f0, row = float(wave_pitches_hz(P)[k]), shape_index * P + k
    assert _off_harmonic_db(band_limited[row].double().numpy(), f0) < -50.0  # the window's own leakage
    if shape_index != 2:  # the triangle's 1/h^2 harmonics alias less, but still
        assert _off_harmonic_db(table[row].double().numpy(), f0) > -35.0


def test_band_limited_waves_start_at_phase_zero_rising_with_their_pitch(band_limited):
    np.testing.assert_allclose(band_limited[3 * P :].numpy(), make_wavetable(P, N, SR)[3 * P :].numpy(), atol=2e-6)
    assert band_limited[:, 0].abs().max() < 1e-6  # even the square: the midpoint of its step
    pitches = wave_pitches_hz(P)
    for row in range(0, 4 * P, 7):
        half_cycle = int(SR / float(pitches[row % P]) / 2)
        assert torch.all(band_limited[row, 1:half_cycle] > 0), row
        peak = spectral_peak_hz(band_limited[row].numpy(), SR)
        assert abs(peak - float(pitches[row % P])) <= SR / N
    # the Gibbs overshoot, or a lone fundamental at its Fourier amplitude
    assert float(band_limited.abs().max()) <= 4 / np.pi + 1e-5  # a square of one harmonic: (4/pi) sin


@pytest.mark.parametrize("kind", ["naive", "band-limited"])
def test_chosen_rows_are_those_rows_of_the_whole_table(kind, table, band_limited):
    whole = table if kind == "naive" else band_limited
    # out of order, runs of one shape's neighbouring pitches, and one shape's rows of a few
    # pitches separated by another shape's: each made alone exactly as in the whole table
    rows = torch.tensor([3 * P + 100, 7, P + 7, 2 * P + 64, 0, 4 * P - 1, 20, 21, 22, P + 20, 23, 2 * P + 21, 2 * P + 22])
    assert torch.equal(make_wavetable(P, N, SR, kind, rows), whole[rows])


def additive_waves(pitch_hz: torch.Tensor, shape_weights: torch.Tensor, n_samples: int, sample_rate: int) -> torch.Tensor:
    """The slow, obviously-correct exact-pitch wave: each shape's Fourier series (the
    amplitudes of `band_limited_cycles`' docstring) summed harmonic by harmonic below
    Nyquist, in float64. (E,), (E, 4) -> (E, N)."""
    t = torch.arange(n_samples, dtype=torch.float64) / sample_rate
    out = torch.zeros(len(pitch_hz), n_samples, dtype=torch.float64)
    for e, f in enumerate(pitch_hz.tolist()):
        h = 1
        while h * f < sample_rate / 2:
            odd, sign = h % 2 == 1, (1.0 if h % 4 == 1 else -1.0)
            series = ((2 / np.pi) * (1.0 if odd else -1.0) / h, (4 / np.pi) / h if odd else 0.0,
                      (8 / np.pi**2) * sign / h**2 if odd else 0.0, 1.0 if h == 1 else 0.0)
            amplitude = sum(float(w) * a for w, a in zip(shape_weights[e], series))
            out[e] += amplitude * torch.sin(2 * np.pi * h * f * t)
            h += 1
    return out


def test_an_exact_pitch_on_the_grid_is_that_row(band_limited):
    rows = torch.tensor([0, 60, P + 60, 2 * P + 100, 3 * P + 127])
    shapes = torch.nn.functional.one_hot(rows // P, 4).float()
    assert torch.equal(oscillate(wave_pitches_hz(P)[rows % P], shapes, N, SR), band_limited[rows])


def test_an_exact_pitch_between_rows_is_its_fourier_series():
    """Mixed shapes at pitches between the wavetable's rows, against their harmonics summed
    one by one. The period is read by linear interpolation, which dulls harmonics with
    few points a cycle: within 2e-5 of the peak from 400 Hz up (3e-3 for a 27.5 Hz saw)."""
    pitch_hz = torch.tensor([452.3, 1003.7, 3000.0], dtype=torch.float64)
    weights = torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.0, 0.7, 0.3, 0.0], [0.25, 0.25, 0.25, 0.25]])
    fast, slow = oscillate(pitch_hz, weights, N, SR).double(), additive_waves(pitch_hz, weights, N, SR)
    assert ((fast - slow).abs().amax(dim=-1) / slow.abs().amax(dim=-1)).max() < 2e-5


@pytest.mark.parametrize("pitch_hz", [97.3, 452.3, 2011.0])
def test_an_exact_pitch_peaks_at_its_pitch_and_has_no_alias(pitch_hz):
    """A saw between the rows: its spectral peak is its pitch, and less than 1e-5 of its
    energy lies more than 8 Hz from a harmonic (the ideal saw sampled: 0.5% to 11%)."""
    saw = oscillate(torch.tensor([pitch_hz]), torch.tensor([[1.0, 0.0, 0.0, 0.0]]), N, SR)[0].numpy()
    assert spectral_peak_hz(saw, SR) == pytest.approx(pitch_hz, abs=0.1)
    power = np.abs(np.fft.rfft(saw * np.hanning(N))) ** 2
    hz = np.fft.rfftfreq(N, 1 / SR)
    near_a_harmonic = np.abs(hz / pitch_hz - np.round(hz / pitch_hz)) * pitch_hz < 8.0
    assert power[~near_a_harmonic].sum() < 1e-5 * power.sum()


def test_an_exact_pitch_has_the_gradient_of_its_phase():
    """d/df sin(2 pi f t) = 2 pi t cos(2 pi f t): the pitch's gradient of a sine's match
    to a detuned sine, as a spectral loss would pull it, is the analytic one; and the
    shapes' gradient is each shape's own wave."""
    t = torch.arange(4096, dtype=torch.float64) / SR
    pitch_hz = torch.tensor([440.0, 97.3], dtype=torch.float64, requires_grad=True)
    target = torch.sin(2 * np.pi * (pitch_hz.detach()[:, None] + 3.0) * t)
    sines = torch.tensor([[0.0, 0.0, 0.0, 1.0]] * 2)
    (oscillate(pitch_hz, sines, 4096, SR) * target).sum().backward()
    analytic = (target * 2 * np.pi * t * torch.cos(2 * np.pi * pitch_hz.detach()[:, None] * t)).sum(dim=-1)
    torch.testing.assert_close(pitch_hz.grad, analytic, rtol=1e-3, atol=0.0)

    weights = torch.tensor([[0.5, 0.2, 0.2, 0.1]] * 2, requires_grad=True)
    probe = torch.randn(2, 4096, generator=torch.Generator().manual_seed(0))
    (oscillate(pitch_hz.detach(), weights, 4096, SR) * probe).sum().backward()
    alone = torch.stack([oscillate(pitch_hz.detach()[e].expand(4), torch.eye(4), 4096, SR) for e in range(2)])  # (2, 4, N)
    torch.testing.assert_close(weights.grad, torch.einsum("esn,en->es", alone, probe), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block_rows", [1, 3, 8])
def test_the_blocked_read_equals_the_reference_read_and_its_gradients(dtype, block_rows, monkeypatch):
    """`read_periods` reads a few rows at a time with a written-out backward pass: the same
    waves bit for bit as `read_periods_reference` (all rows at once, autograd), and the
    same gradients in the pitches and in every point of random periods (the first point's
    included, which is also read after the last), in blocks that do and do not divide the
    rows. `oscillate` through it equals `oscillate_reference`."""
    monkeypatch.setattr(oscillator, "READ_BLOCK_BYTES", block_rows * 8 * 4096)
    gen = torch.Generator().manual_seed(11)
    pitch_hz = (40.0 + 3000.0 * torch.rand(7, generator=gen, dtype=torch.float64)).requires_grad_()
    periods = torch.randn(7, 64, generator=gen, dtype=dtype).requires_grad_()  # 64 points: every point is read
    points_per_hz = torch.arange(4096, dtype=torch.float64) / SR * 64
    probe = torch.randn(7, 4096, generator=gen, dtype=dtype)
    fast, slow = oscillator.read_periods(pitch_hz, periods, points_per_hz), oscillator.read_periods_reference(pitch_hz, periods, points_per_hz)
    assert fast.dtype == dtype and torch.equal(fast, slow)
    grads_fast = torch.autograd.grad((fast * probe).sum(), (pitch_hz, periods))
    grads_slow = torch.autograd.grad((slow * probe).sum(), (pitch_hz, periods))
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    for a, b in zip(grads_fast, grads_slow):
        assert torch.all(b != 0)
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance * float(b.abs().max()))

    weights = torch.rand(7, 4, generator=gen, dtype=dtype)
    assert torch.equal(oscillate(pitch_hz, weights, 4096, SR), oscillate_reference(pitch_hz, weights, 4096, SR))


def test_band_limited_periods_hold_every_harmonic_below_nyquist_and_none_above():
    """A saw's period has harmonics 1..H, H the count strictly below Nyquist: a pitch at a
    third of Nyquist has 2, one a hair below it 3; none at or above Nyquist. Periods are
    kept per harmonic count: asked again after a caller wrote into its copy, and after the
    cache is emptied, the same."""
    nyquist_hz = SR / 2
    pitches_hz = torch.tensor([nyquist_hz / 3, nyquist_hz / 3 * (1 - 1e-9), 1000.0, nyquist_hz, 2 * nyquist_hz], dtype=torch.float64)
    periods = band_limited_cycles(pitches_hz, SR)
    assert periods.shape == (4, 5, wavetable.CYCLE_POINTS) and periods.dtype == torch.float32
    magnitude = torch.fft.rfft(periods[0].double()).abs()  # the saws
    for row, count in enumerate([2, 3, 11, 0, 0]):
        present = torch.nonzero(magnitude[row] > 1e-6 * wavetable.CYCLE_POINTS)[:, 0]
        assert torch.equal(present, torch.arange(1, count + 1)), (row, present)
    band_limited_cycles(pitches_hz, SR).zero_()  # a caller's copy, not the kept periods
    assert torch.equal(band_limited_cycles(pitches_hz, SR), periods)
    wavetable._cycles_with_harmonics.cache_clear()
    assert torch.equal(band_limited_cycles(pitches_hz, SR), periods)
