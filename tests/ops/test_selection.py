"""Selections by note (`note==C5`, `notes`, `unpitched`) and parts joined with `&`, on a
real file whose events are known notes (`shared.KNOWN_NOTES`) and on the golden files."""

from __future__ import annotations

import numpy as np
import pytest

from audiosplat.io.splat_format import read_stored
from audiosplat.ops.notes import note_table
from audiosplat.ops.selection import EditError, check_selection, select
from tests.shared import GOLDEN, GOLDEN_EXACT

NAMES = ("C5", "E4", "C5", None)  # KNOWN_NOTES' events as notes; event 3 is not one


@pytest.fixture(scope="module")
def stored(notes_splat):
    return read_stored(notes_splat)


def _events(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


@pytest.mark.parametrize(
    "spec, events",
    [
        ("note==C5", [0, 2]),
        ("note == c5", [0, 2]),
        ("note==E4", [1]),
        ("note==Fb4", [1]),  # E4 spelt by its neighbour
        ("note==B#4", [0, 2]),
        ("note==C#5", []),
        ("note!=C5", [1]),  # event 3 sounds C5 but is not a note: no note condition meets it
        ("note<C5", [1]),
        ("note<=C5", [0, 1, 2]),
        ("note>E4", [0, 2]),
        ("note>=F#3", [0, 1, 2]),
        ("note>=Db5", []),
        ("notes", [0, 1, 2]),
        ("unpitched", [3]),
    ],
)
def test_note_selections_pick_the_notes_by_their_nearest_pitch(stored, spec, events):
    assert _events(select(stored, spec)) == events


def test_a_note_condition_agrees_with_the_note_table(stored):
    table = note_table(stored)
    assert sorted((n["event"], n["note"]) for n in table) == [(e, name) for e, name in enumerate(NAMES) if name]
    for n in table:
        assert _events(select(stored, f"note=={n['note']}")) == sorted(m["event"] for m in table if m["midi_pitch"] == n["midi_pitch"])


@pytest.mark.parametrize(
    "spec, events",
    [
        ("note==C5&onset_s>0.05", [2]),
        ("notes & gain_db>-10", [0]),
        ("unpitched&0-2", []),
        ("0-2&note!=E4", [0, 2]),
        ("all&loudest:2", [0, 3]),
        ("gain_db>-15&pitch_hz>500&notes", [0]),
    ],
)
def test_parts_joined_with_and_must_all_hold(stored, spec, events):
    assert _events(select(stored, spec)) == events


def test_existing_specs_still_read(stored):
    assert _events(select(stored, "all")) == [0, 1, 2, 3]
    assert _events(select(stored, "1,3")) == [1, 3]
    assert _events(select(stored, "quietest:1")) == [2]
    assert _events(select(stored, "resonance_mix<0.5")) == [3]


def test_only_notes_meet_a_note_condition_in_the_golden_files():
    """golden-v1's events are pitched (27.5 Hz is A0) but half noise: none is a note."""
    unpitched = read_stored(GOLDEN)
    assert not select(unpitched, "notes").any() and select(unpitched, "unpitched").all()
    assert not select(unpitched, "note==A0").any() and not select(unpitched, "note!=A0").any()
    exact = read_stored(GOLDEN_EXACT)  # 35.5 Hz (C#1 +41 cents) and 62.0 Hz (B1 +8 cents)
    assert _events(select(exact, "note==C#1")) == [0] and _events(select(exact, "note==B1")) == [1]


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("note==H2", "'H2' is not a note name"),
        ("note==", "is not a note name"),
        ("note==C", "'C' is not a note name"),
        ("note==C5&", "a part is empty"),
        ("&notes", "a part is empty"),
        ("notez", "cannot read"),
        ("pitch<3", "unknown field 'pitch'"),
        ("gain_db<--3", "cannot read the number"),
    ],
)
def test_bad_note_specs_are_edit_errors(stored, spec, fragment):
    for check in (lambda: select(stored, spec), lambda: check_selection(spec)):  # with a file and before one
        with pytest.raises(EditError, match=fragment) as raised:
            check()
        assert "\n" not in str(raised.value)


def test_indices_beyond_the_file_are_found_with_it(stored):
    check_selection("notes&2-9")
    with pytest.raises(EditError, match="outside the file's events 0-3"):
        select(stored, "notes&2-9")


def test_a_condition_on_energy_reads_the_files_energies(stored):
    energies = stored.energies_db
    threshold = float(np.median(energies))
    assert _events(select(stored, f"energy_db>{threshold}")) == np.flatnonzero(energies > threshold).tolist()
    assert _events(select(read_stored(GOLDEN), "energy_db>-1000")) == []  # a file before 1.10.0 stores none
