"""Which events of a .splat are notes, and the notes as plain rows: what `notes` exports,
`inspect` marks and `edit --select note==C5` picks. NumPy only.

An event belongs to a note when it is pitched (its resonance sounds), the resonance carries
most of it (`excitation_mix` resonance share at least `NOTE_MIN_RESONANCE_MIX`) and it is
heard: its energy (`/events/energy_db`) within `NOTE_RANGE_DB` of the most energetic
event's (in a file before 1.10.0, which stores no energies, its gain within `GAIN_RANGE_DB`
of the loudest gain). The other events are the unpitched part's: attacks, breath, texture.
A note is one or more such events (`note_leads`): a fit often carries one note with
several, the same pitch renewed while it sounds, or a weak partial of it placed on its own
(formats/splat-v1.md, section 9.2).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from audiosplat.ops.summary import event_rows

if TYPE_CHECKING:
    from audiosplat.io.splat_format import StoredSplat

NOTE_MIN_RESONANCE_MIX = 0.5
# An event's energy (/events/energy_db) weighs its gain by how long it sounds: a held note
# of modest gain outweighs a loud, short one. On the four clips with known notes, energy
# within 15 dB finds the notes better than gain within 20 dB (docs/benchmarks.md, "Notes").
NOTE_RANGE_DB = 15.0
GAIN_RANGE_DB = 20.0
# A note ends where its resonance has fallen 30 dB: half its 60 dB decay time.
OFFSET_FRACTION_OF_DECAY = 0.5
# An event of a note's pitch (within half a semitone) while the note sounds is more of that
# note, unless it strikes again: it starts RESTRIKE_DB louder than the note is by then, and
# not within REPEAT_S of the note's start (faster than any repeated note in the clips we
# fit). In a file that knows where its source's notes start (/fit/onsets_s), it must start
# within ONSET_S of such an onset instead of RESTRIKE_DB louder: louder than the note is
# by then is enough there, and elsewhere a fit renews a held note wherever its level swells.
SAME_PITCH_SEMITONES = 0.5
RESTRIKE_DB = 3.0
REPEAT_S = 0.16
ONSET_S = 0.05
# A note whose pitch is the k-th harmonic (k = 2 ... HARMONICS, within HARMONIC_CENTS) of a
# note that sounds when it starts, at least HARMONIC_DB below that note's level by then,
# is that note's partial. So is a short one (ended within ATTACK_S) whose pitch is that
# note's k-th undertone, struck with it (within TOGETHER_S): a fit lays short events an
# octave or more down on a note's attack; a long one is a note (a chord's lower voice).
HARMONICS = 8
HARMONIC_CENTS = 50.0
HARMONIC_DB = 10.0
# an event a little earlier than its fundamental's is still that note's partial
TOGETHER_S = 0.05
ATTACK_S = 0.16
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}
_NAME = re.compile(r"^\s*([A-Ga-g])([#b]?)(-?\d+)\s*$")


def note_mask(rows: list[dict]) -> np.ndarray:
    """(E,) bool: which of the event table's rows (`summary.event_rows`) are notes."""
    if not rows:
        return np.zeros(0, dtype=bool)
    by_energy = all(row["energy_db"] is not None for row in rows)
    key, window = ("energy_db", NOTE_RANGE_DB) if by_energy else ("gain_db", GAIN_RANGE_DB)
    loudest = max(row[key] for row in rows)
    return np.array(
        [row["pitch_hz"] is not None and row["resonance_mix"] >= NOTE_MIN_RESONANCE_MIX and row[key] >= loudest - window for row in rows],
        dtype=bool,
    )


def level_db(row: dict, time_s: float) -> float:
    """An event's resonance level (dB) at `time_s`: its gain, falling 60 dB per decay time
    from its onset."""
    return row["gain_db"] - 60.0 * max(0.0, time_s - row["onset_s"]) / max(row["decay_s"], 1e-6)


def power_sum_db(levels_db: list[float]) -> float:
    """Levels (dB) summed in power: what sounds when they sound together."""
    return 10.0 * math.log10(max(sum(10.0 ** (level / 10.0) for level in levels_db), 1e-30))


def sounding_db(rows: list[dict], events: list[int], time_s: float) -> float:
    """A note's level (dB) at `time_s`: its events' levels (`level_db`) summed in power,
    since the note sounds as the sum of its events."""
    return power_sum_db([level_db(rows[e], time_s) for e in events])


def offset_s(row: dict) -> float:
    """Where an event's note ends if nothing renews it (uncapped)."""
    return row["onset_s"] + OFFSET_FRACTION_OF_DECAY * row["decay_s"]


