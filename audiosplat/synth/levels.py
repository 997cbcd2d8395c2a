"""How much each event adds to a file: the energy of its sound, reverb included. That, not
its gain, says whether a listener hears it: a long, soft note can carry more than a loud
click."""

from __future__ import annotations

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.synth.controls import EventControls, within_render_range
from audiosplat.synth.render import SynthAssets, event_signals, used_waves
from audiosplat.synth.rooms import RoomBank
from audiosplat.synth.threads import render_threads

# Events made at a time: their (E, L) signals bound the memory of a file of many events.
EVENTS_AT_ONCE = 64
# Energies are made on one thread: the same values whatever torch's count, and safe in a
# forked child (a writer there), where torch's thread pool would hang.
ENERGY_THREADS = 1


def event_energies_db(controls: EventControls, noise_seeds: torch.Tensor, onset_samples: torch.Tensor, config: ModelConfig, rooms: RoomBank) -> torch.Tensor:
    """(E,) float64 dB: 10 log10 of the sum of the squares of each event's sound.

    The sound is the event's own signal x (`event_signals`) from its onset `onset_samples`
    (E,) int64 to the file's end (`config.total_length`), through its reverb as the render
    has it, y = m_dry x + m_wet sum_r w_r (h_r * x) (`reverb_mix` m, `room_weights` w,
    `rooms` h), with the whole of the reverb's tail: by Parseval, the sum over frequency of
    |X(f)|^2 |m_dry + m_wet sum_r w_r H_r(f)|^2 over 2N bins, where the linear convolution
    fits. `noise_seeds` (E,) int64. -inf for an event that makes no sound."""
    length, n_fft = config.event_length, 2 * config.n_samples
    heard = (config.total_length - onset_samples.cpu()).clamp(0, length)  # samples before the file ends
    energies = []
    with torch.inference_mode(), render_threads(ENERGY_THREADS):
        # clamped as a render clamps them; a NaN control gives a NaN energy, which the
        # writer's read-back refuses with the control's name
        controls, wave_rows = used_waves(within_render_range(controls.map(lambda t: t.cpu()), config.sample_rate, config.n_samples))
        assets = SynthAssets.build(config, noise_seeds[:0], rooms, "cpu", wave_rows)
        room_spectra = assets.room_spectra.to(torch.complex128)  # (R, N+1)
        for first in range(0, len(heard), EVENTS_AT_ONCE):
            rows = slice(first, first + EVENTS_AT_ONCE)
            signals = event_signals(controls.select(rows), assets.with_events(noise_seeds[rows])).double()
            signals = signals * (torch.arange(length)[None, :] < heard[rows, None])
            mix = controls.reverb_mix[rows].double()
            through = mix[:, :1] + mix[:, 1:] * (controls.room_weights[rows].to(torch.complex128) @ room_spectra)
            power = torch.fft.rfft(signals, n=n_fft).abs().square() * through.abs().square()
            # Parseval for a real signal's half spectrum: the bins between DC and Nyquist twice
            energies.append((2.0 * power.sum(dim=1) - power[:, 0] - power[:, -1]) / n_fft)
    return 10.0 * torch.log10(torch.cat(energies)) if energies else torch.zeros(0, dtype=torch.float64)
