"""Which events a selection names ("all", "0,3,7-12", "gain_db<-30", "quietest:8",
"note==C5", "notes", joined with "&"): what `edit --select/--keep/--drop` and
`inspect --events` take. NumPy only."""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING

import numpy as np

from audiosplat.core.errors import UsageError
from audiosplat.ops.notes import note_pitches, parse_note_name
from audiosplat.ops.summary import event_rows

if TYPE_CHECKING:
    from audiosplat.io.splat_format import StoredSplat

CONDITION_FIELDS = ("onset_s", "gain_db", "energy_db", "pitch_hz", "decay_s", "noise_centre_hz", "noise_width_hz", "reverb_wet", "resonance_mix")
_COMPARE = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|==|!=|<|>)\s*([-+0-9.eE]+)\s*$")
_NOTE_CONDITION = re.compile(r"^\s*note\s*(<=|>=|==|!=|<|>)\s*(\S*)\s*$")
_RANK = re.compile(r"^\s*(quietest|loudest)\s*:\s*(\d+)\s*$")
_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
EXAMPLES = "0,3,7-12, gain_db<-30, note==C5, notes, unpitched, quietest:8 or all; join with &"


class EditError(UsageError):
    """An edit that cannot be applied as written (a usage error)."""


def select(stored: StoredSplat, spec: str) -> np.ndarray:
    """(E,) bool mask of the events a spec names: "all"; indices and ranges "0,3,7-12";
    a condition on a field of the event table, "gain_db<-30"; "quietest:K" / "loudest:K"
    (by gain); "notes" (the events that are notes, `notes.note_mask`) or "unpitched" (the
    others); a condition on a note's nearest MIDI pitch, "note==C5" or "note>=F#3", which
    only notes meet. Parts joined with "&" must all hold: "note==C5&onset_s>1.2"."""
    table = _Table(stored)
    mask = np.ones(stored.n_events, dtype=bool)
    for part in parse_selection(spec):
        mask &= part(table)
    return mask


def check_selection(spec: str) -> None:
    """Refuse, before any file is read, a spec that cannot be read (an unknown field or note
    name, a malformed part). Raises EditError; indices beyond a file's events are found by
    `select`."""
    parse_selection(spec)


class _Table:
    """A file's events, with their table and which rows are notes made once and only if asked."""

    def __init__(self, stored: StoredSplat):
        self.stored, self._rows, self._pitches = stored, None, None

    @property
    def rows(self) -> list[dict]:
        if self._rows is None:
            self._rows = event_rows(self.stored)
        return self._rows

    @property
    def pitches(self) -> list[int | None]:
        """Each event's nearest MIDI pitch if it is a note, else None (`notes.note_pitches`)."""
        if self._pitches is None:
            self._pitches = note_pitches(self.rows, self.stored.onsets_s)
        return self._pitches

    @property
    def notes(self) -> np.ndarray:
        return np.array([pitch is not None for pitch in self.pitches], dtype=bool)


def parse_selection(spec: str) -> list:
    """Each "&"-joined part of `spec` as a function of a file's `_Table` to its (E,) mask."""
    parts = spec.split("&")
    if any(not part.strip() for part in parts):
        raise EditError(f"cannot read the event selection '{spec}': a part is empty (use e.g. {EXAMPLES})")
    return [_part(part.strip()) for part in parts]


def _part(spec: str):
    if spec == "all":
        return lambda t: np.ones(t.stored.n_events, dtype=bool)
    if spec == "notes":
        return lambda t: t.notes
    if spec == "unpitched":
        return lambda t: ~t.notes
    rank = _RANK.match(spec)
    if rank:
        return lambda t: _ranked(t.stored, spec, rank.group(1), int(rank.group(2)))
    note = _NOTE_CONDITION.match(spec)
    if note:
        compare, name = _COMPARE[note.group(1)], note.group(2)
        try:
            midi = parse_note_name(name)
        except ValueError as exc:
            raise EditError(f"unknown note in '{spec}': {exc}") from None
        return lambda t: np.array([pitch is not None and compare(pitch, midi) for pitch in t.pitches], dtype=bool)
    condition = _CONDITION.match(spec)
    if condition:
        field, compare, value = condition.group(1), _COMPARE[condition.group(2)], condition.group(3)
        if field not in CONDITION_FIELDS:
            raise EditError(f"unknown field '{field}' in '{spec}' (fields: {', '.join(CONDITION_FIELDS)}; and note, e.g. note==C5)")
        try:
            threshold = float(value)
        except ValueError:
            raise EditError(f"cannot read the number '{value}' in '{spec}'") from None
        return lambda t: np.array([row[field] is not None and compare(row[field], threshold) for row in t.rows], dtype=bool)
    ranges = []
    for part in spec.split(","):
        match = _RANGE.fullmatch(part)
        if not match:
            raise EditError(f"cannot read the event selection '{spec}' (use e.g. {EXAMPLES})")
        ranges.append((part.strip(), int(match.group(1)), int(match.group(2) or match.group(1))))
    return lambda t: _indices(ranges, t.stored.n_events)


def _ranked(stored: StoredSplat, spec: str, which: str, count: int) -> np.ndarray:
    n = stored.n_events
    if count > n:
        raise EditError(f"'{spec}' asks for {count} events; the file has {n}")
    gain = stored.controls["gain"]
    order = np.argsort(-gain if which == "loudest" else gain, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:count]] = True
    return mask


def _indices(ranges: list[tuple[str, int, int]], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for text, first, last in ranges:
        if last < first or last >= n:
            raise EditError(f"event selection '{text}' is outside the file's events 0-{n - 1}")
        mask[first : last + 1] = True
    return mask
