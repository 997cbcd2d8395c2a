"""Short-time spectra as the losses, the level match and the metrics compute them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

FULL_BAND_STFT = (2048, 256)  # (window, hop) in samples of the full-band spectrogram


def framed_stft_magnitude(signal: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """|STFT| as the original computes it: periodic Hann, orthonormal rfft, frames starting
    at multiples of `hop`, zero padding at the end, L // hop frames.

    Args:
        signal: (..., L)

    Returns:
        (..., L // hop, window // 2 + 1)
    """
    n_frames = signal.shape[-1] // hop
    frames = F.pad(signal, (0, window)).unfold(-1, window, hop)[..., :n_frames, :]
    hann = torch.hann_window(window, periodic=True, device=signal.device, dtype=signal.dtype)
    return torch.fft.rfft(frames * hann, norm="ortho").abs()
