"""Pure tensor functions for the event synth. No state, no files; shapes in docstrings.

Positions on the unit interval: a Gaussian window over L points places them evenly on
[0, 1], so 0 is the first point (sample 0 or DC) and 1 the last (sample N-1 or Nyquist).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS_WIDTH = 1e-12


def gauss_window(centre: torch.Tensor, width: torch.Tensor, n_points: int) -> torch.Tensor:
    """Normal density N(centre, width) at `n_points` points evenly spaced on [0, 1], peak 1.

    Args:
        centre: (...,) mean on the unit interval.
        width: (...,) standard deviation on the unit interval, > 0.

    Returns:
        (..., n_points) the density divided by its own maximum over the points. Computed in
        the log domain so that a very narrow window (all points far in the tail) keeps a
        peak of exactly 1 instead of underflowing to 0/0.
    """
    grid = torch.linspace(0.0, 1.0, n_points, device=centre.device, dtype=centre.dtype)
    log_density = -0.5 * ((grid - centre[..., None]) / width[..., None]) ** 2
    return torch.exp(log_density - log_density.amax(dim=-1, keepdim=True))


def fft_filter(signal: torch.Tensor, gain_per_bin: torch.Tensor) -> torch.Tensor:
    """Zero-phase filter: multiply the real FFT of `signal` by a real gain per bin.

    Args:
        signal: (..., N) time signal.
        gain_per_bin: (..., N // 2 + 1) real gains, bin 0 = DC, last bin = Nyquist.

    Returns:
        (..., N) filtered signal (circular, as the FFT is).
    """
    n = signal.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(signal) * gain_per_bin, n=n)


def gauss_band(centre: torch.Tensor, width: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Gaussian band-pass gains over the N // 2 + 1 bins of a real FFT of length `n_samples`.

    Args:
        centre: (...,) band centre, 0 = DC, 1 = Nyquist.
        width: (...,) raw band width; |width| + 1e-12 is the standard deviation (method.md §4.3).

    Returns:
        (..., n_samples // 2 + 1) gains, peak 1 at the bin nearest `centre`.
    """
    return gauss_window(centre, width.abs() + EPS_WIDTH, n_samples // 2 + 1)


def fft_convolve(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Causal linear convolution truncated to the signal's length (zero padding to 2N).

    Args:
        signal: (..., N)
        kernel: (..., N), broadcastable against `signal`.

    Returns:
        (..., N) with out[t] = sum_{k <= t} signal[t - k] * kernel[k].
    """
    n = signal.shape[-1]
    spectrum = torch.fft.rfft(signal, n=2 * n) * torch.fft.rfft(kernel, n=2 * n)
    return torch.fft.irfft(spectrum, n=2 * n)[..., :n]


def exp_decay(per_frame: torch.Tensor, n_frames: int, n_samples: int) -> torch.Tensor:
    """Exponential decay curve: per_frame^(f + 1) for frames f = 0..F-1, linearly resampled.

    Args:
        per_frame: (E,) factor r in (0, 1) applied once per frame.

    Returns:
        (E, n_samples) envelope; F.interpolate's linear mode (align_corners=False), so frame
        f's value sits at sample (f + 0.5) * n_samples / n_frames - 0.5.
    """
    exponents = torch.arange(1, n_frames + 1, device=per_frame.device, dtype=per_frame.dtype)
    frames = per_frame[:, None] ** exponents
    return F.interpolate(frames[:, None, :], size=n_samples, mode="linear")[:, 0, :]


def decay_factor(raw: torch.Tensor, base: float) -> torch.Tensor:
    """Per-frame decay factor r = base + sigmoid(raw) * (1 - base) * 0.99 (method.md §4.5)."""
    return base + torch.sigmoid(raw) * (1.0 - base) * 0.99


def exp_decay_prefix(per_frame: torch.Tensor, n_frames: int, n_samples: int, n_used: int) -> torch.Tensor:
    """The first `n_used` samples of `exp_decay` in closed form, without the other samples.

    Linear interpolation between frames f and f + 1 of r^(f+1) is r^(f+1) * (1 - w + w r),
    at the fractional frame position F.interpolate uses: (i + 0.5) * F / N - 0.5, clamped
    to [0, F - 1].

    Args:
        per_frame: (E,) factor r in (0, 1).

    Returns:
        (E, n_used)
    """
    position = torch.arange(n_used, device=per_frame.device, dtype=per_frame.dtype)
    position = ((position + 0.5) * (n_frames / n_samples) - 0.5).clamp_(0.0, n_frames - 1)
    frame = position.floor()
    weight = position - frame
    # Outer products through BLAS: broadcasting both operands is a slow path in torch.
    powers = torch.exp(torch.outer(torch.log(per_frame), frame + 1.0))
    between = torch.addr(torch.ones_like(powers), per_frame - 1.0, weight)
    return powers * between
