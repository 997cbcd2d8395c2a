"""Which events make one note (`notes.note_leads`): the same pitch renewed while it sounds,
a weak partial placed on its own, against a note struck again, an octave played with it, and
events too quiet or too noisy to be notes. Event tables are written out by hand, in the
units `summary.event_rows` gives."""

from __future__ import annotations

import pytest

from audiosplat.ops.notes import (
    HARMONIC_DB,
    NOTE_RANGE_DB,
    REPEAT_S,
    RESTRIKE_DB,
    level_db,
    note_leads,
    note_pitches,
)

A4, E6, A5 = 440.0, 440.0 * 3 * 2 ** (2 / 1200), 880.0  # E6: A4's third harmonic (2 cents sharp of 3x)


def event(e: int, onset_s: float, hz: float | None, gain_db: float, decay_s: float = 2.0, resonance_mix: float = 1.0) -> dict:
    return {"event": e, "onset_s": onset_s, "gain_db": gain_db, "pitch_hz": hz, "resonance_mix": resonance_mix, "decay_s": decay_s}


def leads(*rows: dict) -> list[int]:
    return note_leads(list(rows)).tolist()


def test_one_event_is_one_note_and_noise_or_quiet_events_are_none():
    assert leads(event(0, 0.0, A4, -6.0)) == [0]
    quiet = -6.0 - NOTE_RANGE_DB - 1.0
    assert leads(event(0, 0.0, A4, -6.0), event(1, 0.5, 300.0, quiet), event(2, 0.5, 300.0, -6.0, resonance_mix=0.3), event(3, 0.5, None, -6.0)) == [0, -1, -1, -1]


def test_the_same_pitch_renewed_while_it_sounds_is_one_note():
    """Bowed or held: events on the note every 100 ms, none starting RESTRIKE_DB above
    what sounds by then (3 dB a step: the level falls 60 dB in 2 s)."""
    rows = [event(0, 0.0, A4, -6.0)] + [event(e, 0.1 * e, A4 * 2 ** (10 / 1200), -9.0) for e in range(1, 6)]
    assert leads(*rows) == [0] * 6
    assert note_pitches(rows) == [69] * 6


def test_a_note_struck_again_is_two_notes():
    first = event(0, 0.0, A4, -6.0, decay_s=2.0)
    again = event(1, 0.5, A4, -6.0, decay_s=2.0)  # 15 dB above what is left of the first
    assert level_db(first, 0.5) == pytest.approx(-21.0)
    assert leads(first, again) == [0, 1]
    # a little softer than the note is by then is not a new strike ...
    assert leads(first, event(1, 0.5, A4, -21.0 + RESTRIKE_DB - 0.5)) == [0, 0]
    # ... nor, however loud, an event within REPEAT_S of the start (the attack shaped by two)
    assert leads(first, event(1, REPEAT_S - 0.01, A4, 0.0)) == [0, 0]


def test_the_same_pitch_after_the_note_has_ended_is_a_new_note():
    assert leads(event(0, 0.0, A4, -6.0, decay_s=0.4), event(1, 0.3, A4, -20.0)) == [0, 1]


def test_a_weak_harmonic_is_part_of_its_note_and_a_strong_one_a_note_of_its_own():
    note = event(0, 0.02, A4, -6.0)
    assert leads(note, event(1, 0.0, E6, -6.0 - HARMONIC_DB - 1.0)) == [0, 0]  # a little early, still its partial
    assert note_pitches([note, event(1, 0.0, E6, -20.0)]) == [69, 69]
    assert leads(note, event(1, 0.0, E6, -6.0 - HARMONIC_DB + 1.0)) == [0, 1]
    assert leads(note, event(1, 0.02, A5, -8.0)) == [0, 1]  # an octave played with it


def test_a_partial_takes_the_events_that_renew_it_with_it():
    rows = [event(0, 0.0, A4, -6.0), event(1, 0.0, A5, -25.0), event(2, 0.1, A5, -26.0)]
    assert leads(*rows) == [0, 0, 0]


def test_no_events_no_notes():
    assert leads() == []
