"""Controls -> audio: the event synth (method.md §4-§6), arranged for speed.

Same maths as `audiosplat.reference`, rearranged where it is linear:
- each event's noise is fixed by its seed, so its spectrum is computed once;
- filters and convolutions have hand-written backward passes with real FFTs only
  (`spectral_ops`), and the two resonances share one transform of the excitation;
- the onset is an index shift with a closed-form gradient (`onset.delay_by_bits`);
- reverb is linear and the clip is a sum, so events are mixed per room first and
  convolved once per room (R convolutions instead of E).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from audiosplat.config import ModelConfig
from audiosplat.controls import EventControls
from audiosplat.dsp import EPS_WIDTH, exp_decay
from audiosplat.onset import delay_by_bits
from audiosplat.rooms import RoomBank
from audiosplat.spectral_ops import causal_convolution, gauss_window_fused, zero_phase_filter
from audiosplat.wavetable import make_wavetable


def event_noise(noise_seeds: torch.Tensor, n_samples: int) -> torch.Tensor:
    """(E,) int64 seeds -> (E, N) float32 noise U(-1, 1), drawn on the CPU so every device
    renders the same excitation (method.md §9.1)."""
    rows = []
    for seed in noise_seeds.tolist():
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        rows.append(torch.rand(n_samples, generator=gen) * 2.0 - 1.0)
    return torch.stack(rows)


def noise_seeds_for(seed: int, n_events: int) -> torch.Tensor:
    """(E,) int64 per-event noise seeds derived from a fit seed (numpy SeedSequence)."""
    state = np.random.SeedSequence(seed).generate_state(n_events, dtype=np.uint32)
    return torch.from_numpy(state.astype(np.int64))


@dataclass(frozen=True)
class SynthAssets:
    """Fixed inputs of the synth on one device: waves (W, N), noise (E, N) and its spectrum
    (E, N/2+1), rooms (R, N) and their spectra zero-padded to 2N (R, N+1)."""

    config: ModelConfig
    waves: torch.Tensor
    noise: torch.Tensor
    noise_spectrum: torch.Tensor
    rooms: torch.Tensor
    room_spectra: torch.Tensor

    @classmethod
    def build(
        cls, config: ModelConfig, noise_seeds: torch.Tensor, rooms: RoomBank, device: torch.device | str = "cpu"
    ) -> "SynthAssets":
        waves = make_wavetable(config.n_pitches, config.n_samples, config.sample_rate).to(device)
        noise = event_noise(noise_seeds, config.n_samples).to(device)
        impulses = rooms.impulses.to(device)
        if impulses.shape[-1] != config.n_samples:
            raise ValueError(f"room impulses have {impulses.shape[-1]} samples, expected {config.n_samples}")
        return cls(
            config=config,
            waves=waves,
            noise=noise,
            noise_spectrum=torch.fft.rfft(noise),
            rooms=impulses,
            room_spectra=torch.fft.rfft(impulses, n=2 * config.n_samples),
        )


def unit_band(
    centre_hz: torch.Tensor, width_hz: torch.Tensor, sample_rate: int, n_samples: int, window=gauss_window_fused
) -> torch.Tensor:
    """Gaussian gains over the N/2+1 bins of an N-point real FFT, from Hz. (...,) -> (..., N/2+1)."""
    nyquist_hz = sample_rate / 2.0
    return window(centre_hz / nyquist_hz, (width_hz / nyquist_hz).clamp_min(EPS_WIDTH), n_samples // 2 + 1)


def envelope(
    centre_s: torch.Tensor, width_s: torch.Tensor, sample_rate: int, n_samples: int, window=gauss_window_fused
) -> torch.Tensor:
    """Gaussian envelope over the clip, peak 1. (E,) seconds -> (E, N)."""
    units_per_s = sample_rate / (n_samples - 1)
    return window(centre_s * units_per_s, (width_s * units_per_s).clamp_min(EPS_WIDTH), n_samples)


def event_signals(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Each event in its own time (before the onset delay and the reverb): (E, N)."""
    cfg = assets.config
    n, sr = cfg.n_samples, cfg.sample_rate
    noise_gain = unit_band(controls.noise_centre_hz, controls.noise_width_hz, sr, n)
    excitation = zero_phase_filter(assets.noise, noise_gain[:, None, :], assets.noise_spectrum)[:, 0]
    positioned = excitation * envelope(controls.envelope_centre_s, controls.envelope_width_s, sr, n)

    zero = torch.zeros_like(controls.resonance_cutoff_hz)
    lowpass_gain = unit_band(zero, controls.resonance_cutoff_hz, sr, n)  # (E, 2, N/2+1)
    lowpassed = zero_phase_filter(controls.resonance @ assets.waves, lowpass_gain)  # (E, 2, N)
    amplitude = exp_decay(controls.decay_per_frame, cfg.n_frames, n)
    crossfade = exp_decay(controls.crossfade_per_frame, cfg.n_frames, n)
    # Both resonances share the excitation's spectrum: one batched convolution.
    excited = causal_convolution(positioned, lowpassed * amplitude[:, None, :])
    resonant = excited[:, 0] * crossfade + excited[:, 1] * (1.0 - crossfade)

    mix = controls.excitation_mix
    return (mix[:, :1] * positioned + mix[:, 1:] * resonant) * controls.gain[:, None]


def render_placed(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Events delayed to their onsets, before the reverb: (E, N)."""
    return delay_by_bits(event_signals(controls, assets), controls.onset_bits)


def reverb_clip(placed: torch.Tensor, controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Sum of the events through their rooms: (N,).

    out_e = dry_e * s_e + wet_e * s_e (*) sum_r w_er room_r, so the reverberant part of the
    clip is sum_r room_r (*) (sum_e wet_e w_er s_e): one convolution per room.
    """
    n = placed.shape[-1]
    dry = controls.reverb_mix[:, 0] @ placed
    per_room = (controls.room_weights * controls.reverb_mix[:, 1:]).T @ placed  # (R, N)
    wet_spectrum = (torch.fft.rfft(per_room, n=2 * n) * assets.room_spectra).sum(dim=0)
    return dry + torch.fft.irfft(wet_spectrum, n=2 * n)[:n]


def reverb_stems(placed: torch.Tensor, controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Each event through its own room: (E, N). Their sum equals `reverb_clip`."""
    n = placed.shape[-1]
    response_spectra = controls.room_weights.to(assets.room_spectra.dtype) @ assets.room_spectra  # (E, N+1)
    wet = torch.fft.irfft(torch.fft.rfft(placed, n=2 * n) * response_spectra, n=2 * n)[:, :n]
    return controls.reverb_mix[:, :1] * placed + controls.reverb_mix[:, 1:] * wet


def render_clip(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """The clip: every event rendered, placed, reverberated and summed. (N,)."""
    return reverb_clip(render_placed(controls, assets), controls, assets)


def render_stems(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """One signal per event, reverb included: (E, N)."""
    return reverb_stems(render_placed(controls, assets), controls, assets)
