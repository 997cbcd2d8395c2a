"""Paths of the real clips and golden files that tests use, and the small sizes they fit at."""

from __future__ import annotations

from pathlib import Path

from audiosplat.core.config import ModelConfig

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
GUITAR = DATA / "guitar_em9.wav"
PIANO = ROOT / "examples" / "piano_mozart_k545.wav"
GOLDEN = ROOT / "formats" / "golden-v1.splat"
GOLDEN_DIRECT = ROOT / "formats" / "golden-v1.1-direct.splat"
GOLDEN_EXACT = ROOT / "formats" / "golden-v1.5-exact.splat"
TINY = ModelConfig(n_samples=4096, n_events=4)
# How far fits on different thread counts may drift apart: one thread per worker against two
# in the parent sums in another order, and Adam turns the round-off of a near-zero gradient
# into a step of up to its rate; after 2 steps the parameters differ by up to 1e-3 (by ~10
# between seeds).
THREADS_TOLERANCE = {"rtol": 1e-3, "atol": 1e-2}