def note_leads(rows: list[dict], onsets_s: np.ndarray | None = None) -> np.ndarray:
    """(E,) int: for each row of the event table, the first event of the note it belongs
    to (its own index when it starts one), -1 for an event that is no note. In onset order,
    an event joins the note of its pitch that sounds (`offset_s`) at its onset unless it
    strikes again (`RESTRIKE_DB`, `REPEAT_S`; given the source's onsets `onsets_s` (K,) s,
    at one of them instead of `RESTRIKE_DB` louder); then a note that starts as a weak harmonic of a sounding note, or as a weak and
    short undertone of a note struck with it, joins that note (`HARMONICS`, `ATTACK_S`)."""
    leads = np.full(len(rows), -1, dtype=np.int64)
    members: dict[int, list[int]] = {}
    ends: dict[int, float] = {}  # each note's latest event end
    midi = {e: hz_to_midi(rows[e]["pitch_hz"]) for e in np.flatnonzero(note_mask(rows)).tolist()}
    sounding: list[int] = []  # notes not yet ended; one that ends can take no later event
    for e in sorted(midi, key=lambda e: (rows[e]["onset_s"], -rows[e]["gain_db"], e)):
        t = rows[e]["onset_s"]
        sounding = [lead for lead in sounding if ends[lead] > t]
        # how much louder than a note an event must start to strike it again
        margin = RESTRIKE_DB if onsets_s is None else (0.0 if _near(onsets_s, t) else math.inf)
        best, best_level = e, -math.inf
        for lead in sounding:
            if abs(midi[lead] - midi[e]) > SAME_PITCH_SEMITONES:
                continue
            level = sounding_db(rows, members[lead], t)
            again = rows[e]["gain_db"] > level + margin and t - rows[lead]["onset_s"] >= REPEAT_S
            if not again and level > best_level:
                best, best_level = lead, level
        if best == e:
            sounding.append(e)
        members.setdefault(best, []).append(e)
        ends[best] = max(ends.get(best, -math.inf), offset_s(rows[e]))
    for lead in sorted(members, key=lambda m: -midi[m]):  # highest first: a partial of a partial
        fundamental = _fundamental(rows, midi, members, ends, lead)
        if fundamental is not None:
            members[fundamental] += members.pop(lead)
            ends[fundamental] = max(ends[fundamental], ends.pop(lead))
    for lead, events in members.items():
        leads[events] = lead
    return leads


def _near(onsets_s: np.ndarray, time_s: float) -> bool:
    """Whether an onset of the source lies within ONSET_S of `time_s`."""
    return bool(onsets_s.size) and float(np.min(np.abs(onsets_s - time_s))) <= ONSET_S


def _fundamental(rows: list[dict], midi: dict[int, float], members: dict[int, list[int]], ends: dict[int, float], lead: int) -> int | None:
    """The note `lead`'s note is a weak harmonic or, struck with it, a weak and short
    undertone of, if any (`note_leads`)."""
    t, level = rows[lead]["onset_s"], max(rows[m]["gain_db"] for m in members[lead])
    for other, events in members.items():
        if other == lead or rows[other]["onset_s"] > t + TOGETHER_S or ends[other] <= t:
            continue
        if midi[lead] < midi[other] and (rows[other]["onset_s"] < t - TOGETHER_S or ends[lead] > t + ATTACK_S):
            continue  # an undertone must be struck with the note, and short
        if not is_harmonic(abs(midi[lead] - midi[other])):
            continue
        if level <= sounding_db(rows, events, t) - HARMONIC_DB:
            return other
    return None


def note_onsets(rows: list[dict], leads: np.ndarray, onsets_s: np.ndarray | None = None) -> dict[int, float]:
    """Each note's onset (s), by its first event (`leads`, from `note_leads`): that event's
    onset; but where it starts away from the source's onsets (`onsets_s` (K,) s; more than
    ONSET_S after the latest) on a harmonic of a note that sounds since that onset or
    before, the latest onset. Such a note sounded from there under the other's partials,
    which carried it until the fit gave it an event of its own (a chord's upper voices on
    its bass, an octave on the note below it)."""
    ends: dict[int, float] = {}  # each note's latest event end
    for e, lead in enumerate(leads.tolist()):
        if lead >= 0:
            ends[lead] = max(ends.get(lead, -math.inf), offset_s(rows[e]))
    return {lead: _hidden_onset_s(rows, ends, lead, onsets_s) for lead in ends}


def _hidden_onset_s(rows: list[dict], ends: dict[int, float], lead: int, onsets_s: np.ndarray | None) -> float:
    """The onset of `lead`'s note (`note_onsets`), given every note's end `ends`."""
    t = rows[lead]["onset_s"]
    if onsets_s is None or _near(onsets_s, t) or not (onsets_s < t).any():
        return t
    latest = float(onsets_s[onsets_s < t].max())
    midi = hz_to_midi(rows[lead]["pitch_hz"])
    for other, end in ends.items():
        if other == lead or rows[other]["onset_s"] > latest + ONSET_S or end <= t:
            continue
        if is_harmonic(midi - hz_to_midi(rows[other]["pitch_hz"])):
            return latest
    return t


