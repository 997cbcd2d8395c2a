"""Helpers shared by the core-maths tests (test_dsp, test_onset, test_synth, test_loss...).

Nothing here is a fixture: plain functions that build models, assets and hand-made controls.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.dsp.wavetable import wave_pitches_hz
from audiosplat.models.direct import DirectModel, note_rows
from audiosplat.models.seed import SeedModel
from audiosplat.synth.controls import EventControls
from audiosplat.synth.render import SynthAssets, noise_seeds_for
from audiosplat.synth.rooms import RoomBank, procedural_bank


@cache
def rooms_for(n_samples: int, sample_rate: int = 22050) -> RoomBank:
    """The shipped procedural bank at this length (cached: it is deterministic)."""
    return procedural_bank(n_samples, sample_rate)


def assets_for(config: ModelConfig, seed: int = 0, rooms: RoomBank | None = None) -> SynthAssets:
    rooms = rooms_for(config.n_samples, config.sample_rate) if rooms is None else rooms
    return SynthAssets.build(config, noise_seeds_for(seed, config.n_events), rooms)


def scattered_model(config: ModelConfig, seed: int = 0, n_rooms: int = 8) -> SeedModel:
    """An initialised model whose time tables are redrawn N(0, 1), so events have different
    onsets all over the clip (the U(-0.1, 0.1) init would put them anywhere too, but with
    tiny logit margins)."""
    model = SeedModel(config, n_rooms)
    gen = torch.Generator().manual_seed(seed)
    model.initialise(torch.zeros(config.n_samples), gen)
    with torch.no_grad():
        for table in model.time_tables:
            table.copy_(torch.randn(table.shape, generator=gen))
    return model


def scattered_notes(config: ModelConfig, seed: int = 0, n_rooms: int = 8) -> DirectModel:
    """A direct model (exact pitches unless `config` says grid) of notes at random onsets,
    pitches (MIDI 30-95, off the wavetable's rows), gains and shapes."""
    gen = torch.Generator().manual_seed(seed)
    e = config.n_events
    rows = note_rows(
        torch.rand(e, generator=gen) * (config.n_frames - 1), 30 + 65 * torch.rand(e, generator=gen),
        0.1 + torch.rand(e, generator=gen), n_rooms,
    )
    rows["shape"] = torch.randn(e, 4, generator=gen)
    model = DirectModel(config, n_rooms)
    model.initialise_from(rows)
    return model


def sine_row_nearest(hz: float, n_pitches: int) -> tuple[int, float]:
    """(wavetable row of the sine nearest `hz`, its pitch in Hz). Sines are the 4th block."""
    pitches = wave_pitches_hz(n_pitches)
    k = int(torch.argmin((pitches - hz).abs()))
    return 3 * n_pitches + k, float(pitches[k])


def hand_controls(
    config: ModelConfig,
    n_rooms: int,
    onsets: list[int],
    *,
    resonance_row: int | None = None,
    gain: float = 1.0,
    envelope_centre_s: float = 0.0,
    envelope_width_s: float = 0.005,
    excitation_mix: tuple[float, float] = (0.0, 1.0),
    noise_centre_hz: float = 440.0,
    noise_width_hz: float = 2000.0,
    resonance_cutoff_hz: tuple[float, float] = (6000.0, 3000.0),
    decay_per_frame: float = 0.98,
    crossfade_per_frame: float = 0.9,
    room: int = 0,
    reverb_mix: tuple[float, float] = (1.0, 0.0),
    gains: list[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> EventControls:
    """Controls of len(onsets) events built by hand, in physical units: all the same but
    for their onsets (and their gains, if `gains` is given). With exact pitches in
    `config`, `resonance_row` is read as a wave on the grid, sounded at its exact pitch."""
    e = len(onsets)
    resonance = torch.zeros(e, config.n_waves, dtype=dtype)
    if resonance_row is not None:
        resonance[:, resonance_row] = 1.0
    pitch_hz = None
    if config.pitches == "exact":
        pitch_hz = torch.full((e,), float(wave_pitches_hz(config.n_pitches)[(resonance_row or 0) % config.n_pitches]), dtype=dtype)
        resonance = resonance.view(e, 4, config.n_pitches).sum(dim=-1)
    room_weights = torch.zeros(e, n_rooms, dtype=dtype)
    room_weights[:, room] = 1.0

    def full(value):
        return torch.full((e,), float(value), dtype=dtype)

    def pair(values):
        return torch.tensor([list(values)] * e, dtype=dtype)

    return EventControls(
        onset_bits=samples_to_bits(torch.tensor(onsets), config.n_time_bits, dtype),
        gain=full(gain) if gains is None else torch.tensor(gains, dtype=dtype),
        envelope_centre_s=full(envelope_centre_s),
        envelope_width_s=full(envelope_width_s),
        excitation_mix=pair(excitation_mix),
        noise_centre_hz=full(noise_centre_hz),
        noise_width_hz=full(noise_width_hz),
        resonance=resonance,
        resonance_cutoff_hz=pair(resonance_cutoff_hz),
        decay_per_frame=full(decay_per_frame),
        crossfade_per_frame=full(crossfade_per_frame),
        room_weights=room_weights,
        reverb_mix=pair(reverb_mix),
        pitch_hz=pitch_hz,
    )


def spectral_peak_hz(signal: np.ndarray, sample_rate: int, low_hz: float = 20.0) -> float:
    """Frequency of the largest Hann-windowed rfft magnitude above `low_hz`, refined by a
    parabola through the log magnitudes of the peak bin and its neighbours."""
    signal = np.asarray(signal, dtype=np.float64)
    n = signal.shape[-1]
    mag = np.abs(np.fft.rfft(signal * np.hanning(n)))
    start = int(np.ceil(low_hz * n / sample_rate))
    k = start + int(np.argmax(mag[start:]))
    if 0 < k < len(mag) - 1:
        a, b, c = np.log(mag[k - 1 : k + 2] + 1e-300)
        denom = a - 2 * b + c
        k = k + (0.5 * (a - c) / denom if denom != 0 else 0.0)
    return k * sample_rate / n


def bin_hz(n: int, sample_rate: int) -> float:
    return sample_rate / n


def assets_in_float64(assets: SynthAssets) -> SynthAssets:
    """The same assets in double precision, spectra recomputed from the widened signals,
    to compare implementations far below float32 round-off."""
    noise, rooms = assets.noise.double(), assets.rooms.double()
    return dataclasses.replace(
        assets,
        waves=assets.waves.double(),
        noise=noise,
        noise_spectrum=torch.fft.rfft(noise),
        rooms=rooms,
        room_spectra=torch.fft.rfft(rooms, n=2 * rooms.shape[-1]),
    )
