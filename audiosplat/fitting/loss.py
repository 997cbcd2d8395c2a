"""Spectral losses (method.md §7) and the relative spectral L1 quality figure."""

from __future__ import annotations

import torch

from audiosplat.core.config import LOSS_NAMES
from audiosplat.dsp.spectrum import FULL_BAND_STFT, framed_stft_magnitude

BAND_STFTS = ((128, 64), (64, 32), (16, 8))
NOISE_BAND_STFT = (128, 32)
LOWEST_BAND = 512
LOG_FLOOR = 1e-3  # -60 dB below each feature's peak: where the log term flattens
BALANCE = 1.0  # multiband-balanced: feature weights (target mean)^-BALANCE
BALANCE_FLOOR = 1e-3  # ... with the mean at least this fraction of the largest feature's


def octave_bands(signal: torch.Tensor, lowest: int = LOWEST_BAND) -> list[torch.Tensor]:
    """Critically sampled octave bands: for s = lowest, 2 lowest, ..., N, the bins [0, s/2]
    (lowest band) or [s/4, s/2] of the orthonormal rfft, inverted at length s.

    Args:
        signal: (..., N)

    Returns:
        list of (..., s) tensors, lowest band first.
    """
    n = signal.shape[-1]
    spectrum = torch.fft.rfft(signal, norm="ortho")
    bands = []
    size = lowest
    while size <= n:
        kept = spectrum[..., : size // 2 + 1]
        if size > lowest:
            mask = torch.zeros(size // 2 + 1, device=signal.device, dtype=signal.dtype)
            mask[size // 4 :] = 1.0
            kept = kept * mask
        bands.append(torch.fft.irfft(kept, n=size, norm="ortho"))
        size *= 2
    return bands


def multiband_features(signal: torch.Tensor) -> list[torch.Tensor]:
    """Phi(x): the full-band |STFT| and, per octave band, |STFT| at three resolutions."""
    features = [framed_stft_magnitude(signal, *FULL_BAND_STFT)]
    for band in octave_bands(signal):
        features.extend(framed_stft_magnitude(band, window, hop) for window, hop in BAND_STFTS)
    return features


def _per_clip_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over a feature's (frames, bins): (..., frames, bins) -> (...,)."""
    return x.sum(dim=(-2, -1))


class MultibandLoss:
    """sum_k w_k |Phi_k(target) - Phi_k(render)|, with Phi(target) computed once and every
    feature's weight w_k = 1 (`balance` 0; see `MultibandBalancedLoss`).

    Targets and renders are (N,) or (C, N) for C clips fitted together; the loss is then a
    scalar or one value per clip (C,).
    """

    name = "multiband"
    balance = 0.0

    def __init__(self, target: torch.Tensor):
        self.target_features = [f.detach() for f in multiband_features(target)]
        self.weights = feature_weights(self.target_features, self.balance)

    def __call__(self, render: torch.Tensor) -> torch.Tensor:
        return sum(w * _per_clip_sum((t - r).abs()) for w, t, r in zip(self.weights, self.target_features, multiband_features(render)))


def feature_weights(target_features: list[torch.Tensor], balance: float) -> list[torch.Tensor]:
    """Per feature k and clip, w_k proportional to (mean Phi_k(target))^-balance, scaled so
    that the loss of a silent render stays sum_k sum Phi_k(target). (...,) each. A mean is
    taken as at least BALANCE_FLOOR of the largest, so that an empty band (a source
    band-limited below Nyquist) cannot take an unbounded weight."""
    totals = [_per_clip_sum(t) for t in target_features]
    means = [t.mean(dim=(-2, -1)) for t in target_features]
    floor = (BALANCE_FLOOR * torch.stack(means).amax(dim=0)).clamp_min(1e-12)
    raw = [torch.maximum(m, floor) ** -balance for m in means]
    scale = sum(totals) / sum(w * total for w, total in zip(raw, totals)).clamp_min(1e-30)
    return [w * scale for w in raw]


class MultibandBalancedLoss(MultibandLoss):
    """`MultibandLoss` with each feature weighted by the inverse of its target mean
    (`BALANCE` 1), so that every band's relative error counts alike, a quiet band's as much
    as a loud one's.

    The plain loss is ruled by the loud low partials: a fit leaves the 2-11 kHz bands
    several dB too quiet and their time course wrong, and ViSQOL hears it; fits with this
    loss score higher on it (docs/benchmarks.md, "The balanced loss")."""

    name = "multiband-balanced"
    balance = BALANCE


class MultibandLogLoss(MultibandLoss):
    """`MultibandLoss` plus the same features compared in log magnitude (as DDSP's
    multi-scale spectral loss does), each feature's log term weighted by the target
    feature's mean magnitude so that both terms are in the same units.

    The linear term is ruled by the loudest bins; hearing, and ViSQOL, also notice a
    noise floor, clicks or a missing quiet partial 40 dB down, which only a log term
    sees. Below `LOG_FLOOR` of each feature's peak the log flattens, so inaudible
    differences deep in the floor do not steer the fit.
    """

    name = "multiband-log"

    def __init__(self, target: torch.Tensor, log_weight: float = 1.0):
        super().__init__(target)
        self.log_weight = log_weight
        self.floors = [LOG_FLOOR * t.amax(dim=(-2, -1), keepdim=True) + 1e-12 for t in self.target_features]
        self.target_logs = [torch.log(t + f) for t, f in zip(self.target_features, self.floors)]
        self.scales = [t.mean(dim=(-2, -1)) for t in self.target_features]

    def __call__(self, render: torch.Tensor) -> torch.Tensor:
        total = 0.0
        features = zip(self.weights, self.target_features, self.target_logs, self.floors, self.scales, multiband_features(render))
        for w, t, t_log, floor, scale, r in features:
            log_term = _per_clip_sum((t_log - torch.log(r + floor)).abs())
            total = total + w * _per_clip_sum((t - r).abs()) + self.log_weight * scale * log_term
        return total


class NoiseLoss:
    """The original's stochastic variant: per octave band, |STFT(128, 32)| without the Nyquist
    bin; the residual T - R is compared with noise of the residual's own mean and standard
    deviation (drawn without gradient from an explicit generator), plus a penalty when the
    render has more energy than the target: relu(||R|| - ||T||) + sum |res - n|.
    Per clip for (C, N) inputs, like `MultibandLoss`."""

    name = "noise"

    def __init__(self, target: torch.Tensor, generator: torch.Generator):
        self.generator = generator
        self.target_bands = [self._features(b).detach() for b in octave_bands(target)]

    @staticmethod
    def _features(band: torch.Tensor) -> torch.Tensor:
        return framed_stft_magnitude(band, *NOISE_BAND_STFT)[..., :-1]

    def __call__(self, render: torch.Tensor) -> torch.Tensor:
        total = render.new_zeros(render.shape[:-1])
        for target, band in zip(self.target_bands, octave_bands(render)):
            rendered = self._features(band)
            residual = target - rendered
            with torch.no_grad():
                unit = torch.randn(residual.shape, generator=self.generator, dtype=residual.dtype).to(residual.device)
                std, mean = torch.std_mean(residual, dim=(-2, -1), keepdim=True)
                noise = unit * std + mean
            energy_excess = torch.relu(_norm(rendered) - _norm(target))
            total = total + energy_excess + _per_clip_sum((residual - noise).abs())
        return total


def _norm(x: torch.Tensor) -> torch.Tensor:
    return _per_clip_sum(x * x).sqrt()


LOSSES = {loss.name: loss for loss in (MultibandLoss, MultibandBalancedLoss, MultibandLogLoss, NoiseLoss)}  # by `core.config.LOSS_NAMES`


def make_loss(name: str, target: torch.Tensor, generator: torch.Generator):
    """The loss `name` (one of LOSS_NAMES) against the (C, N) targets; the noise loss draws
    its noise from `generator`."""
    if name == NoiseLoss.name:
        return NoiseLoss(target, generator)
    if name in LOSSES:
        return LOSSES[name](target)
    raise ValueError(f"unknown loss '{name}' (choose {', '.join(LOSS_NAMES)})")


def relative_spectral_l1(target: torch.Tensor, render: torch.Tensor, n_fft: int = 2048, hop: int = 256) -> float:
    """sum | |STFT T| - |STFT R| | / sum |STFT T| (periodic Hann, centred frames, zero padding). 0 is perfect."""
    window = torch.hann_window(n_fft, device=target.device, dtype=target.dtype)

    def magnitude(x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True).abs()

    with torch.no_grad():
        t, r = magnitude(target), magnitude(render)
        return float((t - r).abs().sum() / t.abs().sum().clamp_min(1e-12))
