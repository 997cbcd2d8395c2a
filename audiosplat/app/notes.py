"""A .splat's notes (`ops.notes`) as a MIDI, CSV or JSON file: what `audiosplat notes`
writes. No torch: the file is read as arrays."""

from __future__ import annotations

from pathlib import Path

from audiosplat.app.inputs import check_output_path
from audiosplat.io.note_files import write_notes
from audiosplat.io.splat_format import read_stored
from audiosplat.ops.notes import note_table


def read_notes(source: Path) -> list[dict]:
    """The notes of the .splat at `source` (`notes.note_table`), in onset order."""
    return note_table(read_stored(Path(source), optimizer=False))


def export_notes(source: Path, output: Path, fmt: str) -> list[dict]:
    """Write the notes of `source` to `output` in format `fmt` (`note_files.NOTE_FORMATS`),
    atomically; the input is never written. Returns the notes."""
    check_output_path(Path(output), inputs=[Path(source)])
    notes = read_notes(source)
    write_notes(Path(output), notes, fmt)
    return notes
