"""Notes as MIDI (`io.midi`): ticks at 120 bpm, one key held at a time, pitches MIDI can carry."""

from __future__ import annotations

from audiosplat.io.midi import midi_bytes, midi_file, read_midi_bytes


def _note(pitch: int, onset_s: float, offset_s: float, velocity: int = 100) -> dict:
    return {"midi_pitch": pitch, "onset_s": onset_s, "offset_s": offset_s, "velocity": velocity}


def _messages(midi) -> list[tuple[int, str, int, int]]:
    """(tick, type, pitch, velocity) of each note message."""
    now, out = 0, []
    for m in midi.tracks[0]:
        now += m.time
        if not m.is_meta:
            out.append((now, m.type, m.note, m.velocity))
    return out


def test_a_key_struck_again_ends_the_earlier_note():
    notes = [_note(60, 0.0, 1.0, 90), _note(60, 0.5, 0.75, 80), _note(64, 0.25, 2.0, 70)]
    assert _messages(midi_file(notes)) == [
        (0, "note_on", 60, 90), (240, "note_on", 64, 70), (480, "note_off", 60, 0), (480, "note_on", 60, 80),
        (720, "note_off", 60, 0), (1920, "note_off", 64, 0),
    ]


def test_notes_at_one_tick_and_of_no_length():
    notes = [_note(60, 0.1, 0.1), _note(60, 0.1, 0.3, 50), _note(62, 1.0, 1.0001)]
    # two strikes of one key at one tick: the later note stands; a note too short for a tick gets one
    assert _messages(midi_file(notes)) == [(96, "note_on", 60, 50), (288, "note_off", 60, 0), (960, "note_on", 62, 100), (961, "note_off", 62, 0)]


def test_pitches_outside_midi_are_left_out_and_the_bytes_read_back():
    midi = midi_file([_note(-3, 0.0, 1.0), _note(128, 0.0, 1.0), _note(127, 0.0, 1.0), _note(0, 0.0, 1.0)])
    assert sorted(p for _, kind, p, _ in _messages(midi) if kind == "note_on") == [0, 127]
    again = read_midi_bytes(midi_bytes(midi))
    assert _messages(again) == _messages(midi) and again.ticks_per_beat == 480
