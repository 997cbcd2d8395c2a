"""Reference points for the quality benchmark, each a render of a clip from a few stored numbers.

- silence: 0 numbers.
- noise vocoder: 16 bands × 129 frames of RMS levels = 2,064 numbers. Bands are log-spaced
  from 40 Hz to 11 kHz; frame k is centred on sample 512 k (hop 512, Hann window of 1024, so
  129 frames cover 2^16 samples). Re-synthesis: seeded white noise, filtered to each band,
  scaled per band by the levels, which are interpolated between frame centres by overlap-adding
  the same Hann windows (they sum to 1 at hop 512).
- oracle: the exact |STFT| of the clip (Hann 4096, hop 512) with seeded random phases,
  inverted; not a compact code (2,049 × 129 numbers), an upper reference for what magnitudes
  alone give.
"""

from __future__ import annotations

import math

import torch

from audiosplat.io.splatfile import Splat

VOCODER_BANDS = 16
VOCODER_RANGE_HZ = (40.0, 11000.0)
VOCODER_HOP = 512
ORACLE_STFT = (4096, 512)


def vocoder_band_edges_hz(n_bands: int = VOCODER_BANDS) -> torch.Tensor:
    """(n_bands + 1,) band edges in Hz, log-spaced from 40 Hz to 11 kHz."""
    low_hz, high_hz = VOCODER_RANGE_HZ
    return torch.logspace(math.log10(low_hz), math.log10(high_hz), n_bands + 1, dtype=torch.float64)


def band_split(signal: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(N,) -> (bands, N): the signal's rfft bins in each vocoder band (a circular brick-wall
    filter over the whole clip), inverted."""
    n = signal.shape[-1]
    bins_hz = torch.fft.rfftfreq(n, 1.0 / sample_rate).to(torch.float64)
    edges_hz = vocoder_band_edges_hz()
    masks = (bins_hz >= edges_hz[:-1, None]) & (bins_hz < edges_hz[1:, None])
    return torch.fft.irfft(torch.fft.rfft(signal.double()) * masks, n=n)


def frame_windows(n_samples: int, hop: int = VOCODER_HOP) -> torch.Tensor:
    """(n_samples // hop + 1, n_samples) Hann windows of 2 hop samples, frame k centred on
    sample hop k and cut at the clip's ends; at every sample they sum to 1."""
    centres = torch.arange(n_samples // hop + 1, dtype=torch.float64)[:, None] * hop
    offset = torch.arange(n_samples, dtype=torch.float64) - centres
    return torch.where(offset.abs() < hop, 0.5 + 0.5 * torch.cos(math.pi * offset / hop), 0.0)


def vocoder_levels(target: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(N,) -> (16, N // 512 + 1): the RMS of each band of `target` under each frame's window
    (the vocoder's stored numbers)."""
    windows = frame_windows(target.shape[-1])
    band_power = band_split(target, sample_rate).square()
    return (band_power @ windows.T / windows.sum(dim=1)).sqrt()


def vocoder_render(levels: torch.Tensor, n_samples: int, sample_rate: int, generator: torch.Generator) -> torch.Tensor:
    """(16, frames) band RMS levels -> (n_samples,) float32: band-limited white noise of unit
    RMS per band, times the levels overlap-added between frame centres."""
    noise = band_split(torch.randn(n_samples, generator=generator, dtype=torch.float64), sample_rate)
    unit_noise = noise / noise.square().mean(dim=1, keepdim=True).sqrt()
    envelopes = levels @ frame_windows(n_samples)
    return (unit_noise * envelopes).sum(dim=0).float()


def oracle_render(target: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """(N,) -> ((N,) float32, stored numbers): the exact |STFT| of `target` with random phases."""
    n_fft, hop = ORACLE_STFT
    window = torch.hann_window(n_fft, dtype=torch.float64)
    magnitude = torch.stft(target.double(), n_fft, hop, window=window, center=True, return_complex=True).abs()
    phase = 2 * math.pi * torch.rand(magnitude.shape, generator=generator, dtype=torch.float64)
    render = torch.istft(torch.polar(magnitude, phase), n_fft, hop, window=window, center=True, length=target.shape[-1])
    return render.float(), magnitude.numel()


def model_numbers(splat: Splat) -> int:
    """Every number a .splat holds for its events: /parameters (decoder, latent and time trees,
    reverb heads), and in /events the onsets (in samples and in s), noise seeds, latents and
    decoded controls, plus room impulses when they are embedded. Not counted: Adam state (only
    for resuming), loss history, settings and provenance."""
    events = splat.n_events
    per_event = 2 * events + splat.noise_seeds.numel() + splat.latents.numel()
    controls = sum(t.numel() for t in splat.controls.named_fields().values())
    rooms = splat.rooms.impulses.numel() if splat.rooms.embedded else 0
    return sum(p.numel() for p in splat.parameters.values()) + per_event + controls + rooms
