"""A file's notes written out as MIDI, CSV or JSON: the format an output's suffix names, the
bytes of each, and an atomic write. The notes are plain rows (`ops.notes.note_table`'s)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from audiosplat.core.errors import UsageError
from audiosplat.io.atomic import atomic_path
from audiosplat.io.midi import midi_bytes, midi_file, read_midi_bytes

NOTE_FORMATS = ("midi", "csv", "json")
NOTE_COLUMNS = ("event", "events", "onset_s", "offset_s", "midi_pitch", "cents", "note", "velocity", "gain_db")
SUFFIX_FORMATS = {".mid": "midi", ".midi": "midi", ".csv": "csv", ".json": "json"}
TEXT_FORMATS = ("csv", "json")


def note_format(output: Path | None, requested: str | None) -> str:
    """The format to write: `requested` if given, else the one `output`'s suffix names; CSV
    for stdout (`output` None). Raises UsageError for an unknown format, a suffix that names
    none, or one that names another than `requested`."""
    if requested is not None and requested not in NOTE_FORMATS:
        raise UsageError(f"unknown notes format '{requested}' (formats: {', '.join(NOTE_FORMATS)})")
    named = None if output is None else SUFFIX_FORMATS.get(output.suffix.lower())
    if requested is not None:
        if named is not None and named != requested:
            raise UsageError(f"{output}: the suffix says {named}, --format says {requested}; make them agree")
        return requested
    if output is None:
        return "csv"
    if named is None:
        raise UsageError(f"{output}: cannot tell the format from the suffix; use .mid, .midi, .csv or .json, or --format {'|'.join(NOTE_FORMATS)}")
    return named


def notes_csv(notes: list[dict]) -> str:
    """A header of NOTE_COLUMNS and one line per note; numbers written in full (they read
    back equal), a note's events as their indices joined by spaces ("3 17 22")."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(NOTE_COLUMNS)
    writer.writerows([" ".join(map(str, note[c])) if c == "events" else note[c] for c in NOTE_COLUMNS] for note in notes)
    return text.getvalue()


def notes_json(notes: list[dict]) -> str:
    """A JSON list of the notes, one object each with NOTE_COLUMNS."""
    return json.dumps([{column: note[column] for column in NOTE_COLUMNS} for note in notes]) + "\n"


def notes_bytes(notes: list[dict], fmt: str) -> bytes:
    """The notes in format `fmt` (one of NOTE_FORMATS), as a file holds them."""
    if fmt == "midi":
        return midi_bytes(midi_file(notes))
    return (notes_csv(notes) if fmt == "csv" else notes_json(notes)).encode("utf-8")


def write_notes(path: Path, notes: list[dict], fmt: str) -> None:
    """Write the notes to `path` in format `fmt`, atomically; a MIDI file is parsed back
    before it is renamed into place."""
    data = notes_bytes(notes, fmt)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(data)
        if fmt == "midi":
            read_midi_bytes(tmp.read_bytes())
