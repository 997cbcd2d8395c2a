"""Quality figures of a render against its source (not losses: no gradients needed)."""

from __future__ import annotations

import torch

from audiosplat.core.bed_layout import hz_to_mel, mel_to_hz
from audiosplat.fitting.loss import relative_spectral_l1

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS = (5, 10, 20, 40, 80, 160, 320)
CHROMA_STFT = (4096, 512)  # (n_fft, hop): 5.4 Hz bins, so neighbouring semitones separate from 55 Hz up
CHROMA_RANGE_HZ = (55.0, 5000.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale, 0 Hz to Nyquist."""
    bins_hz = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    edges_mel = torch.linspace(0.0, float(hz_to_mel(torch.tensor(sample_rate / 2.0))), n_mels + 2, dtype=torch.float64)
    edges_hz = mel_to_hz(edges_mel)
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

        def log_mel(x: torch.Tensor, window: int = window, hann: torch.Tensor = hann, bank: torch.Tensor = bank) -> torch.Tensor:
            magnitude = torch.stft(x, window, window // 4, window=hann, center=True, pad_mode="constant", return_complex=True).abs()
            return torch.log10((bank @ magnitude).clamp_min(1e-5))

        with torch.no_grad():
            distances.append(float((log_mel(target) - log_mel(render)).abs().mean()))
    return sum(distances) / len(distances)


def pitch_class_folding(n_fft: int, sample_rate: int) -> torch.Tensor:
    """(12, n_fft // 2 + 1) 0/1 matrix that sums the rfft bins between 55 Hz and 5 kHz into
    pitch classes: bin at f Hz -> round(12 log2(f / 440) + 69) mod 12 (0 = C)."""
    bins_hz = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    low_hz, high_hz = CHROMA_RANGE_HZ
    inside = (bins_hz >= low_hz) & (bins_hz <= high_hz)
    midi = torch.round(12.0 * torch.log2(bins_hz.clamp_min(low_hz) / 440.0) + 69.0).long()
    folding = torch.nn.functional.one_hot(midi % 12, 12).T.to(torch.float32)
    return folding * inside


def chroma_similarity(target: torch.Tensor, render: torch.Tensor, sample_rate: int) -> float:
    """Pitch-class agreement of a render (N,) with its target (N,): per frame of |STFT| (Hann
    4096, hop 512, centred), the cosine between their 12 pitch-class sums (bins 55 Hz - 5 kHz),
    averaged over frames weighted by the target's energy in those bins. A frame the target has
    no energy in is skipped; a frame the render is silent in (and the target is not) counts 0.
    1 is perfect (NaN for a silent target); insensitive to the render's gain."""
    n_fft, hop = CHROMA_STFT
    folding = pitch_class_folding(n_fft, sample_rate).to(target.device)
    hann = torch.hann_window(n_fft, device=target.device)

    def magnitude(x: torch.Tensor) -> torch.Tensor:
        """(bins, frames)"""
        return torch.stft(x, n_fft, hop, window=hann, center=True, pad_mode="constant", return_complex=True).abs()

    with torch.no_grad():
        target_magnitude = magnitude(target)
        target_chroma, render_chroma = folding @ target_magnitude, folding @ magnitude(render)
        norms = target_chroma.norm(dim=0) * render_chroma.norm(dim=0)
        # a silent render frame has no direction: it shares nothing with the target's
        cosine = torch.where(norms > 0, (target_chroma * render_chroma).sum(dim=0) / norms.clamp_min(1e-30), 0.0)
        energy = folding.sum(dim=0) @ target_magnitude.square()
        return float((cosine * energy).sum() / energy.sum()) if float(energy.sum()) > 0 else float("nan")


def quality(target: torch.Tensor, render: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """The figures `inspect --against` reports for a render (N,) against its target (N,)."""
    return {
        "relative_spectral_l1_2048_256": relative_spectral_l1(target, render, 2048, 256),
        "relative_spectral_l1_512_128": relative_spectral_l1(target, render, 512, 128),
        "log_mel_distance": log_mel_distance(target, render, sample_rate),
        "chroma_similarity": chroma_similarity(target, render, sample_rate),
    }
