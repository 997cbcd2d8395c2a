"""ViSQOL v3 audio mode (MOS-LQO, 1 to 5) through the optional `visqol-python` package
(`pip install 'audiosplat[eval]'`), imported only when asked for."""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import soxr
import torch

from audiosplat.core.errors import AudiosplatError

VISQOL_SAMPLE_RATE = 48000  # audio mode's model was trained on 48 kHz signals
VISQOL_MIN_SECONDS = 1.0  # audio mode compares patches of 30 frames; shorter clips have none


def visqol_installed() -> bool:
    return importlib.util.find_spec("visqol") is not None


@functools.lru_cache(maxsize=1)
def _audio_mode():
    """One ViSQOL instance in audio mode (loading its SVR model takes a moment)."""
    try:
        from visqol import VisqolApi
    except ImportError:
        raise AudiosplatError("ViSQOL needs the eval extra: pip install 'audiosplat[eval]'") from None
    api = VisqolApi()
    api.create(mode="audio")
    return api


def visqol_mos(reference: torch.Tensor, degraded: torch.Tensor, sample_rate: int) -> float:
    """ViSQOL's MOS-LQO of `degraded` (N,) against `reference` (N,), both at `sample_rate`
    Hz and resampled to 48 kHz first; about 4.7 for the same signal. NaN for a silent
    `degraded`: ViSQOL scales it to the reference's level, which silence has no scale for.

    Raises:
        AudiosplatError: the eval extra is not installed, or the signals are shorter than 1 s.
    """
    api = _audio_mode()
    if reference.shape[-1] < VISQOL_MIN_SECONDS * sample_rate:
        raise AudiosplatError(f"ViSQOL needs at least {VISQOL_MIN_SECONDS:g} s of audio, got {reference.shape[-1] / sample_rate:.3f} s")
    if not bool(degraded.any()):
        return float("nan")
    reference_48k, degraded_48k = (
        soxr.resample(x.detach().cpu().double().numpy(), sample_rate, VISQOL_SAMPLE_RATE, quality="HQ")
        for x in (reference, degraded)
    )
    return float(api.measure_from_arrays(np.ascontiguousarray(reference_48k), np.ascontiguousarray(degraded_48k), VISQOL_SAMPLE_RATE).moslqo)


def visqol_if_installed(reference: torch.Tensor, degraded: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """{"visqol": MOS-LQO} when the eval extra is installed and the clip lasts at least 1 s,
    else {}: the figure is optional, and undefined for shorter clips."""
    if not visqol_installed() or reference.shape[-1] < VISQOL_MIN_SECONDS * sample_rate:
        return {}
    return {"visqol": visqol_mos(reference, degraded, sample_rate)}
