"""The slow, obviously-correct synth: method.md §4-§6 transcribed step by step, per event,
as the original computes it: four 2N-point FFT convolutions per event (two resonances,
the onset delay, the reverb) and three FFT filters. Tests hold the fast synth
(`audiosplat.synth.render`) to this; benchmarks time it as the baseline.

The onset impulse is the closed-form product of the bit rows (`onset.onset_impulse`); tests
check it against the original's construction by 15 successive convolutions."""

from __future__ import annotations

import torch

from audiosplat.dsp.core import exp_decay, fft_convolve, fft_filter, gauss_window
from audiosplat.dsp.onset import onset_impulse
from audiosplat.dsp.oscillator import oscillate_reference
from audiosplat.synth.controls import EventControls
from audiosplat.synth.render import SynthAssets, envelope, unit_band


def reference_stems(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """(E, N) each event rendered, delayed and reverberated on its own (exact model only)."""
    cfg = assets.config
    if cfg.event_length != cfg.n_samples:
        raise ValueError("the reference synth renders the exact model only (event_samples = n_samples)")
    n, sr = cfg.n_samples, cfg.sample_rate
    # 2. resonance from the wavetable, or at the event's own pitch
    if controls.pitch_hz is None:
        resonance = controls.resonance @ assets.waves
    else:
        resonance = oscillate_reference(controls.pitch_hz, controls.resonance, n, sr)
    # 3. band-passed noise
    excitation = fft_filter(assets.noise, unit_band(controls.noise_centre_hz, controls.noise_width_hz, sr, n, gauss_window))
    # 4. two low-passed resonances
    zero = torch.zeros_like(controls.gain)
    res_1 = fft_filter(resonance, unit_band(zero, controls.resonance_cutoff_hz[:, 0], sr, n, gauss_window))
    res_2 = fft_filter(resonance, unit_band(zero, controls.resonance_cutoff_hz[:, 1], sr, n, gauss_window))
    # 5. decay curves
    amplitude = exp_decay(controls.decay_per_frame, cfg.n_frames, n)
    crossfade = exp_decay(controls.crossfade_per_frame, cfg.n_frames, n)
    # 6. position the excitation
    positioned = excitation * envelope(controls.envelope_centre_s, controls.envelope_width_s, sr, n)
    # 7. excite
    y_1 = fft_convolve(positioned, res_1 * amplitude)
    y_2 = fft_convolve(positioned, res_2 * amplitude)
    # 8. crossfade
    resonant = y_1 * crossfade + y_2 * (1.0 - crossfade)
    # 9. dry/wet and gain
    mix = controls.excitation_mix
    signal = (mix[:, :1] * positioned + mix[:, 1:] * resonant) * controls.gain[:, None]
    # 10. schedule, then reverb with each event's own impulse response
    placed = fft_convolve(signal, onset_impulse(controls.onset_bits))
    response = controls.room_weights @ assets.rooms
    reverberant = fft_convolve(placed, response)
    return controls.reverb_mix[:, :1] * placed + controls.reverb_mix[:, 1:] * reverberant


def reference_clips(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """(C, N): `reference_stems` summed per clip."""
    stems = reference_stems(controls, assets)
    return stems.view(-1, assets.config.n_events, stems.shape[-1]).sum(dim=1)
