"""Commands that compute nothing load no torch: `--help`, `inspect` and `notes` start in a
fraction of the time (benchmarks.startup). Run in a process where importing torch fails."""

from __future__ import annotations

import subprocess
import sys

import mido
import pytest

from tests.shared import GOLDEN, GOLDEN_EXACT

NO_TORCH = "import sys; sys.modules['torch'] = None; from audiosplat.cli import app; app(sys.argv[1:], prog_name='audiosplat')"


def _without_torch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["fit", "--help"],
        ["inspect", GOLDEN],
        ["inspect", GOLDEN_EXACT, "--json", "--sort", "energy", "--events", "gain_db>-200"],
        ["inspect", "--check", GOLDEN, GOLDEN_EXACT],
        ["inspect", GOLDEN_EXACT, "--events", "note==C#1&notes"],
        ["notes", GOLDEN_EXACT],
        ["notes", GOLDEN_EXACT, "--format", "json"],
    ],
    ids=["help", "fit-help", "inspect", "inspect-json-events", "inspect-check", "inspect-notes", "notes-csv", "notes-json"],
)
def test_runs_without_torch(args):
    result = _without_torch(*args)
    assert result.returncode == 0, result.stderr


def test_notes_writes_midi_without_torch(notes_splat, tmp_path):
    """A real process writes the file's notes as MIDI with torch unimportable."""
    out = tmp_path / "notes.mid"
    result = _without_torch("notes", notes_splat, "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}\n" and result.stderr.strip().endswith("3 notes written to " + str(out) + " (midi)")
    pitches = [m.note for m in mido.MidiFile(out).tracks[0] if m.type == "note_on"]
    assert pitches == [72, 64, 72]
    refused = _without_torch("notes", notes_splat, "--format", "midi")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr


def test_the_check_itself_sees_torch_being_imported(fitted_splat, tmp_path):
    """Rendering needs torch: the same harness makes it fail, so a pass above means something."""
    result = _without_torch("render", fitted_splat, "-o", tmp_path / "x.wav")
    assert result.returncode != 0 and "torch" in result.stderr
