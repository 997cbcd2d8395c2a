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
# The four events of the `notes_splat` fixture (sine resonances at exact pitches):
# (pitch Hz, resonance share of excitation_mix, gain, onset in samples, 60 dB decay time s).
# Events 0 and 2 are notes C5 (0 and -30 cents), event 1 is E4 (+10 cents); event 3 sounds C5
# but is mostly noise (resonance share 0.2), so it is not a note.
C5_HZ, E4_HZ = 523.2511306, 329.6275569
KNOWN_NOTES = (
    (C5_HZ, 0.9, 0.5, 0, 0.1),
    (E4_HZ * 2 ** (10 / 1200), 0.7, 0.25, 1000, 0.2),
    (C5_HZ * 2 ** (-30 / 1200), 0.6, 0.15, 2000, 2.0),
    (C5_HZ, 0.2, 0.5, 500, 0.1),
)
