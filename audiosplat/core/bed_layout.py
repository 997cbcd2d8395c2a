"""Where a noise bed's levels sit (`synth.noise_bed`): its bands' centres in Hz and its
anchors' times, NumPy only, so that `inspect` can say them without torch."""

from __future__ import annotations

import numpy as np

LOWEST_BAND_HZ = 40.0


def hz_to_mel(hz):
    """HTK mel scale, as a float64 array."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """The inverse of `hz_to_mel` (arrays or tensors, as given)."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def band_centres_hz(n_bands: int, sample_rate: int) -> np.ndarray:
    """(B,) float64 band centres, evenly spaced in mel from LOWEST_BAND_HZ to Nyquist."""
    return mel_to_hz(np.linspace(hz_to_mel(LOWEST_BAND_HZ), hz_to_mel(sample_rate / 2.0), n_bands))


def anchor_samples(n_anchors: int, n_samples: int) -> np.ndarray:
    """(F,) float64 times of the level anchors in samples: 0, ..., N, evenly spaced."""
    return np.linspace(0.0, float(n_samples), n_anchors)
