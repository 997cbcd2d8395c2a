"""`audiosplat notes` (MIDI, CSV, JSON), `edit` by note and `inspect`'s note column, on a
real file whose events are known notes (`shared.KNOWN_NOTES`) and on the golden files."""

from __future__ import annotations

import csv
import io
import json
import shutil

import mido
import numpy as np
import pytest

from audiosplat.io.splat_format import read_stored
from audiosplat.ops.notes import note_table
from tests.cli_runner import assert_one_line_error, run_cli
from tests.shared import GOLDEN, KNOWN_NOTES

SR = 22050
TICKS_PER_SECOND = 960  # 480 ticks a beat at 120 bpm


def _table(path):
    return note_table(read_stored(path))


def _sounding(midi: mido.MidiFile) -> list[tuple[int, int, int, int]]:
    """(pitch, on tick, off tick, velocity) of each note in the file's one track."""
    now, held, notes = 0, {}, []
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            held[message.note] = (now, message.velocity)
        elif message.type in ("note_off", "note_on"):
            on, velocity = held.pop(message.note)
            notes.append((message.note, on, now, velocity))
    assert not held
    return sorted(notes, key=lambda n: n[1])


# ------------------------------------------------------------------ notes


def test_midi_holds_the_notes_at_their_times_pitches_and_velocities(notes_splat, tmp_path):
    out = tmp_path / "notes.mid"
    result = run_cli("notes", notes_splat, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out) and "3 notes written" in result.stderr
    midi = mido.MidiFile(out)
    assert (midi.type, midi.ticks_per_beat, len(midi.tracks)) == (0, 480, 1)
    assert [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"] == [500000]
    assert not [m for m in midi.tracks[0] if m.type == "pitchwheel"]
    onsets = [KNOWN_NOTES[e][3] / SR for e in range(3)]
    offsets = [onsets[0] + 0.05, onsets[1] + 0.1, 4096 / SR]  # half the decay time, or the file's end
    # C5 loudest (velocity 127), E4 6 dB lower, the second C5 10.5 dB below the first
    expected = [(72, 0, 72, 127), (64, 1, 64, 90), (72, 2, 72, 70)]
    assert _sounding(midi) == [(pitch, round(onsets[e] * TICKS_PER_SECOND), round(offsets[e] * TICKS_PER_SECOND), v) for pitch, e, _, v in expected]
    assert [(n["midi_pitch"], n["velocity"]) for n in _table(notes_splat)] == [(p, v) for p, _, _, v in expected]
    assert [n[1] for n in _sounding(midi)] == [0, 44, 87] and [n[2] for n in _sounding(midi)] == [48, 140, 178]
    assert mido.MidiFile(out).length == pytest.approx(178 / TICKS_PER_SECOND)


@pytest.mark.parametrize("args", [["-o", "-"], [], ["--format", "csv"]], ids=["dash", "none", "format"])
def test_csv_on_stdout_equals_the_note_table(notes_splat, args):
    result = run_cli("notes", notes_splat, *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    table = _table(notes_splat)
    assert result.stdout.splitlines()[0] == "event,events,onset_s,offset_s,midi_pitch,cents,note,velocity,gain_db"

    def typed(key, value):
        return [int(e) for e in value.split()] if key == "events" else type(table[0][key])(value)

    assert [{key: typed(key, value) for key, value in row.items()} for row in rows] == table
    assert [row["events"] for row in rows] == ["0", "1", "2"]
    assert [row["note"] for row in rows] == ["C5", "E4", "C5"]


def test_files_by_suffix_and_json_equal_the_note_table(notes_splat, tmp_path):
    table = _table(notes_splat)
    for name in ("n.json", "n.JSON"):
        assert run_cli("notes", notes_splat, "-o", tmp_path / name).exit_code == 0
        assert json.loads((tmp_path / name).read_text()) == table
    assert json.loads(run_cli("notes", notes_splat, "--format", "json").stdout) == table
    assert run_cli("notes", notes_splat, "-o", tmp_path / "n.csv", "-q").stderr == ""
    assert (tmp_path / "n.csv").read_text() == run_cli("notes", notes_splat).stdout
    assert run_cli("notes", notes_splat, "-o", tmp_path / "n.midi").exit_code == 0
    assert run_cli("notes", notes_splat, "-o", tmp_path / "n.bin", "--format", "midi").exit_code == 0
    assert (tmp_path / "n.midi").read_bytes() == (tmp_path / "n.bin").read_bytes()
    assert len(_sounding(mido.MidiFile(tmp_path / "n.midi"))) == 3
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_file_without_notes_writes_empty_outputs(tmp_path):
    """golden-v1's events are half noise: no notes, so a header, [] and a MIDI file with none."""
    assert _table(GOLDEN) == []
    assert run_cli("notes", GOLDEN).stdout == "event,events,onset_s,offset_s,midi_pitch,cents,note,velocity,gain_db\n"
    assert json.loads(run_cli("notes", GOLDEN, "--format", "json").stdout) == []
    result = run_cli("notes", GOLDEN, "-o", tmp_path / "none.mid")
    assert result.exit_code == 0 and "0 notes written" in result.stderr
    midi = mido.MidiFile(tmp_path / "none.mid")
    assert len(midi.tracks) == 1 and not [m for m in midi.tracks[0] if not m.is_meta]


def test_bad_inputs_are_one_line_errors_and_write_nothing(notes_splat, tmp_path):
    text = tmp_path / "text.splat"
    text.write_text("hello")
    out = tmp_path / "out.csv"
    assert_one_line_error(run_cli("notes", tmp_path / "none.splat", "-o", out), "none.splat", "not found")
    assert_one_line_error(run_cli("notes", text, "-o", out), text, "not a .splat")
    assert_one_line_error(run_cli("notes", text), text, "not a .splat")
    assert_one_line_error(run_cli("notes", notes_splat, "--format", "xml"), "unknown notes format 'xml'", code=2)
    assert_one_line_error(run_cli("notes", notes_splat, "-o", tmp_path / "n.txt"), "cannot tell the format", code=2)
    assert_one_line_error(run_cli("notes", notes_splat, "-o", tmp_path / "n.csv", "--format", "json"), "suffix says csv", code=2)
    assert_one_line_error(run_cli("notes", notes_splat, "--format", "midi"), "MIDI", "-o FILE.mid", code=2)
    assert_one_line_error(run_cli("notes", notes_splat, "-o", tmp_path / "missing" / "n.mid"), "does not exist")
    assert_one_line_error(run_cli("notes", notes_splat, "-o", tmp_path), "is a directory")
    assert not out.exists() and not (tmp_path / "n.txt").exists() and not (tmp_path / "n.csv").exists()


def test_the_input_is_never_overwritten(notes_splat, tmp_path):
    source = tmp_path / "in.splat"
    shutil.copy(notes_splat, source)
    before = source.read_bytes()
    assert_one_line_error(run_cli("notes", source, "-o", source, "--format", "midi"), "would overwrite the input", code=2)
    assert source.read_bytes() == before


# ------------------------------------------------------------------ edit by note

CONTROL_FIELDS = ("gain", "envelope_centre_s", "envelope_width_s", "excitation_mix", "noise_centre_hz", "noise_width_hz", "resonance",
                  "resonance_cutoff_hz", "decay_per_frame", "crossfade_per_frame", "room_weights", "reverb_mix", "pitch_hz")


def _edited(notes_splat, tmp_path, *edits):
    out = tmp_path / "edited.splat"
    result = run_cli("edit", notes_splat, "-o", out, *edits)
    assert result.exit_code == 0, result.stderr
    return read_stored(notes_splat), read_stored(out)


def _same_bytes(before, after, events, fields=CONTROL_FIELDS):
    for name in fields:
        assert before.controls[name][events].tobytes() == after.controls[name][events].tobytes(), name
    assert before.onset_samples[events].tobytes() == after.onset_samples[events].tobytes()


@pytest.mark.parametrize("edit", [["--gain", "-120"], ["--drop"]], ids=["gain", "drop"])
def test_editing_a_note_changes_only_its_events(notes_splat, tmp_path, edit):
    words = ["--select", "note==C5", *edit] if edit[0] == "--gain" else ["--drop", "note==C5"]
    before, after = _edited(notes_splat, tmp_path, *words)
    _same_bytes(before, after, [1, 3])  # E4 and the unpitched event that sounds C5
    _same_bytes(before, after, [0, 2], [f for f in CONTROL_FIELDS if f != "gain"])
    expected = before.controls["gain"][[0, 2]] * (1e-6 if edit[0] == "--gain" else 0.0)
    np.testing.assert_allclose(after.controls["gain"][[0, 2]], expected, rtol=1e-5)
    assert [n["note"] for n in note_table(after)] == ["E4"]


def test_transposing_a_selected_note_moves_only_its_pitch(notes_splat, tmp_path):
    before, after = _edited(notes_splat, tmp_path, "--select", "note==E4", "--transpose", "2")
    _same_bytes(before, after, [0, 2, 3])
    _same_bytes(before, after, [1], [f for f in CONTROL_FIELDS if f != "pitch_hz"])
    assert after.controls["pitch_hz"][1] == pytest.approx(before.controls["pitch_hz"][1] * 2 ** (2 / 12), rel=1e-6)
    assert [n["note"] for n in note_table(after)] == ["C5", "F#4", "C5"]


def test_a_note_and_a_time_together_select_one_event(notes_splat, tmp_path):
    before, after = _edited(notes_splat, tmp_path, "--select", "note==C5&onset_s>0.05", "--gain", "-6", "--select", "unpitched", "--wet", "1")
    _same_bytes(before, after, [0, 1])
    assert after.controls["gain"][2] == pytest.approx(before.controls["gain"][2] * 10 ** (-6 / 20), rel=1e-6)
    assert after.controls["reverb_mix"][3, 1] == 1.0 and after.controls["gain"][3] == before.controls["gain"][3]


def test_an_unknown_note_is_a_one_line_usage_error(notes_splat, tmp_path):
    out = tmp_path / "x.splat"
    assert_one_line_error(run_cli("edit", notes_splat, "-o", out, "--select", "note==H5", "--gain", "-6"), "'H5' is not a note name", code=2)
    # read before any file: the missing input is not what stops it
    assert_one_line_error(run_cli("edit", tmp_path / "missing.splat", "-o", out, "--drop", "notes&"), "a part is empty", code=2)
    assert not out.exists()


# ------------------------------------------------------------------ inspect


def test_inspect_marks_the_notes(notes_splat):
    table = run_cli("inspect", notes_splat)
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(line.startswith("notes: 3 (in 3 of 4 events") for line in lines), lines
    header = next(k for k, line in enumerate(lines) if line.lstrip().startswith("event"))
    assert lines[header].split()[:8] == ["event", "onset", "s", "gain", "dB", "energy", "dB", "pitch"] and " note " in lines[header]
    names = [line.split()[5] for line in lines[header + 1 :]]
    assert names == ["C5", "E4", "C5", "sine"]  # event 3 has no name: its wave comes next
    summary = json.loads(run_cli("inspect", notes_splat, "--json").stdout)
    assert (summary["notes"], summary["note_events"], summary["events"]) == (3, 3, 4)
    assert [row["note"] for row in summary["event_table"]] == ["C5", "E4", "C5", None]
    assert list(summary["event_table"][0])[2:6] == ["gain_db", "energy_db", "pitch_hz", "note"]
    picked = json.loads(run_cli("inspect", notes_splat, "--json", "--events", "notes", "--sort", "energy").stdout)
    assert [row["event"] for row in picked["event_table"]] == [0, 1, 2] and picked["notes"] == 3


def test_inspect_counts_the_sources_onsets_a_fit_stored(fitted_splat):
    onsets = read_stored(fitted_splat, optimizer=False).onsets_s
    summary = json.loads(run_cli("inspect", fitted_splat, "--json").stdout)
    assert summary["source_onsets"] == len(onsets) >= 1
    assert f"; {len(onsets)} note onsets in the source)" in run_cli("inspect", fitted_splat).stdout


def test_inspect_of_a_file_without_notes(tmp_path):
    assert "notes: 0 (in 0 of 2 events)" in run_cli("inspect", GOLDEN).stdout
    summary = json.loads(run_cli("inspect", GOLDEN, "--json").stdout)
    assert summary["notes"] == 0 and [row["note"] for row in summary["event_table"]] == [None, None]
