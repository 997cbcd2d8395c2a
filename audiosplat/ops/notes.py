"""Which events of a .splat are notes, and the notes as plain rows: what `notes` exports,
`inspect` marks and `edit --select note==C5` picks. NumPy only.

An event is a note when it is pitched (its resonance sounds), the resonance carries most of
it (`excitation_mix` resonance share at least `NOTE_MIN_RESONANCE_MIX`) and it is audible
(gain within `NOTE_RANGE_DB` of the file's loudest event). The other events are the
unpitched part's: attacks, breath, texture (formats/splat-v1.md, section 9.2).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from audiosplat.ops.summary import event_rows

if TYPE_CHECKING:
    from audiosplat.io.splat_format import StoredSplat

NOTE_MIN_RESONANCE_MIX = 0.5
NOTE_RANGE_DB = 40.0
# A note ends where its resonance has fallen 30 dB: half its 60 dB decay time.
OFFSET_FRACTION_OF_DECAY = 0.5
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}
_NAME = re.compile(r"^\s*([A-Ga-g])([#b]?)(-?\d+)\s*$")


def note_mask(rows: list[dict]) -> np.ndarray:
    """(E,) bool: which of the event table's rows (`summary.event_rows`) are notes."""
    if not rows:
        return np.zeros(0, dtype=bool)
    loudest = max(row["gain_db"] for row in rows)
    return np.array(
        [
            row["pitch_hz"] is not None
            and row["resonance_mix"] >= NOTE_MIN_RESONANCE_MIX
            and row["gain_db"] >= loudest - NOTE_RANGE_DB
            for row in rows
        ],
        dtype=bool,
    )


def note_pitches(rows: list[dict]) -> list[int | None]:
    """Per row of the event table: a note's nearest MIDI pitch, None for an event that is
    not a note."""
    return [round(hz_to_midi(row["pitch_hz"])) if is_note else None for row, is_note in zip(rows, note_mask(rows).tolist())]


def note_names(rows: list[dict]) -> list[str | None]:
    """Per row of the event table: the name of a note's nearest pitch ("C5"), None for an
    event that is not a note."""
    return [None if midi is None else note_name(midi) for midi in note_pitches(rows)]


def with_notes(summary: dict) -> dict:
    """A file's summary (`summary.summarise`) with its notes marked: "notes", how many
    events are notes, after "events"; and each event row's "note" (`note_names`) after
    its "pitch_hz"."""
    rows = summary["event_table"]
    names = note_names(rows)
    marked = [_after(row, "pitch_hz", "note", name) for row, name in zip(rows, names)]
    out: dict = {}
    for key, value in summary.items():
        out[key] = marked if key == "event_table" else value
        if key == "events":
            out["notes"] = sum(name is not None for name in names)
    return out


def _after(row: dict, key: str, new_key: str, value) -> dict:
    """`row` with `new_key: value` inserted right after `key`."""
    out: dict = {}
    for k, v in row.items():
        out[k] = v
        if k == key:
            out[new_key] = value
    return out


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def note_name(midi: int) -> str:
    """MIDI number -> scientific pitch name, sharps: 60 -> "C4", 61 -> "C#4"."""
    return f"{PITCH_CLASSES[midi % 12]}{midi // 12 - 1}"


def parse_note_name(text: str) -> int:
    """Scientific pitch name ("C4", "F#3", "Bb5") -> MIDI number; ValueError if unreadable."""
    match = _NAME.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a note name (e.g. C4, F#3, Bb5)")
    letter, accidental, octave = match.group(1).upper(), match.group(2), int(match.group(3))
    name = _FLATS.get(letter + accidental, letter + accidental)
    if name not in PITCH_CLASSES:  # Cb, Fb, E#, B# are spelled by their neighbours
        base = PITCH_CLASSES.index(letter)
        return (octave + 1) * 12 + base + (1 if accidental == "#" else -1)
    return (octave + 1) * 12 + PITCH_CLASSES.index(name)


def velocity(gain_db: float, loudest_db: float) -> int:
    """MIDI velocity from an event's level below the loudest: amplitude ~ (v / 127)^2, so
    40 dB below the loudest is velocity 13; clamped to 1..127."""
    return int(min(127, max(1, round(127.0 * 10.0 ** ((gain_db - loudest_db) / 40.0)))))


def note_table(stored: StoredSplat) -> list[dict]:
    """One row per note, in onset order: its event, onset and offset (s), the nearest MIDI
    pitch and the cents from it, its name, velocity (`velocity`) and gain (dB)."""
    rows = event_rows(stored)
    mask = note_mask(rows)
    if not mask.any():
        return []
    loudest = max(row["gain_db"] for row in rows)
    duration = stored.config.duration_s
    notes = []
    for row in (r for r, is_note in zip(rows, mask) if is_note):
        exact = hz_to_midi(row["pitch_hz"])
        midi = int(round(exact))
        onset = row["onset_s"]
        offset = min(duration, onset + OFFSET_FRACTION_OF_DECAY * row["decay_s"])
        notes.append({
            "event": row["event"],
            "onset_s": onset,
            "offset_s": max(offset, onset),
            "midi_pitch": midi,
            "cents": 100.0 * (exact - midi),
            "note": note_name(midi),
            "velocity": velocity(row["gain_db"], loudest),
            "gain_db": row["gain_db"],
        })
    return sorted(notes, key=lambda n: (n["onset_s"], n["midi_pitch"]))
