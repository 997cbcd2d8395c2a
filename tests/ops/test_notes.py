"""Which events make one note (`notes.note_leads`): the same pitch renewed while it sounds,
a weak partial or undertone placed on its own, against a note struck again, an octave played with it, and
events too quiet or too noisy to be notes. Event tables are written out by hand, in the
units `summary.event_rows` gives."""

from __future__ import annotations

import numpy as np
import pytest

from audiosplat.ops.notes import (
    GAIN_RANGE_DB,
    HARMONIC_DB,
    NOTE_RANGE_DB,
    ONSET_S,
    REPEAT_S,
    RESTRIKE_DB,
    level_db,
    note_leads,
    note_onsets,
    note_pitches,
)

A4, E6, A5 = 440.0, 440.0 * 3 * 2 ** (2 / 1200), 880.0  # E6: A4's third harmonic (2 cents sharp of 3x)


def event(
    e: int, onset_s: float, hz: float | None, gain_db: float, decay_s: float = 2.0, resonance_mix: float = 1.0, energy_db: float | None = None
) -> dict:
    """An event table's row; without `energy_db`, a row of a file that stores no energies."""
    return {
        "event": e, "onset_s": onset_s, "gain_db": gain_db, "energy_db": energy_db, "pitch_hz": hz, "resonance_mix": resonance_mix, "decay_s": decay_s,
    }


def leads(*rows: dict) -> list[int]:
    return note_leads(list(rows)).tolist()


def test_one_event_is_one_note_and_noise_or_quiet_events_are_none():
    assert leads(event(0, 0.0, A4, -6.0)) == [0]
    quiet = -6.0 - GAIN_RANGE_DB - 1.0
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


def test_a_note_sounds_as_all_its_events_together():
    """Two equal events carry a held note: it sounds 3 dB above either. A third, 4 dB above
    what each has left but not RESTRIKE_DB above both, renews it."""
    held = [event(0, 0.0, A4, -12.0), event(1, 0.0, A4, -12.0)]
    each = level_db(held[0], 0.5)
    renewal = event(2, 0.5, A4, each + 4.0)
    assert 4.0 > RESTRIKE_DB and 4.0 < 3.0 + RESTRIKE_DB
    assert leads(*held, renewal) == [0, 0, 0]
    assert leads(*held, event(2, 0.5, A4, each + 3.0 + RESTRIKE_DB + 0.5)) == [0, 0, 2]


def test_where_the_source_has_onsets_a_note_strikes_again_only_at_one():
    """A fit renews a held note where its level swells, louder than the note by then but
    at no onset of the source: that is more of the note. At an onset, an event louder than
    the note is by then strikes it again, by however little."""
    first = event(0, 0.0, A4, -6.0)
    again = event(1, 0.5, A4, -6.0)  # 15 dB above what is left of the first
    assert leads(first, again) == [0, 1]
    assert note_leads([first, again], np.array([0.0, 0.5 + ONSET_S - 0.01])).tolist() == [0, 1]
    assert note_leads([first, again], np.array([0.0, 0.5 + ONSET_S + 0.01])).tolist() == [0, 0]
    assert note_leads([first, again], np.array([])).tolist() == [0, 0]
    left = level_db(first, 0.5)
    for gain, lead in ((left + 1.0, 1), (left - 1.0, 0)):
        assert note_leads([first, event(1, 0.5, A4, gain)], np.array([0.0, 0.5])).tolist() == [0, lead]


def test_the_same_pitch_after_the_note_has_ended_is_a_new_note():
    assert leads(event(0, 0.0, A4, -6.0, decay_s=0.4), event(1, 0.3, A4, -20.0)) == [0, 1]


def test_a_weak_harmonic_is_part_of_its_note_and_a_strong_one_a_note_of_its_own():
    note = event(0, 0.02, A4, -6.0)
    assert leads(note, event(1, 0.0, E6, -6.0 - HARMONIC_DB - 1.0)) == [0, 0]  # a little early, still its partial
    assert note_pitches([note, event(1, 0.0, E6, -20.0)]) == [69, 69]
    assert leads(note, event(1, 0.0, E6, -6.0 - HARMONIC_DB + 1.0)) == [0, 1]
    assert leads(note, event(1, 0.02, A5, -8.0)) == [0, 1]  # an octave played with it