def is_harmonic(semitones: float) -> bool:
    """Whether a pitch `semitones` above another is its k-th harmonic, k = 2 ... HARMONICS,
    within HARMONIC_CENTS."""
    ratio = 2.0 ** (semitones / 12.0)
    k = round(ratio)
    return 2 <= k <= HARMONICS and abs(1200.0 * math.log2(ratio / k)) <= HARMONIC_CENTS


def _note_midi(rows: list[dict], leads: np.ndarray) -> list[int | None]:
    """Per row: the nearest MIDI pitch of its note's first event (`leads`), None for no note."""
    return [None if lead < 0 else round(hz_to_midi(rows[lead]["pitch_hz"])) for lead in leads.tolist()]


def note_pitches(rows: list[dict], onsets_s: np.ndarray | None = None) -> list[int | None]:
    """Per row of the event table: the nearest MIDI pitch of the note it belongs to
    (`note_leads`), None for an event that is no note."""
    return _note_midi(rows, note_leads(rows, onsets_s))


def with_notes(summary: dict, onsets_s: np.ndarray | None = None) -> dict:
    """A file's summary (`summary.summarise`) with its notes marked: "notes", how many
    notes, "note_events", how many events they take, and "source_onsets", how many note
    onsets the file knows in its source (`onsets_s`, None when it knows none), after
    "events"; and each event row's "note" (its note's name) after its "pitch_hz"."""
    rows = summary["event_table"]
    leads = note_leads(rows, onsets_s)
    names = [None if midi is None else note_name(midi) for midi in _note_midi(rows, leads)]
    marked = [_after(row, "pitch_hz", "note", name) for row, name in zip(rows, names)]
    out: dict = {}
    for key, value in summary.items():
        out[key] = marked if key == "event_table" else value
        if key == "events":
            out["notes"] = len(set(leads[leads >= 0].tolist()))
            out["note_events"] = int((leads >= 0).sum())
            out["source_onsets"] = None if onsets_s is None else len(onsets_s)
    return out


def _after(row: dict, key: str, new_key: str, value) -> dict:
    """`row` with `new_key: value` inserted right after `key`."""
    out: dict = {}
    for k, v in row.items():
        out[k] = v
        if k == key:
            out[new_key] = value
    return out


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def note_name(midi: int) -> str:
    """MIDI number -> scientific pitch name, sharps: 60 -> "C4", 61 -> "C#4"."""
    return f"{PITCH_CLASSES[midi % 12]}{midi // 12 - 1}"


def parse_note_name(text: str) -> int:
    """Scientific pitch name ("C4", "F#3", "Bb5") -> MIDI number; ValueError if unreadable."""
    match = _NAME.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a note name (e.g. C4, F#3, Bb5)")
    letter, accidental, octave = match.group(1).upper(), match.group(2), int(match.group(3))
    name = _FLATS.get(letter + accidental, letter + accidental)
    if name not in PITCH_CLASSES:  # Cb, Fb, E#, B# are spelled by their neighbours
        base = PITCH_CLASSES.index(letter)
        return (octave + 1) * 12 + base + (1 if accidental == "#" else -1)
    return (octave + 1) * 12 + PITCH_CLASSES.index(name)


def velocity(gain_db: float, loudest_db: float) -> int:
    """MIDI velocity from an event's level below the loudest: amplitude ~ (v / 127)^2, so
    40 dB below the loudest is velocity 13; clamped to 1..127."""
    return int(min(127, max(1, round(127.0 * 10.0 ** ((gain_db - loudest_db) / 40.0)))))


def note_table(stored: StoredSplat) -> list[dict]:
    """One row per note (`note_leads`), in onset order: its first event and all its events,
    onset and offset (s: its first event's onset, its events' last `offset_s`), the nearest
    MIDI pitch of its first event and the cents from it, its name, its level (dB, its
    events' gains summed in power) and velocity (`velocity`)."""
    rows = event_rows(stored)
    leads = note_leads(rows, stored.onsets_s)
    if not (leads >= 0).any():
        return []
    loudest = max(row["gain_db"] for row in rows)
    duration = stored.config.duration_s
    notes = []
    grouped: dict[int, list[int]] = {}
    for e, lead in enumerate(leads.tolist()):
        if lead >= 0:
            grouped.setdefault(lead, []).append(e)
    onsets = note_onsets(rows, leads, stored.onsets_s)
    for lead, events in grouped.items():
        exact = hz_to_midi(rows[lead]["pitch_hz"])
        midi = int(round(exact))
        onset = onsets[lead]
        gain = power_sum_db([rows[e]["gain_db"] for e in events])
        notes.append({
            "event": lead,
            "events": events,
            "onset_s": onset,
            "offset_s": max(onset, min(duration, max(offset_s(rows[e]) for e in events))),
            "midi_pitch": midi,
            "cents": 100.0 * (exact - midi),
            "note": note_name(midi),
            "velocity": velocity(gain, loudest),
            "gain_db": gain,
        })
    return sorted(notes, key=lambda n: (n["onset_s"], n["midi_pitch"]))
