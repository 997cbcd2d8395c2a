"""Quality figures of a render against its source (not losses: no gradients needed)."""

from __future__ import annotations

import torch

from audiosplat.loss import relative_spectral_l1

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS = (5, 10, 20, 40, 80, 160, 320)


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale, 0 Hz to Nyquist."""
    bins_hz = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    edges_mel = torch.linspace(0.0, float(hz_to_mel(torch.tensor(sample_rate / 2.0))), n_mels + 2, dtype=torch.float64)
    edges_hz = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    low, centre, high = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz - low) / (centre - low)
    falling = (high - bins_hz) / (high - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


def log_mel_distance(target: torch.Tensor, render: torch.Tensor, sample_rate: int) -> float:
    """Multi-scale log-mel distance: for windows 32 ... 2048 (hop a quarter window, Hann,
    5 ... 320 mel bands), mean |log10(max(mel T, 1e-5)) - log10(max(mel R, 1e-5))|,
    averaged over the scales. 0 is perfect."""
    distances = []
    for window, n_mels in zip(MEL_WINDOWS, MEL_BANDS):
        bank = mel_filterbank(window, n_mels, sample_rate).to(target.device)
        hann = torch.hann_window(window, device=target.device)

        def log_mel(x: torch.Tensor) -> torch.Tensor:
            magnitude = torch.stft(x, window, window // 4, window=hann, center=True, pad_mode="constant", return_complex=True).abs()
            return torch.log10((bank @ magnitude).clamp_min(1e-5))

        with torch.no_grad():
            distances.append(float((log_mel(target) - log_mel(render)).abs().mean()))
    return sum(distances) / len(distances)


def quality(target: torch.Tensor, render: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """The figures `inspect --against` reports for a render (N,) against its target (N,)."""
    return {
        "relative_spectral_l1_2048_256": relative_spectral_l1(target, render, 2048, 256),
        "relative_spectral_l1_512_128": relative_spectral_l1(target, render, 512, 128),
        "log_mel_distance": log_mel_distance(target, render, sample_rate),
    }
