"""dsp.py (and its fast twins in spectral_ops.py) against the maths of method.md §4."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiosplat.dsp.core import decay_factor, exp_decay, fft_convolve, fft_filter, gauss_band, gauss_window
from audiosplat.dsp.spectral_ops import LOG_TINY, causal_convolution, gauss_window_fused, gauss_window_support, zero_phase_filter

SR = 22050


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- gauss_window -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gauss_window_peaks_at_nearest_grid_point_with_exactly_one(dtype):
    n = 101  # grid step 0.01
    centre = torch.tensor([0.0, 0.123, 0.5, 0.996, 1.0, 0.377], dtype=dtype)
    width = torch.tensor([0.1, 0.05, 0.2, 0.01, 0.3, 0.002], dtype=dtype)
    w = gauss_window(centre, width, n)
    assert w.shape == (6, n)
    expected_peak = torch.round(centre.double() * (n - 1)).long()
    assert torch.equal(w.argmax(dim=-1), expected_peak)
    assert torch.all(w.amax(dim=-1) == 1.0)
    assert torch.all(w >= 0) and torch.all(w <= 1)
    # The density's shape: exp(-(x - c)^2 / 2 s^2) / its maximum.
    grid = np.linspace(0, 1, n)
    for i in range(len(centre)):
        c, s = float(centre[i]), float(width[i])
        ref = np.exp(-0.5 * ((grid - c) / s) ** 2 + 0.5 * ((grid[expected_peak[i]] - c) / s) ** 2)
        np.testing.assert_allclose(w[i].double().numpy(), ref, rtol=1e-4 if dtype == torch.float32 else 1e-10, atol=1e-30)


def test_gauss_window_outside_unit_interval_peaks_at_the_end():
    w = gauss_window(torch.tensor([-0.3, 1.7]), torch.tensor([0.2, 0.2]), 50)
    assert int(w[0].argmax()) == 0 and int(w[1].argmax()) == 49
    assert float(w[0, 0]) == 1.0 and float(w[1, -1]) == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gauss_window_tiny_width_is_finite_one_hot(dtype):
    n = 1025
    centre = torch.tensor([0.3, 0.30005, 0.0, 1.0, 0.7770001], dtype=dtype)
    width = torch.full_like(centre, 1e-12)
    w = gauss_window(centre, width, n)
    assert torch.isfinite(w).all()
    expected = torch.round(centre.double() * (n - 1)).long()
    assert torch.equal(w.argmax(dim=-1), expected)
    one_hot = torch.nn.functional.one_hot(expected, n).to(dtype)
    assert torch.equal(w, one_hot)


def test_gauss_window_gradcheck():
    centre = torch.tensor([0.31, 0.77], dtype=torch.float64, requires_grad=True)
    width = torch.tensor([0.08, 0.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, s: gauss_window(c, s, 33), (centre, width))


# --- gauss_band -------------------------------------------------------------------------


@pytest.mark.parametrize("centre,width", [(0.2, 0.01), (0.5, 0.03), (0.8, 0.02)])
def test_gauss_band_passes_noise_at_the_requested_frequency(centre, width):
    n = 16384
    noise = torch.rand(16, n, generator=_gen(3), dtype=torch.float64) * 2 - 1  # 16 draws, averaged
    gains = gauss_band(torch.tensor(centre, dtype=torch.float64), torch.tensor(width, dtype=torch.float64), n)
    assert gains.shape == (n // 2 + 1,)
    band = fft_filter(noise, gains).numpy()
    power = np.mean(np.abs(np.fft.rfft(band, axis=-1)) ** 2, axis=0)
    smooth = np.convolve(power, np.ones(65) / 65, mode="same")
    freqs = np.fft.rfftfreq(n, 1 / SR)
    nyquist = SR / 2
    centre_hz = centre * nyquist
    # Gain is a Gaussian of std width*nyquist; power, the square, a Gaussian of std width*nyquist/sqrt(2).
    power_std_hz = width * nyquist / math.sqrt(2)
    centroid = float(np.sum(freqs * power) / np.sum(power))
    spread = math.sqrt(float(np.sum((freqs - centroid) ** 2 * power) / np.sum(power)))
    peak = float(freqs[np.argmax(smooth)])
    assert abs(centroid - centre_hz) < 0.05 * power_std_hz + 2 * SR / n
    assert abs(peak - centre_hz) < 0.35 * power_std_hz
    assert spread == pytest.approx(power_std_hz, rel=0.05)
    # Almost nothing outside +-5 power standard deviations.
    outside = np.abs(freqs - centre_hz) > 5 * power_std_hz
    assert power[outside].sum() < 1e-6 * power.sum()


def test_gauss_band_uses_absolute_width_and_peaks_at_one():
    n = 4096
    c = torch.tensor([0.25, 0.6])
    pos = gauss_band(c, torch.tensor([0.05, 0.1]), n)
    neg = gauss_band(c, torch.tensor([-0.05, -0.1]), n)
    assert torch.equal(pos, neg)
    assert torch.equal(pos.argmax(-1), torch.round(c.double() * (n // 2)).long())
    assert torch.all(pos.amax(-1) == 1.0)
    # width 0 -> 1e-12: a single bin passes, still finite
    zero = gauss_band(torch.tensor([0.25]), torch.tensor([0.0]), n)
    assert torch.isfinite(zero).all() and float(zero.sum()) == 1.0


# --- fft_convolve / fft_filter -----------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 16, 33])
def test_fft_convolve_equals_direct_truncated_convolution(n):
    gen = _gen(n)
    signal = torch.randn(3, n, generator=gen, dtype=torch.float64)
    kernel = torch.randn(3, n, generator=gen, dtype=torch.float64)
    out = fft_convolve(signal, kernel)
    assert out.shape == (3, n)
    for e in range(3):
        direct = np.convolve(signal[e].numpy(), kernel[e].numpy())[:n]
        np.testing.assert_allclose(out[e].numpy(), direct, rtol=1e-10, atol=1e-12)


def test_fft_convolve_broadcasts_one_kernel_and_is_causal():
    n = 64
    gen = _gen(1)
    signal = torch.randn(4, n, generator=gen, dtype=torch.float64)
    kernel = torch.zeros(n, dtype=torch.float64)
    kernel[5] = 2.0  # a delay of 5 samples, gain 2
    out = fft_convolve(signal, kernel[None])
    np.testing.assert_allclose(out[:, :5].numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out[:, 5:].numpy(), 2.0 * signal[:, :-5].numpy(), atol=1e-12)


def test_fft_convolve_gradcheck():
    gen = _gen(2)
    signal = torch.randn(2, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(2, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fft_convolve, (signal, kernel))


def test_fft_filter_is_circular_multiplication_of_the_spectrum():
    n = 32
    gen = _gen(4)
    signal = torch.randn(n, generator=gen, dtype=torch.float64)
    gains = torch.rand(n // 2 + 1, generator=gen, dtype=torch.float64)
    out = fft_filter(signal, gains).numpy()
    # zero-phase: the impulse response is real and even (circularly)
    h = np.fft.irfft(gains.numpy(), n)
    direct = np.array([sum(signal[m].item() * h[(t - m) % n] for m in range(n)) for t in range(n)])
    np.testing.assert_allclose(out, direct, atol=1e-12)
    np.testing.assert_allclose(h[1:], h[1:][::-1], atol=1e-14)


# --- exp_decay / decay_factor ----------------------------------------------------------


def test_exp_decay_hits_r_to_the_k_plus_one_at_frame_centres():
    # n_samples / n_frames = 3 (odd): frame f sits at sample (f + 0.5) * 3 - 0.5 = 3 f + 1.
    n_frames, n_samples = 6, 18
    r = torch.tensor([0.5, 0.9, 0.02, 0.999], dtype=torch.float64)
    curve = exp_decay(r, n_frames, n_samples)
    assert curve.shape == (4, n_samples)
    for f in range(n_frames):
        np.testing.assert_allclose(curve[:, 3 * f + 1].numpy(), (r ** (f + 1)).numpy(), rtol=1e-12)
    # between two centres: the straight line between them
    np.testing.assert_allclose(curve[:, 5].numpy(), ((2 * r**2 + r**3) / 3).numpy(), rtol=1e-12)
    # before the first and after the last centre: held constant
    np.testing.assert_allclose(curve[:, 0].numpy(), r.numpy(), rtol=1e-12)
    np.testing.assert_allclose(curve[:, -1].numpy(), (r**n_frames).numpy(), rtol=1e-12)


def test_exp_decay_matches_linear_interpolation_formula_at_default_size():
    n_frames, n_samples = 256, 65536
    r = torch.tensor([0.3, 0.95, 0.9999], dtype=torch.float64)
    curve = exp_decay(r, n_frames, n_samples).numpy()
    frames = (r[:, None] ** torch.arange(1, n_frames + 1, dtype=torch.float64)).numpy()
    j = np.arange(n_samples)
    x = np.clip((j + 0.5) * n_frames / n_samples - 0.5, 0, n_frames - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n_frames - 1)
    frac = x - lo
    expected = (1 - frac) * frames[:, lo] + frac * frames[:, hi]
    np.testing.assert_allclose(curve, expected, rtol=1e-10, atol=1e-300)
    # monotone non-increasing, in (0, r]
    assert np.all(np.diff(curve, axis=-1) <= 1e-15)
    assert np.all(curve > 0) and np.all(curve <= r.numpy()[:, None] + 1e-15)


@pytest.mark.parametrize("base", [0.02, 0.5])
def test_decay_factor_range(base):
    raw = torch.tensor([-1e4, -30.0, -3.0, 0.0, 3.0, 30.0, 1e4])
    r = decay_factor(raw, base)
    top = base + (1 - base) * 0.99
    assert torch.all(r >= base) and torch.all(r <= top + 1e-7)
    assert torch.all(r < 1.0)
    assert float(r[3]) == pytest.approx(base + 0.5 * (1 - base) * 0.99, rel=1e-6)
    assert float(r[0]) == pytest.approx(base, abs=1e-7) and float(r[-1]) == pytest.approx(top, rel=1e-6)
    assert torch.all(torch.diff(r) >= 0)


# --- spectral_ops: the fast twins ------------------------------------------------------


def test_zero_phase_filter_equals_fft_filter_and_gradcheck():
    gen = _gen(5)
    e, j, n = 2, 2, 10
    signal = torch.randn(e, n, generator=gen, dtype=torch.float64, requires_grad=True)
    gains = torch.rand(e, j, n // 2 + 1, generator=gen, dtype=torch.float64, requires_grad=True)
    out = zero_phase_filter(signal, gains)
    ref = fft_filter(signal[:, None, :], gains)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    # with a precomputed spectrum
    out2 = zero_phase_filter(signal, gains, torch.fft.rfft(signal.detach()))
    torch.testing.assert_close(out2, ref, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(zero_phase_filter, (signal, gains))
    assert torch.autograd.gradcheck(lambda g: zero_phase_filter(signal.detach(), g, torch.fft.rfft(signal.detach())), (gains,))


def test_causal_convolution_equals_fft_convolve_and_gradcheck():
    gen = _gen(6)
    e, j, n = 2, 2, 8
    signal = torch.randn(e, n, generator=gen, dtype=torch.float64, requires_grad=True)
    kernels = torch.randn(e, j, n, generator=gen, dtype=torch.float64, requires_grad=True)
    out = causal_convolution(signal, kernels)
    ref = fft_convolve(signal[:, None, :], kernels)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(causal_convolution, (signal, kernels))


@pytest.mark.parametrize("n_signal", [1, 3, 7, 8])
def test_causal_convolution_of_a_signal_cut_to_its_support_is_the_zero_padded_one(n_signal):
    """A signal given by its first S samples convolves as if zero-padded to N (transforms
    of S + N - 1 points, rounded up to a fast length): forward and both gradients."""
    gen = _gen(8)
    e, j, n = 2, 2, 8
    signal = torch.randn(e, n_signal, generator=gen, dtype=torch.float64, requires_grad=True)
    kernels = torch.randn(e, j, n, generator=gen, dtype=torch.float64, requires_grad=True)
    out = causal_convolution(signal, kernels)
    padded = torch.nn.functional.pad(signal, (0, n - n_signal))
    direct = torch.stack([
        torch.stack([torch.tensor(np.convolve(padded[i].detach(), kernels[i, k].detach())[:n]) for k in range(j)]) for i in range(e)
    ])
    torch.testing.assert_close(out, direct, rtol=1e-12, atol=1e-12)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    grads = torch.autograd.grad((out * g).sum(), (signal, kernels))
    grads_padded = torch.autograd.grad((fft_convolve(padded[:, None, :], kernels) * g).sum(), (signal, kernels))
    for a, b in zip(grads, grads_padded):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(causal_convolution, (signal, kernels))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gauss_window_support_ends_where_every_window_is_at_its_floor(dtype):
    """Past the support, each window is its floor exp(LOG_TINY) exactly, and the support
    ends at most a few points past the last one above it. Centres before, inside and past
    the grid."""
    n = 4096
    floor = torch.tensor(LOG_TINY, dtype=dtype).exp()
    for centre, width in [(0.0, 0.001), (0.01, 0.002), (-0.003, 0.001), (0.5, 0.01), (1.2, 0.1), (0.02, 1e-7)]:
        c, w = torch.tensor([centre, 0.0], dtype=dtype), torch.tensor([width, 1e-6], dtype=dtype)
        window = gauss_window_fused(c, w, n)
        support = gauss_window_support(c, w, n, n)
        assert 1 <= support <= n
        assert torch.all(window[:, support:] == floor), (centre, width)
        above = torch.nonzero(window.amax(dim=0) > floor)
        assert support <= (int(above.max()) if len(above) else 0) + 3, (centre, width)  # tight, but for round-off
    # at most n_used, and a short window's support is short
    assert gauss_window_support(torch.tensor([0.9]), torch.tensor([0.3]), n, 100) == 100
    assert gauss_window_support(torch.tensor([0.0]), torch.tensor([0.001]), n, n) < 60


@pytest.mark.parametrize("n_used", [None, 40])
def test_gauss_window_fused_equals_gauss_window_and_gradcheck(n_used):
    n = 64
    # (no centre half-way between two grid points: there the window's max switches points)
    centre = torch.tensor([0.0, 0.21, 0.52, 0.93, 1.4, -0.2], dtype=torch.float64, requires_grad=True)
    width = torch.tensor([0.05, 0.1, 0.3, 0.02, 0.4, 0.25], dtype=torch.float64, requires_grad=True)
    fused = gauss_window_fused(centre, width, n, n_used)
    ref = gauss_window(centre, width, n)[..., : (n if n_used is None else n_used)]
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-30)
    g = torch.randn(fused.shape, generator=_gen(7), dtype=torch.float64)
    grads_fused = torch.autograd.grad((fused * g).sum(), (centre, width))
    grads_ref = torch.autograd.grad((ref * g).sum(), (centre, width))
    for a, b in zip(grads_fused, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(lambda c, s: gauss_window_fused(c, s, n, n_used), (centre, width))