def test_a_short_weak_undertone_struck_with_a_note_is_part_of_it():
    """A short event an octave or a twelfth down on a note's attack is the note's; one that
    lasts (a chord's lower voice), starts later or is nearly as loud is a note of its own."""
    a3, d3 = A4 / 2, A4 / 3
    note = event(0, 0.5, A4, -6.0)
    weak = -6.0 - HARMONIC_DB - 1.0
    assert leads(note, event(1, 0.49, a3, weak, decay_s=0.2)) == [0, 0]
    assert leads(note, event(1, 0.5, d3, weak, decay_s=0.3)) == [0, 0]
    assert note_pitches([note, event(1, 0.5, a3, weak, decay_s=0.2)]) == [69, 69]
    assert leads(note, event(1, 0.5, a3, weak, decay_s=1.0)) == [0, 1]
    assert leads(note, event(1, 0.5, a3, -6.0 - HARMONIC_DB + 1.0, decay_s=0.2)) == [0, 1]
    assert leads(note, event(1, 0.8, a3, weak, decay_s=0.2)) == [0, 1]
    assert leads(note, event(1, 0.5, 0.7 * A4, weak, decay_s=0.2)) == [0, 1]  # no undertone: a note


def test_a_partial_takes_the_events_that_renew_it_with_it():
    rows = [event(0, 0.0, A4, -6.0), event(1, 0.0, A5, -25.0), event(2, 0.1, A5, -26.0)]
    assert leads(*rows) == [0, 0, 0]


def test_no_events_no_notes():
    assert leads() == []


def test_where_a_file_stores_energies_a_note_is_heard_by_its_energy_not_its_gain():
    """A held note of modest gain carries more energy than a loud click: by energy it is a
    note and an event NOTE_RANGE_DB under the most energetic is not, whatever its gain."""
    held = event(0, 0.0, A4, -30.0, energy_db=20.0)
    click = event(1, 0.5, 300.0, 0.0, decay_s=0.05, energy_db=10.0)
    faint = event(2, 1.0, 600.0, 0.0, decay_s=0.05, energy_db=20.0 - NOTE_RANGE_DB - 1.0)
    assert leads(held, click, faint) == [0, 1, -1]
    assert leads(*(dict(row, energy_db=None) for row in (held, click, faint))) == [-1, 1, 2]  # by gain: the held note is 30 dB down


def test_a_note_hidden_under_another_notes_partials_starts_at_the_source_onset_before_it():
    """A chord struck at 0 s: its bass A3 has an event at once, its upper voice E5 (A3's third
    harmonic) only at 0.3 s, where the source has no onset. The E5 sounded from 0 s, carried
    by the bass's partial, so its note starts there. Not so for a note that is no harmonic
    of a sounding one, one that starts at an onset, or in a file that knows no onsets."""
    a3, e5 = A4 / 2, 3 * A4 / 2
    bass = event(0, 0.0, a3, -6.0)

    def onsets(upper: dict, source_onsets, first: dict = bass) -> list[float]:
        rows, known = [first, upper], None if source_onsets is None else np.array(source_onsets)
        return sorted(note_onsets(rows, note_leads(rows, known), known).values())

    assert onsets(event(1, 0.3, e5, -10.0), [0.0]) == [0.0, 0.0]
    assert onsets(event(1, 0.3, 0.7 * e5, -10.0), [0.0]) == [0.0, 0.3]  # no harmonic
    assert onsets(event(1, 0.3, e5, -10.0), [0.0, 0.3 - ONSET_S / 2]) == [0.0, 0.3]  # struck at an onset of its own
    assert onsets(event(1, 0.3, e5, -10.0), None) == [0.0, 0.3]
    assert onsets(event(1, 0.3, e5, -10.0), [0.0], first=event(0, 0.2, a3, -6.0)) == [0.2, 0.3]  # the bass came later
