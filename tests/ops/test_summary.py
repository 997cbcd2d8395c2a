"""The summary's event table (`summary.event_rows`), made a column at a time for all events,
equals each event's row made alone (`summary.event_row`), for fitted files and for a table
of 2^16 rows built with NumPy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiosplat.core.config import ModelConfig
from audiosplat.io.splat_format import StoredRooms, StoredSplat, read_stored
from audiosplat.ops.summary import coarse_phase, convergence, convergence_text, event_row, event_rows, fit_text, summarise
from tests.shared import GOLDEN, GOLDEN_DIRECT, GOLDEN_EXACT

ROWS = 2**16


def _stored_rows(config: ModelConfig, n_rows: int, seed: int = 0) -> StoredSplat:
    """A StoredSplat of `n_rows` events with random controls in their stored ranges; every
    tenth event has no resonance (its pitch and wave are None)."""
    rng = np.random.default_rng(seed)
    width = 4 if config.pitches == "exact" else config.n_waves
    resonance = rng.random((n_rows, width), dtype=np.float32) * (rng.random((n_rows, width)) < 0.2)
    resonance[::10] = 0.0

    def weights(k: int) -> np.ndarray:
        w = rng.random((n_rows, k), dtype=np.float32)
        return w / w.sum(axis=-1, keepdims=True)

    controls = {
        "gain": rng.random(n_rows, dtype=np.float32) * (rng.random(n_rows) < 0.95),
        "envelope_centre_s": rng.random(n_rows, dtype=np.float32),
        "envelope_width_s": rng.random(n_rows, dtype=np.float32),
        "excitation_mix": weights(2),
        "noise_centre_hz": rng.uniform(0, 11025, n_rows).astype(np.float32),
        "noise_width_hz": rng.uniform(0, 11025, n_rows).astype(np.float32),
        "resonance": resonance,
        "resonance_cutoff_hz": rng.uniform(0, 11025, (n_rows, 2)).astype(np.float32),
        "decay_per_frame": rng.uniform(1e-3, 1.0, n_rows).astype(np.float32),
        "crossfade_per_frame": rng.uniform(1e-3, 1.0, n_rows).astype(np.float32),
        "room_weights": weights(8),
        "reverb_mix": weights(2),
    }
    if config.pitches == "exact":
        controls["pitch_hz"] = rng.uniform(20, 4000, n_rows).astype(np.float32)
    return StoredSplat(
        config=config,
        onset_samples=rng.integers(0, config.total_length, n_rows),
        controls=controls,
        latents=np.zeros((n_rows, 1), dtype=np.float32),
        noise_seeds=np.arange(n_rows),
        parameters={},
        rooms=StoredRooms("procedural-v1", tuple(f"room-{r}" for r in range(8)), None),
    )


def _long(pitches: str, n_pitches: int = 128) -> ModelConfig:
    return ModelConfig(pitches=pitches, n_pitches=n_pitches, total_samples=ROWS // 64 * 2**16)


@pytest.mark.parametrize("config", [_long("exact"), _long("grid", n_pitches=16)], ids=["exact", "grid"])
def test_a_table_of_many_rows_equals_each_row_made_alone(config):
    stored = _stored_rows(config, ROWS)
    rows = event_rows(stored)
    assert len(rows) == ROWS
    checked = [0, 1, 10, ROWS - 1, *np.random.default_rng(1).integers(0, ROWS, 200).tolist()]
    for e in checked:
        assert rows[e] == event_row(stored, e), e
        assert [type(v) for v in rows[e].values()] == [type(v) for v in event_row(stored, e).values()]
    assert rows[10]["pitch_hz"] is None and rows[10]["wave"] is None
    summary = summarise(stored)
    assert summary["event_table"] == rows and json.loads(json.dumps(summary))["events"] == ROWS


@pytest.mark.parametrize("path", [GOLDEN, GOLDEN_DIRECT, GOLDEN_EXACT], ids=["seed", "direct", "exact"])
def test_the_golden_files_tables_equal_their_rows_made_alone(path):
    stored = read_stored(path, optimizer=False)
    assert event_rows(stored) == [event_row(stored, e) for e in range(stored.n_events)]


@pytest.mark.parametrize("fixture", ["fitted_splat", "fitted_grid_splat", "fitted_seed_splat"])
def test_fitted_files_tables_equal_their_rows_made_alone(fixture, request):
    stored = read_stored(request.getfixturevalue(fixture), optimizer=False)
    assert event_rows(stored) == [event_row(stored, e) for e in range(stored.n_events)]


def test_the_convergence_rule_is_read_with_the_period_of_the_files_version():
    """A fit given its budget has no rule; a 1.9.0 file stores its period and first step;
    an older file with `converge` was judged every 100 steps from step 300 (formats §11)."""
    assert convergence({"steps": 300}) is None and convergence_text(None) == ""
    new = convergence({"converge": 0.02, "converge_every": 50, "converge_from": 200, "converged": True})
    assert new == {"below": 0.02, "every": 50, "from": 200, "converged": True}
    assert convergence_text(new) == "converged: under 2% in 50 steps, from step 200; "
    old = convergence({"converge": 0.02})
    assert (old["every"], old["from"], old["converged"]) == (100, 300, False)
    assert convergence_text(old).startswith("not converged")


def test_a_coarse_phase_is_read_and_said_with_the_rest_of_the_fit():
    fit = {"steps": 250, "coarse_samples": 8192, "fine_steps": 50, "coarse_steps": 200}
    assert coarse_phase({"steps": 300}) is None
    assert coarse_phase(fit) == {"samples": 8192, "steps": 200, "fine_steps": 50}
    summary = {"steps": 250, "convergence": None, "coarse": coarse_phase(fit), "loss": "multiband", "seed": 0}
    assert fit_text(summary) == "250 steps (the first 200 coarse, events over 8192 samples; multiband loss, seed 0)"

