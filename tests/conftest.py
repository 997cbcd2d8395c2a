"""Shared fixtures: real clips from tests/data and small fitted .splat files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from audiosplat.app.api import fit_audio_file
from audiosplat.core.config import ModelConfig
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.fitting.fit import FitConfig
from audiosplat.io.splatfile import read_splat, write_splat
from audiosplat.models.layouts import latent_width, parameter_shapes
from tests.shared import GUITAR, KNOWN_NOTES, TINY


def _fitted_guitar(tmp_path_factory, folder: str, config: ModelConfig) -> Path:
    """The guitar clip fitted for 3 steps by the library, at `config`."""
    path = tmp_path_factory.mktemp(folder) / "guitar.splat"
    fit_audio_file(GUITAR, path, config=config, fit_config=FitConfig(steps=3, seed=1), device="cpu", argv=["pytest"])
    return path


@pytest.fixture(scope="package")
def fitted_splat(tmp_path_factory) -> Path:
    """A 4-event, 4096-sample fit of the guitar clip (3 steps), written by the library."""
    return _fitted_guitar(tmp_path_factory, "fitted", TINY)


@pytest.fixture(scope="package")
def fitted_grid_splat(tmp_path_factory) -> Path:
    """As `fitted_splat`, with grid pitches (the wavetable's rows, as before format 1.5.0)."""
    return _fitted_guitar(tmp_path_factory, "fitted-grid", ModelConfig(n_samples=4096, n_events=4, pitches="grid"))


@pytest.fixture(scope="package")
def fitted_seed_splat(tmp_path_factory) -> Path:
    """As `fitted_splat`, with the seed model (method.md's latent tree and decoder)."""
    return _fitted_guitar(tmp_path_factory, "fitted-seed", ModelConfig(n_samples=4096, n_events=4, model="seed"))


@pytest.fixture(scope="package")
def notes_splat(fitted_splat, tmp_path_factory) -> Path:
    """A file of four events set to the known notes of `shared.KNOWN_NOTES` (sines at exact
    pitches), written by the library as an edit is: `fitted_splat`'s config, rooms, noise
    bed and other controls (its events repeated to four; zero parameters, as the controls
    are no decoding of them)."""
    splat = read_splat(fitted_splat)
    n = len(KNOWN_NOTES)
    cfg = dataclasses.replace(splat.config, n_events=n)
    pitch_hz, share, gain, onset, decay_s = (torch.tensor(column, dtype=torch.float64) for column in zip(*KNOWN_NOTES))
    # a factor r per frame falls 60 dB in ln(1e-3) / ln(r) frames
    decay = torch.exp(np.log(1e-3) * cfg.frame_size / (cfg.sample_rate * decay_s))
    repeated = torch.arange(n) % splat.n_events
    base = splat.controls.select(repeated)
    sines = torch.zeros_like(base.resonance)
    sines[:, 3] = 1.0
    controls = base.replace(
        pitch_hz=pitch_hz.float(), excitation_mix=torch.stack([1 - share, share], dim=1).float(), gain=gain.float(),
        decay_per_frame=decay.float(), resonance=sines, onset_bits=samples_to_bits(onset.long(), cfg.n_onset_bits),
    )
    rooms = splat.rooms.n_rooms
    notes = dataclasses.replace(
        splat, config=cfg, controls=controls, latents=torch.zeros(n, latent_width(cfg, rooms)), noise_seeds=splat.noise_seeds[repeated],
        parameters={name: torch.zeros(shape) for name, shape in parameter_shapes(cfg, rooms, n).items()}, optimizer=None, latents_match_controls=False,
    )
    path = tmp_path_factory.mktemp("notes") / "notes.splat"
    write_splat(path, notes)
    return path
