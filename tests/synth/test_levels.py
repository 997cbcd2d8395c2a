"""Each event's energy (`levels.event_energies_db`): held to a plain computation from the
reference synth, and to what physics says of gains, decays and the file's end."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.synth.levels import event_energies_db
from audiosplat.synth.reference import reference_stems
from audiosplat.synth.render import noise_seeds_for
from tests.synth_helpers import assets_for, hand_controls, rooms_for, sine_row_nearest

CONFIG = ModelConfig(n_samples=16384, n_events=4)
ROOMS = rooms_for(CONFIG.n_samples)
A4_ROW, _ = sine_row_nearest(440.0, CONFIG.n_pitches)


def energies(controls) -> list[float]:
    seeds = noise_seeds_for(0, len(controls.onset_samples))
    return event_energies_db(controls, seeds, controls.onset_samples, CONFIG, ROOMS).tolist()


def plain_energies(controls) -> list[float]:
    """Each event's dry signal from the reference synth (its stem with the reverb off, from
    its onset), through its rooms by full linear convolution in float64: summed squares, dB."""
    dry = reference_stems(controls.replace(reverb_mix=torch.tensor([[1.0, 0.0]]).expand_as(controls.reverb_mix)), assets_for(dataclasses.replace(CONFIG, n_events=len(controls.onset_samples))))
    impulses = ROOMS.impulses.double().numpy()
    out = []
    for e, onset in enumerate(controls.onset_samples.tolist()):
        x = dry[e, onset:].double().numpy()
        (m_dry, m_wet), weights = controls.reverb_mix[e].double().numpy(), controls.room_weights[e].double().numpy()
        sound = np.zeros(len(x) + impulses.shape[1] - 1)
        sound[: len(x)] += m_dry * x
        for w, h in zip(weights, impulses):
            sound += m_wet * w * np.convolve(x, h)
        out.append(10.0 * math.log10(float(np.sum(sound**2))))
    return out


@pytest.mark.parametrize("reverb_mix", [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)])
def test_an_events_energy_is_its_sound_through_its_rooms(reverb_mix):
    controls = hand_controls(CONFIG, ROOMS.n_rooms, [0, 2000, 9000, 15000], resonance_row=A4_ROW, gains=[1.0, 0.5, 0.1, 0.8], reverb_mix=reverb_mix, room=3)
    weights = torch.softmax(torch.randn(4, ROOMS.n_rooms, generator=torch.Generator().manual_seed(0)), dim=1)  # several rooms at once
    assert energies(controls.replace(room_weights=weights)) == pytest.approx(plain_energies(controls.replace(room_weights=weights)), abs=0.01)


def test_gain_decay_and_the_files_end_set_the_energy():
    """One event (one noise seed) changed one control at a time."""

    def energy(onset: int = 0, gain: float = 0.5, decay_per_frame: float = 0.999) -> float:
        return energies(hand_controls(CONFIG, ROOMS.n_rooms, [onset], resonance_row=A4_ROW, gains=[gain], decay_per_frame=decay_per_frame))[0]

    base = energy()
    assert energy(gain=1.0) - base == pytest.approx(20.0 * math.log10(2.0), abs=1e-3)  # twice the amplitude, four times the energy
    assert energy(onset=12000) < base - 3.0  # cut by the file's end: under a third of the time to sound
    assert energy(decay_per_frame=0.9) < base - 10.0  # the same strike ringing for 0.16 s instead of seconds


def test_a_silent_event_has_no_energy():
    assert energies(hand_controls(CONFIG, ROOMS.n_rooms, [0], resonance_row=A4_ROW, gains=[0.0])) == [-math.inf]
