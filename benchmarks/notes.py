"""How well a fit's events are the clip's notes, beside how good its render sounds.

    .venv/bin/python -m benchmarks.notes --steps 300
    .venv/bin/python -m benchmarks.notes --splats out/fits        # score fits made earlier

For every shared clip with a truth file (../shared/audio/notes/<clip>.csv; how they were made
and how to score against them is in its README): fit the clip (or read <clip>.splat from
--splats), take its notes (`ops.notes.note_table`: the events that are notes) and score them
with mir_eval: note precision, recall and F1 (onset within 50 ms, pitch within 50 cents,
offsets ignored) and onset F1 (50 ms, pitch ignored). Beside them: the event count, the note
count, and the quality figures of benchmarks.quality (ViSQOL when installed, chroma, log-mel)
of the render against the clip. One JSON line per clip on stdout; a table on stderr.
Needs mir_eval (`pip install 'audiosplat[bench]'`).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from audiosplat.app.api import FIT_MODEL, fit_audio_files, render_splat
from audiosplat.core.config import ModelConfig
from audiosplat.core.runtime import configure_for_fitting
from audiosplat.eval.metrics import quality
from audiosplat.eval.visqol import visqol_if_installed
from audiosplat.fitting.fit import FitConfig, default_fit
from audiosplat.io.audio import load_clip
from audiosplat.io.splat_format import read_stored
from audiosplat.io.splatfile import read_splat
from audiosplat.ops.notes import note_table
from benchmarks.common import emit, log
from benchmarks.quality import SHARED_AUDIO

NOTES = SHARED_AUDIO / "notes"
ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0


def truth(clip: Path) -> list[dict] | None:
    """The clip's true notes (onset_s, offset_s, midi_pitch), or None without a truth file."""
    path = NOTES / f"{clip.stem}.csv"
    if not path.is_file():
        return None
    with path.open() as f:
        return [{k: float(v) for k, v in row.items() if k in ("onset_s", "offset_s", "midi_pitch")} for row in csv.DictReader(f)]


def midi_hz(midi: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def note_scores(true_notes: list[dict], found: list[dict]) -> dict:
    """mir_eval's note P/R/F1 (offsets ignored) and onset F1 of `found` against `true_notes`."""
    import mir_eval

    def arrays(notes: list[dict], pitch: str) -> tuple[np.ndarray, np.ndarray]:
        # mir_eval refuses negative times (a truth note cut by the clip's start): both sides
        # move one second later, which changes no distance
        intervals = np.array([[n["onset_s"], max(n["offset_s"], n["onset_s"] + 1e-3)] for n in notes]).reshape(-1, 2) + 1.0
        return intervals, midi_hz([n[pitch] for n in notes])

    ref_intervals, ref_hz = arrays(true_notes, "midi_pitch")
    est_intervals, est_hz = arrays(found, "exact_midi")
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_intervals, ref_hz, est_intervals, est_hz,
        onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None,
    )
    onset_f, _, _ = mir_eval.onset.f_measure(np.unique(ref_intervals[:, 0]), np.unique(est_intervals[:, 0]), window=ONSET_TOLERANCE_S)
    return {"precision": p, "recall": r, "f1": f, "onset_f1": onset_f}


def score_file(clip: Path, splat_path: Path, true_notes: list[dict]) -> dict:
    stored = read_stored(splat_path, optimizer=False)
    found = [{**n, "exact_midi": n["midi_pitch"] + n["cents"] / 100.0} for n in note_table(stored)]
    splat = read_splat(splat_path)
    cfg = splat.config
    target = torch.from_numpy(load_clip(clip, n_samples=cfg.n_samples, sample_rate=cfg.sample_rate).samples)
    render = torch.from_numpy(render_splat(splat))
    figures = {**quality(target, render, cfg.sample_rate), **visqol_if_installed(target, render, cfg.sample_rate)}
    return {
        "benchmark": "notes",
        "clip": clip.name,
        "true_notes": len(true_notes),
        "events": stored.n_events,
        "notes": len(found),
        **note_scores(true_notes, found),
        "visqol": _finite(figures.get("visqol")),
        "chroma_similarity": figures["chroma_similarity"],
        "log_mel_distance": figures["log_mel_distance"],
        "steps": int(stored.fit.get("steps", 0)),
    }


def _finite(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def print_table(records: list[dict]) -> None:
    table = Table(title="notes against the truth (P/R/F1: onset 50 ms, pitch 50 cents) and quality")
    for name in ("clip", "true", "events", "notes", "P / R / F1", "onset F1", "ViSQOL", "chroma", "log-mel"):
        table.add_column(name, justify="left" if name == "clip" else "right")
    for r in records:
        visqol = "-" if r["visqol"] is None else f"{r['visqol']:.2f}"
        table.add_row(
            r["clip"], str(r["true_notes"]), str(r["events"]), str(r["notes"]),
            f"{r['precision']:.2f} / {r['recall']:.2f} / {r['f1']:.2f}", f"{r['onset_f1']:.2f}",
            visqol, f"{r['chroma_similarity']:.3f}", f"{r['log_mel_distance']:.3f}",
        )
    if records:
        def mean(key: str) -> float:
            return statistics.mean(r[key] for r in records)

        table.add_row(
            "mean", "", "", "", f"{mean('precision'):.2f} / {mean('recall'):.2f} / {mean('f1'):.2f}", f"{mean('onset_f1'):.2f}",
            "", f"{mean('chroma_similarity'):.3f}", f"{mean('log_mel_distance'):.3f}",
        )
    Console(stderr=True, width=None if sys.stderr.isatty() else 160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, nargs="+", default=sorted(SHARED_AUDIO.glob("*.wav")))
    parser.add_argument("--steps", type=int, default=None, help="Adam steps per fit (default: as `fit` does, until converged)")
    parser.add_argument("--events", type=int, default=ModelConfig.n_events)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splats", type=Path, help="score <clip>.splat from this folder instead of fitting")
    parser.add_argument("--keep", type=Path, help="keep each fit's .splat in this folder")
    args = parser.parse_args()
    clips = [clip for clip in args.clips if truth(clip) is not None]
    if not clips:
        parser.error(f"none of the clips has a truth file in {NOTES}")
    configure_for_fitting()
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.splats or args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            path = folder / f"{clip.stem}.splat"
            if args.splats is None:
                log(f"fitting {clip.name}")
                fit_config = default_fit(args.seed) if args.steps is None else FitConfig(steps=args.steps, seed=args.seed)
                fit_audio_files([clip], [path], config=dataclasses.replace(FIT_MODEL, n_events=args.events), fit_config=fit_config, device="auto")
            record = score_file(clip, path, truth(clip))
            emit(record)
            records.append(record)
    print_table(records)


if __name__ == "__main__":
    main()
