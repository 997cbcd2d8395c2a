"""Shared fixtures: real clips from tests/data and small fitted .splat files."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiosplat.app.api import fit_audio_file
from audiosplat.core.config import ModelConfig
from audiosplat.fitting.fit import FitConfig
from tests.shared import GUITAR, TINY


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
