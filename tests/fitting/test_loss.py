"""Spectral losses (method.md §7) and the relative spectral L1 quality figure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiosplat.core.config import LOSS_NAMES
from audiosplat.fitting.loss import (
    BALANCE,
    BALANCE_FLOOR,
    BAND_STFTS,
    LOG_FLOOR,
    LOSSES,
    NOISE_BAND_STFT,
    MultibandBalancedLoss,
    MultibandLogLoss,
    MultibandLoss,
    NoiseLoss,
    framed_stft_magnitude,
    make_loss,
    multiband_features,
    octave_bands,
    relative_spectral_l1,
)

SR = 22050


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _cos_at_bin(k: float, n: int, length: int | None = None, amplitude: float = 1.0, phase: float = 0.0) -> torch.Tensor:
    t = torch.arange(n if length is None else length, dtype=torch.float64)
    return amplitude * torch.cos(2 * math.pi * k * t / n + phase)


# --- framed STFT -------------------------------------------------------------------------


@pytest.mark.parametrize("window,hop", [(2048, 256), (128, 64), (64, 32), (16, 8)])
def test_framed_stft_shape_and_sine_bin(window, hop):
    length = 4096
    k = window // 8  # a bin-centred frequency
    x = _cos_at_bin(k, window, length, amplitude=0.7)
    mag = framed_stft_magnitude(x, window, hop)
    assert mag.shape == (length // hop, window // 2 + 1)
    full = (length - window) // hop + 1  # frames lying wholly inside the signal
    assert torch.all(mag[:full].argmax(-1) == k)
    # periodic Hann sums to window/2; orthonormal rfft: |X_k| = A/2 * (W/2) / sqrt(W)
    expected = 0.7 / 2 * (window / 2) / math.sqrt(window)
    torch.testing.assert_close(mag[:full, k], torch.full((full,), expected, dtype=torch.float64), rtol=1e-9, atol=0)
    # almost all the energy of a full frame sits in bins k-1..k+1 (Hann main lobe)
    energy = (mag[:full] ** 2).sum(-1)
    assert torch.all((mag[:full, k - 1 : k + 2] ** 2).sum(-1) > (1 - 1e-9) * energy)


def test_framed_stft_frames_start_at_multiples_of_hop_and_zero_pad_the_end():
    window, hop, length = 64, 16, 256
    x = torch.randn(2, length, generator=_gen(0), dtype=torch.float64)
    mag = framed_stft_magnitude(x, window, hop)
    assert mag.shape == (2, length // hop, window // 2 + 1)
    hann = np.hanning(window + 1)[:-1]  # periodic Hann
    padded = np.concatenate([x[1].numpy(), np.zeros(window)])
    for f in (0, 3, length // hop - 1):
        frame = padded[f * hop : f * hop + window] * hann
        np.testing.assert_allclose(mag[1, f].numpy(), np.abs(np.fft.rfft(frame, norm="ortho")), rtol=1e-10, atol=1e-12)


# --- octave bands ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4096, 65536])
def test_octave_band_sizes(n):
    bands = octave_bands(torch.zeros(n))
    sizes = [b.shape[-1] for b in bands]
    assert sizes == [512 * 2**i for i in range(int(math.log2(n // 512)) + 1)]
    assert sizes[-1] == n
    assert len(multiband_features(torch.zeros(n))) == 1 + 3 * len(sizes)


@pytest.mark.parametrize("band_index", [0, 1, 2, 3])
def test_a_sine_inside_an_octave_lands_in_that_band_only(band_index):
    n = 4096
    sizes = [512, 1024, 2048, 4096]
    s = sizes[band_index]
    low, high = (0, s // 2) if s == 512 else (s // 4, s // 2)
    k = (low + high) // 2 + 7  # a bin well inside [low, high]
    x = _cos_at_bin(k, n, amplitude=0.3, phase=0.4)
    bands = octave_bands(x)
    energies = torch.stack([(b**2).sum() for b in bands])
    total = float((x**2).sum())
    assert float(energies[band_index]) == pytest.approx(total, rel=1e-9)
    others = torch.cat([energies[:band_index], energies[band_index + 1 :]])
    assert float(others.max()) < 1e-20 * total
    # critically sampled: the band is the sine decimated by N/s, scaled by sqrt(N/s)
    decimated = math.sqrt(n / s) * x[:: n // s]
    torch.testing.assert_close(bands[band_index], decimated, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [4096, 65536])
def test_octave_bands_energy_partition(n):
    """Bins [s/4, s/2] of consecutive bands share their edge bin s/4: the lower band has it
    as its Nyquist bin (weight 1, real part only, as irfft reads it), the upper band as an
    ordinary bin (weight 2). So, exactly (Parseval, orthonormal transforms):
        sum of band energies = signal energy + sum over the shared edge bins of Re(X_k)^2.
    """
    x = torch.randn(n, generator=_gen(n), dtype=torch.float64)
    bands = octave_bands(x)
    band_energy = sum(float((b**2).sum()) for b in bands)
    energy = float((x**2).sum())
    spectrum = torch.fft.rfft(x, norm="ortho")
    shared = [b.shape[-1] // 2 for b in bands[:-1]]  # 256, 512, ..., N/4
    excess = float((spectrum[shared].real ** 2).sum())
    assert band_energy == pytest.approx(energy + excess, rel=1e-12)
    # the overlap is small: a few bins out of N/2 (well under 1e-3 for white noise)
    assert 0 < (band_energy - energy) / energy < 1e-3
    # a signal with no energy on the shared bins is partitioned exactly
    kept = spectrum.clone()
    kept[shared] = 0
    y = torch.fft.irfft(kept, n=n, norm="ortho")
    assert sum(float((b**2).sum()) for b in octave_bands(y)) == pytest.approx(float((y**2).sum()), rel=1e-12)


# --- MultibandLoss -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target() -> torch.Tensor:
    gen = _gen(1)
    n = 4096
    t = torch.arange(n) / SR
    tone = 0.5 * torch.sin(2 * math.pi * 523.0 * t) * torch.exp(-3 * t)
    return (tone + 0.05 * torch.randn(n, generator=gen)).to(torch.float32)


def test_multiband_loss_zero_at_target_and_positive_elsewhere(target):
    loss = MultibandLoss(target)
    assert float(loss(target)) == 0.0
    noise = 0.05 * torch.randn(target.shape, generator=_gen(2))
    assert float(loss(target + noise)) > 0
    assert float(loss(torch.zeros_like(target))) > 0


def test_multiband_loss_is_linear_in_a_gain_error(target):
    """Phi is a magnitude of linear maps: Phi(c t) = |c| Phi(t), so loss(c t) = |1 - |c|| loss(0)."""
    loss = MultibandLoss(target)
    silent = float(loss(torch.zeros_like(target)))
    features_sum = sum(float(f.sum()) for f in multiband_features(target))
    assert silent == pytest.approx(features_sum, rel=1e-5)
    for c in (0.25, 0.5, 0.9, 1.5, 3.0):
        assert float(loss(c * target)) == pytest.approx(abs(1 - c) * silent, rel=1e-4)
    # blind to polarity
    assert float(loss(-target)) == pytest.approx(0.0, abs=1e-6 * silent)


def test_multiband_loss_decreases_as_the_render_moves_to_the_target(target):
    loss = MultibandLoss(target)
    other = 0.3 * torch.randn(target.shape, generator=_gen(3))
    values = [float(loss((1 - lam) * other + lam * target)) for lam in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)]
    assert all(a > b for a, b in zip(values, values[1:])), values
    assert values[-1] == 0.0


def test_multiband_loss_per_clip(target):
    other = 0.2 * torch.randn(target.shape, generator=_gen(4))
    targets = torch.stack([target, other])
    renders = torch.stack([0.5 * target, other + 0.01])
    batched = MultibandLoss(targets)(renders)
    assert batched.shape == (2,)
    assert float(batched[0]) == pytest.approx(float(MultibandLoss(target)(renders[0])), rel=1e-5)
    assert float(batched[1]) == pytest.approx(float(MultibandLoss(other)(renders[1])), rel=1e-5)


def test_multiband_loss_gradient_points_downhill(target):
    loss = MultibandLoss(target)
    render = (0.5 * target).clone().requires_grad_()
    value = loss(render)
    (grad,) = torch.autograd.grad(value, render)
    assert torch.isfinite(grad).all()
    stepped = render.detach() - 1e-4 * grad / grad.norm()
    assert float(loss(stepped)) < float(value.detach())


# --- MultibandLogLoss -----------------------------------------------------------------------


def test_log_loss_is_the_linear_loss_plus_the_log_distance_of_the_same_features(target):
    render = 0.7 * target + 0.01 * torch.randn(target.shape, generator=_gen(11))
    log_loss = MultibandLogLoss(target)
    assert float(log_loss(target)) == 0.0
    by_hand = float(MultibandLoss(target)(render))
    for t, r in zip(multiband_features(target), multiband_features(render)):
        floor = LOG_FLOOR * t.max() + 1e-12
        by_hand += float(t.mean() * (torch.log(t + floor) - torch.log(r + floor)).abs().sum())
    assert float(log_loss(render)) == pytest.approx(by_hand, rel=1e-4)
    assert float(MultibandLogLoss(target, log_weight=0.0)(render)) == pytest.approx(float(MultibandLoss(target)(render)), rel=1e-6)


def test_log_loss_hears_a_quiet_noise_floor_that_the_linear_loss_barely_sees():
    """A 440 Hz tone: against a render 2 dB too quiet, a render with white noise 50 dB
    below the tone costs the linear loss a sixth as much; the log term makes the noise
    count for far more (hearing and ViSQOL notice it)."""
    n = 16384
    tone = 0.5 * torch.sin(2 * math.pi * 440.0 * torch.arange(n) / SR)
    noisy = tone + 0.5 * 10 ** (-50 / 20) * (2 * torch.rand(n, generator=_gen(12)) - 1)
    quieter = 0.8 * tone
    linear, log = MultibandLoss(tone), MultibandLogLoss(tone)
    linear_ratio = float(linear(noisy)) / float(linear(quieter))
    log_ratio = float(log(noisy)) / float(log(quieter))
    assert linear_ratio < 0.3
    assert log_ratio > 1.5 * linear_ratio


def test_log_loss_is_finite_for_silence_and_per_clip(target):
    other = 0.2 * torch.randn(target.shape, generator=_gen(13))
    loss = MultibandLogLoss(torch.stack([target, other]))
    render = torch.zeros(2, target.shape[-1], requires_grad=True)
    values = loss(render)
    assert values.shape == (2,) and torch.isfinite(values).all()
    (grad,) = torch.autograd.grad(values.sum(), render)
    assert torch.isfinite(grad).all()
    assert float(values[1].detach()) == pytest.approx(float(MultibandLogLoss(other)(torch.zeros_like(other))), rel=1e-5)


def test_balanced_loss_weights_each_feature_by_its_target_mean(target):
    """w_k = c (mean Phi_k(T))^-BALANCE with c such that a silent render costs what it
    costs the plain loss; by hand from the features."""
    render = 0.7 * target + 0.01 * torch.randn(target.shape, generator=_gen(21))
    features_t, features_r = multiband_features(target), multiband_features(render)
    raw = [float(t.mean()) ** -BALANCE for t in features_t]
    c = sum(float(t.sum()) for t in features_t) / sum(w * float(t.sum()) for w, t in zip(raw, features_t))
    by_hand = sum(c * w * float((t - r).abs().sum()) for w, t, r in zip(raw, features_t, features_r))
    loss = MultibandBalancedLoss(target)
    assert float(loss(render)) == pytest.approx(by_hand, rel=1e-4)
    silence = torch.zeros_like(target)
    assert float(loss(silence)) == pytest.approx(float(MultibandLoss(target)(silence)), rel=1e-5)


def test_balanced_loss_hears_a_missing_quiet_high_band():
    """A loud 220 Hz tone and a 5 kHz partial 30 dB below it: the plain loss prefers a
    render without the partial to one whose tone is 1 dB too quiet; the balanced loss
    prefers the one with the partial (ViSQOL hears a missing band above 3 kHz)."""
    n = 16384
    t = torch.arange(n) / SR
    tone = 0.5 * torch.sin(2 * math.pi * 220.0 * t)
    partial = 0.5 * 10 ** (-30 / 20) * torch.sin(2 * math.pi * 5000.0 * t)
    target, missing, quieter = tone + partial, tone, 10 ** (-1 / 20) * tone + partial
    plain, balanced = MultibandLoss(target), MultibandBalancedLoss(target)
    assert float(plain(missing)) < float(plain(quieter))
    assert float(balanced(missing)) > float(balanced(quieter))


def test_balanced_loss_bounds_the_weight_of_an_empty_band():
    """A source with nothing above 2 kHz: its top bands' weights stay within
    BALANCE_FLOOR^-BALANCE of the loudest band's, so a faint leak there (74 dB below the
    tone) costs less than a quarter of the tone being 1 dB off."""
    n = 16384
    tone = 0.5 * torch.sin(2 * math.pi * 220.0 * torch.arange(n) / SR)
    weights = torch.stack(MultibandBalancedLoss(tone).weights)
    assert float(weights.max() / weights.min()) <= BALANCE_FLOOR**-BALANCE * (1 + 1e-5)
    leak = tone + 1e-4 * torch.sin(2 * math.pi * 8000.0 * torch.arange(n) / SR)
    assert float(MultibandBalancedLoss(tone)(leak)) < 0.25 * float(MultibandBalancedLoss(tone)(10 ** (-1 / 20) * tone))


def test_balanced_loss_per_clip(target):
    other = 0.2 * torch.randn(target.shape, generator=_gen(22))
    renders = torch.stack([0.5 * target, other + 0.01])
    batched = MultibandBalancedLoss(torch.stack([target, other]))(renders)
    assert float(batched[0]) == pytest.approx(float(MultibandBalancedLoss(target)(renders[0])), rel=1e-5)
    assert float(batched[1]) == pytest.approx(float(MultibandBalancedLoss(other)(renders[1])), rel=1e-5)


# --- NoiseLoss -----------------------------------------------------------------------------


def _noise_loss_by_hand(target: torch.Tensor, render: torch.Tensor, seed: int) -> float:
    """method.md §7: per octave band, STFT(128, 32) without Nyquist, res = T - R,
    n ~ N(mean(res), std(res)), relu(||R|| - ||T||) + sum |res - n|."""
    gen = _gen(seed)
    window, hop = NOISE_BAND_STFT
    total = 0.0
    for tb, rb in zip(octave_bands(target), octave_bands(render)):
        t = framed_stft_magnitude(tb, window, hop)[..., :-1]
        r = framed_stft_magnitude(rb, window, hop)[..., :-1]
        res = t - r
        n = torch.randn(res.shape, generator=gen, dtype=res.dtype) * res.std() + res.mean()
        total += float(torch.relu(r.norm() - t.norm())) + float((res - n).abs().sum())
    return total


def test_noise_loss_is_finite_deterministic_and_follows_the_formula(target):
    render = 0.6 * target + 0.02 * torch.randn(target.shape, generator=_gen(5))
    a = NoiseLoss(target, _gen(7))(render)
    b = NoiseLoss(target, _gen(7))(render)
    c = NoiseLoss(target, _gen(8))(render)
    assert a.ndim == 0 and torch.isfinite(a)
    assert float(a) == float(b)
    assert float(a) != float(c)
    assert float(a) == pytest.approx(_noise_loss_by_hand(target, render, 7), rel=1e-5)
    # zero residual: the noise has mean 0 and std 0, no energy excess
    assert float(NoiseLoss(target, _gen(7))(target)) == 0.0


def test_noise_loss_penalises_excess_energy(target):
    """For a louder render, res = T - c T = (1 - c) T; the relu term is (c - 1) sum ||T_band||."""
    loss = NoiseLoss(target, _gen(9))
    louder = loss(2.0 * target)
    band_norms = sum(
        float(framed_stft_magnitude(b, *NOISE_BAND_STFT)[..., :-1].norm()) for b in octave_bands(target)
    )
    assert float(louder) >= band_norms * (1 - 1e-5)
    assert float(louder) == pytest.approx(_noise_loss_by_hand(target, 2.0 * target, 9), rel=1e-5)


def test_make_loss():
    t = torch.zeros(4096)
    assert isinstance(make_loss("multiband", t, _gen(0)), MultibandLoss)
    assert isinstance(make_loss("noise", t, _gen(0)), NoiseLoss)
    assert isinstance(make_loss("multiband-log", t, _gen(0)), MultibandLogLoss)
    assert isinstance(make_loss("multiband-balanced", t, _gen(0)), MultibandBalancedLoss)
    with pytest.raises(ValueError):
        make_loss("l2", t, _gen(0))
    assert BAND_STFTS == ((128, 64), (64, 32), (16, 8))


# --- relative spectral L1 ------------------------------------------------------------------


def test_relative_spectral_l1(target):
    assert relative_spectral_l1(target, target) == 0.0
    assert relative_spectral_l1(target, torch.zeros_like(target)) == pytest.approx(1.0, rel=1e-6)
    for c in (0.5, 2.0, 1.1):
        assert relative_spectral_l1(target, c * target) == pytest.approx(abs(1 - c), rel=1e-4)
    assert relative_spectral_l1(target, -target) == pytest.approx(0.0, abs=1e-6)
    # a different sound is far
    noise = 0.1 * torch.randn(target.shape, generator=_gen(6))
    assert relative_spectral_l1(target, noise) > 0.3
    # coarser STFT settings give a different but valid figure
    assert 0 < relative_spectral_l1(target, 0.9 * target + 0.01 * noise, 512, 128) < 1


def test_every_loss_name_has_its_loss():
    assert tuple(LOSSES) == LOSS_NAMES
