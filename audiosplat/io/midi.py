"""Notes as a Standard MIDI File: one track at 120 bpm, 480 ticks a beat, a note_on and a
note_off per note. The notes are plain rows with `onset_s`, `offset_s`, `midi_pitch` and
`velocity` (`ops.notes.note_table`'s); cents are not written (no pitch bend)."""

from __future__ import annotations

import io
from collections.abc import Iterable

import mido

TICKS_PER_BEAT = 480
TEMPO_US_PER_BEAT = 500_000  # 120 bpm
TICKS_PER_SECOND = TICKS_PER_BEAT * 1_000_000 / TEMPO_US_PER_BEAT  # 960
MIDI_PITCHES = range(128)


def seconds_to_ticks(seconds: float) -> int:
    """The tick nearest `seconds` from the start, at TEMPO_US_PER_BEAT and TICKS_PER_BEAT."""
    return int(round(seconds * TICKS_PER_SECOND))


def in_midi_range(notes: Iterable[dict]) -> list[dict]:
    """The notes whose `midi_pitch` MIDI can carry (0 to 127)."""
    return [n for n in notes if n["midi_pitch"] in MIDI_PITCHES]


def midi_file(notes: list[dict]) -> mido.MidiFile:
    """A type 0 MIDI file of `notes` on channel 0: each note_on at the tick of its onset_s,
    its note_off at the tick of its offset_s (at least one tick later). A note that starts
    while the same pitch still sounds ends the earlier one there, as one channel cannot hold
    a key down twice. Notes outside MIDI's pitches 0-127 are left out (`in_midi_range`)."""
    spans = _spans(in_midi_range(notes))
    messages = sorted(
        [(on, 1, mido.Message("note_on", note=pitch, velocity=velocity)) for pitch, on, _, velocity in spans]
        + [(off, 0, mido.Message("note_off", note=pitch, velocity=0)) for pitch, _, off, _ in spans],
        key=lambda m: (m[0], m[1], m[2].note),  # at one tick, keys are released before others are struck
    )
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=TEMPO_US_PER_BEAT, time=0)])
    now = 0
    for tick, _, message in messages:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    return midi


def _spans(notes: list[dict]) -> list[tuple[int, int, int, int]]:
    """(pitch, on tick, off tick, velocity) of each note, no two of one pitch overlapping."""
    spans = []
    for n in sorted(notes, key=lambda n: (n["midi_pitch"], n["onset_s"])):
        on = seconds_to_ticks(n["onset_s"])
        off = max(seconds_to_ticks(n["offset_s"]), on + 1)
        if spans and spans[-1][0] == n["midi_pitch"] and spans[-1][2] > on:
            pitch, earlier_on, _, earlier_velocity = spans.pop()
            if earlier_on < on:  # struck again at the same tick: the later note stands for both
                spans.append((pitch, earlier_on, on, earlier_velocity))
        spans.append((n["midi_pitch"], on, off, int(n["velocity"])))
    return spans


def midi_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def read_midi_bytes(data: bytes) -> mido.MidiFile:
    """Parse a Standard MIDI File from bytes (raises on a malformed one)."""
    return mido.MidiFile(file=io.BytesIO(data))
