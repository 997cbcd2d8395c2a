"""The MusicNet layout as fit inputs: each recording cut into segments, each segment stored
with its recording's id, split and metadata and the note labels that sound in it.

Layout: ROOT/{train,test}_data/<id>.wav, ROOT/{train,test}_labels/<id>.csv (header
start_time,end_time,instrument,note,start_beat,end_beat,note_value; times in samples at
44.1 kHz) and optionally ROOT/musicnet_metadata.csv (an `id` column, then e.g. composer,
composition, movement, ensemble). Only the length of a recording is read here; its audio is
read one segment at a time when that segment is fitted.
"""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from audiosplat.app.api import FitInput
from audiosplat.core.errors import AudiosplatError

LABEL_RATE = 44100  # MusicNet's label times are samples at this rate
SPLITS = ("train", "test")


def parse_segments(spec: str) -> tuple[str, int | None]:
    """`all`, `N` (the first N of each recording) or `random:N` (N chosen at random)."""
    kind, _, count = spec.partition(":")
    if spec == "all":
        return "all", None
    if kind == "random" and count.isdigit() and int(count) > 0:
        return "random", int(count)
    if spec.isdigit() and int(spec) > 0:
        return "first", int(spec)
    raise AudiosplatError(f"--segments must be all, a count N or random:N, got '{spec}'")


def segment_starts(length: int, n_samples: int, hop: int, choice: tuple[str, int | None], rng: np.random.Generator) -> list[int]:
    """Starts of the segments of a recording of `length` samples: every `hop` samples while a
    whole segment fits (one at 0 if none does), then all of them, the first N or N at random."""
    starts = list(range(0, max(length - n_samples, 0) + 1, hop))
    kind, count = choice
    if kind == "first":
        return starts[:count]
    if kind == "random" and count < len(starts):
        return sorted(int(s) for s in rng.choice(starts, size=count, replace=False))
    return starts


def labels_in(notes: dict[str, np.ndarray], start_s: float, duration_s: float) -> dict[str, np.ndarray]:
    """The notes that sound in [start_s, start_s + duration_s), times made relative to start_s.
    `notes` holds LABEL_FIELDS with onset_s/offset_s in seconds from the recording's start."""
    keep = (notes["onset_s"] < start_s + duration_s) & (notes["offset_s"] > start_s)
    chosen = {name: values[keep] for name, values in notes.items()}
    chosen["onset_s"] = chosen["onset_s"] - start_s
    chosen["offset_s"] = chosen["offset_s"] - start_s
    return chosen


# A malformed CSV: a missing column, a field that is not a number or too long for csv (128 KiB),
# a number too large for int64, bytes that are not UTF-8.
CSV_ERRORS = (KeyError, TypeError, ValueError, OverflowError, csv.Error)


def read_labels(path: Path) -> dict[str, np.ndarray]:
    """A MusicNet labels CSV as arrays named as splatfile.LABEL_FIELDS, times in seconds from the recording's start."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {
            "onset_s": np.array([int(r["start_time"]) / LABEL_RATE for r in rows], dtype=np.float64),
            "offset_s": np.array([int(r["end_time"]) / LABEL_RATE for r in rows], dtype=np.float64),
            "instrument": np.array([int(r["instrument"]) for r in rows], dtype=np.int64),
            "note": np.array([int(r["note"]) for r in rows], dtype=np.int64),
            "start_beat": np.array([float(r["start_beat"]) for r in rows], dtype=np.float64),
            "end_beat": np.array([float(r["end_beat"]) for r in rows], dtype=np.float64),
            "note_value": np.array([r["note_value"] for r in rows], dtype=object),
        }
    except CSV_ERRORS as exc:
        raise AudiosplatError(f"{path}: not a MusicNet labels file ({type(exc).__name__}: {_short(exc)})") from None


def read_metadata(root: Path) -> dict[str, dict[str, str]]:
    """Rows of ROOT/musicnet_metadata.csv by id, or nothing when the file is absent."""
    path = root / "musicnet_metadata.csv"
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return {row["id"]: row for row in csv.DictReader(f) if "id" in row}
    except CSV_ERRORS as exc:
        raise AudiosplatError(f"{path}: not a MusicNet metadata file ({type(exc).__name__}: {_short(exc)})") from None


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def musicnet_inputs(
    root: Path, output: Path, *, n_samples: int, sample_rate: int, segments: str = "all", hop: int | None = None, seed: int = 0,
) -> list[FitInput]:
    """One FitInput per chosen segment: OUT/<id>/<start, 9 digits>.splat, the start in
    samples at `sample_rate`; `hop` (default `n_samples`) apart. Random choices are drawn
    per recording from `seed` and its id, so they do not depend on the other recordings."""
    root, output = Path(root), Path(output)
    choice, hop = parse_segments(segments), hop or n_samples
    if hop < 1:
        raise AudiosplatError(f"--hop must be >= 1, got {hop}")
    recordings = [(split, wav) for split in SPLITS for wav in sorted((root / f"{split}_data").glob("*.wav"))]
    if not recordings:
        raise AudiosplatError(f"{root}: no recordings in train_data/ or test_data/; is it a MusicNet folder?")
    metadata = read_metadata(root)
    inputs = []
    for split, wav in recordings:
        rid = wav.stem
        labels_path = root / f"{split}_labels" / f"{rid}.csv"
        notes = read_labels(labels_path) if labels_path.is_file() else None
        rng = np.random.default_rng([seed, zlib.crc32(rid.encode())])
        for start in segment_starts(_length(wav, sample_rate), n_samples, hop, choice, rng):
            start_s = start / sample_rate
            labels = None if notes is None else labels_in(notes, start_s, n_samples / sample_rate)
            about = {
                "id": rid, "split": split, "segment_start_samples": start, "segment_start_s": start_s,
                "segment_samples": n_samples, "labels": None if labels is None else len(labels["note"]),
            }
            if rid in metadata:
                about["metadata"] = metadata[rid]
            inputs.append(FitInput(wav, output / rid / f"{start:09d}.splat", start_s, {"musicnet": about}, labels))
    return inputs


def _length(wav: Path, sample_rate: int) -> int:
    """The recording's length in samples at `sample_rate`, from its header alone."""
    try:
        info = sf.info(str(wav))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudiosplatError(f"{wav}: not a readable audio file ({exc})") from None
    return info.frames * sample_rate // info.samplerate

