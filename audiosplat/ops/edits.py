"""Edits of fitted events: pure functions from a `Splat` and a selection of its events to a
new `Splat`. They act on the decoded controls, so the result records that its latents no
longer describe its events (`latents_match_controls` = False).

Dropped events are muted (gain 0) rather than removed, so a file keeps its E events, its
event tree and its parameters; their stems are silent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from audiosplat.core.config import HIGHEST_MIDI, LOWEST_MIDI
from audiosplat.core.errors import AudiosplatError
from audiosplat.core.fields import COLOUR_LIMIT_DB
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.io.splatfile import Splat
from audiosplat.ops.merge import merge
from audiosplat.ops.selection import EditError, check_selection, select  # noqa: F401 - EditError: what edits raise


def _selected(splat: Splat, spec: str) -> torch.Tensor:
    """(E,) bool tensor of the events `spec` names (`selection.select`)."""
    return torch.from_numpy(select(splat.to_stored(), spec))


def _edited(splat: Splat, **changes: torch.Tensor) -> Splat:
    return dataclasses.replace(splat, controls=splat.controls.replace(**changes), latents_match_controls=False)


def _where(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (old.dim() - 1))), new, old)


def mute(splat: Splat, mask: torch.Tensor) -> Splat:
    """Silence the selected events (gain 0)."""
    c = splat.controls
    return _edited(splat, gain=_where(mask, torch.zeros_like(c.gain), c.gain))


def change_gain(splat: Splat, mask: torch.Tensor, db: float) -> Splat:
    """Scale the selected events' amplitude by `db` decibels."""
    c = splat.controls
    return _edited(splat, gain=_where(mask, c.gain * 10.0 ** (db / 20.0), c.gain))


def _move_onsets(splat: Splat, mask: torch.Tensor, onsets: torch.Tensor) -> Splat:
    """Set the selected events' onsets (samples); events moved outside the clip (the whole
    length of a long file) are muted."""
    c, cfg = splat.controls, splat.config
    onsets = _where(mask, onsets, c.onset_samples)
    outside = (onsets < 0) | (onsets >= cfg.total_length)
    bits = samples_to_bits(onsets.clamp(0, cfg.total_length - 1), cfg.n_onset_bits)
    gain = torch.where(outside, torch.zeros_like(c.gain), c.gain)
    return _edited(splat, onset_bits=bits, gain=gain)


def shift(splat: Splat, mask: torch.Tensor, seconds: float) -> Splat:
    """Move the selected events' onsets by `seconds` (rounded to a sample)."""
    delta = round(seconds * splat.config.sample_rate)
    return _move_onsets(splat, mask, splat.controls.onset_samples + delta)


def stretch(splat: Splat, mask: torch.Tensor, factor: float) -> Splat:
    """Multiply the selected events' onset times by `factor` (> 0), from the clip's start."""
    if not factor > 0:
        raise EditError(f"stretch factor must be > 0, got {factor}")
    onsets = (splat.controls.onset_samples.to(torch.float64) * factor).round().long()
    return _move_onsets(splat, mask, onsets)


def transpose(splat: Splat, mask: torch.Tensor, semitones: float) -> Splat:
    """Move the selected events' resonance weights along the wavetable's pitch axis by
    `semitones`, interpolating linearly between neighbouring pitches; weight moved past the
    table's ends is lost. Each shape (saw, square, triangle, sine) moves on its own.
    Events with exact pitches are moved exactly: pitch_hz times 2^(semitones / 12)."""
    c, pitches = splat.controls, splat.config.n_pitches
    if c.pitch_hz is not None:
        moved_hz = c.pitch_hz * 2.0 ** (semitones / 12.0)
        nyquist_hz = splat.config.sample_rate / 2.0
        if bool((mask & (moved_hz >= nyquist_hz)).any()):
            raise EditError(f"transposing by {semitones:g} semitones puts an event's pitch at or above Nyquist ({nyquist_hz:g} Hz)")
        return _edited(splat, pitch_hz=_where(mask, moved_hz, c.pitch_hz))
    step = (HIGHEST_MIDI - LOWEST_MIDI) / (pitches - 1)  # semitones per wavetable row
    offset = semitones / step
    whole, frac = math.floor(offset), offset - math.floor(offset)
    blocks = c.resonance.view(-1, 4, pitches)
    moved = (1.0 - frac) * _roll_out(blocks, whole) + frac * _roll_out(blocks, whole + 1)
    return _edited(splat, resonance=_where(mask, moved.reshape(c.resonance.shape), c.resonance))


def _roll_out(x: torch.Tensor, k: int) -> torch.Tensor:
    """x shifted by k along the last axis, zeros entering, values leaving lost."""
    out = torch.zeros_like(x)
    n = x.shape[-1]
    if k >= 0 and k < n:
        out[..., k:] = x[..., : n - k]
    elif k < 0 and -k < n:
        out[..., : n + k] = x[..., -k:]
    return out


def scale_decay(splat: Splat, mask: torch.Tensor, factor: float) -> Splat:
    """Make the selected events' resonances ring `factor` times as long: r -> r^(1/factor)."""
    if not factor > 0:
        raise EditError(f"decay factor must be > 0, got {factor}")
    c = splat.controls
    return _edited(splat, decay_per_frame=_where(mask, c.decay_per_frame ** (1.0 / factor), c.decay_per_frame))


def set_room(splat: Splat, mask: torch.Tensor, room: str) -> Splat:
    """Put the selected events wholly in one room, by name or index."""
    names = splat.rooms.room_names
    index = names.index(room) if room in names else int(room) if room.isdigit() else -1
    if not 0 <= index < len(names):
        raise EditError(f"unknown room '{room}' (rooms: {', '.join(names)})")
    c = splat.controls
    one_hot = torch.nn.functional.one_hot(torch.tensor(index), len(names)).to(c.room_weights.dtype)
    return _edited(splat, room_weights=_where(mask, one_hot.expand_as(c.room_weights), c.room_weights))


def set_wet(splat: Splat, mask: torch.Tensor, wet: float) -> Splat:
    """Set the selected events' reverberant share (0 dry … 1 wet)."""
    if not 0.0 <= wet <= 1.0:
        raise EditError(f"wet share must lie in [0, 1], got {wet}")
    c = splat.controls
    mix = torch.tensor([1.0 - wet, wet], dtype=c.reverb_mix.dtype).expand_as(c.reverb_mix)
    return _edited(splat, reverb_mix=_where(mask, mix, c.reverb_mix))


def change_noise_gain(splat: Splat, mask: torch.Tensor, db: float | None) -> Splat:
    """Make the noise bed `db` dB louder, or silent for None ("off"). The bed is not an
    event: the selection does not apply to it."""
    if splat.noise_bed is None:
        raise AudiosplatError("--noise-gain: this file has no noise bed (fitted before format 1.6.0, or a long fit)")
    return dataclasses.replace(splat, noise_bed=splat.noise_bed.muted() if db is None else splat.noise_bed.louder(db))


def change_colour(splat: Splat, mask: torch.Tensor, db: float | None) -> Splat:
    """Lift every band of the file's colour (`synth.colour`) by `db` dB, within the
    ±COLOUR_LIMIT_DB a file holds (its track, the course over time, stays as it is); None
    ("off") takes the colour and its track out, so the events and bed sound as they were
    fitted. Like the bed, the colour is not an event."""
    if splat.colour_db is None:
        raise AudiosplatError("--colour: this file has no colour (fitted before format 1.11.0, without a noise bed, or a long fit)")
    colour = None if db is None else (splat.colour_db + db).clamp(-COLOUR_LIMIT_DB, COLOUR_LIMIT_DB)
    return dataclasses.replace(splat, colour_db=colour, colour_track_db=None if db is None else splat.colour_track_db)


def _number(name: str, value: str, bounds: tuple[float, float]) -> float:
    """`value` as a number from bounds[0] to bounds[1]."""
    try:
        number = float(value)
    except ValueError:
        raise EditError(f"--{name} needs a number, got '{value}'") from None
    low, high = bounds
    if not low <= number <= high:
        raise EditError(f"--{name} must lie between {low:g} and {high:g}, got {value}")
    return number


def _bounded(name: str, low: float, high: float) -> Callable[[str], float]:
    """A parser of edit `name`'s number, refusing one outside [low, high]."""
    return lambda value: _number(name, value, (low, high))


def _db_or_off(name: str, low: float, high: float) -> Callable[[str], float | None]:
    """A parser of `--NAME DB|off`: the dB within [low, high], or None for off."""
    return lambda value: None if value == "off" else _number(name, value, (low, high))


# name -> (function, parser of its value). The bounds keep every edit's arithmetic finite:
# beyond them an edit could only overflow or move everything out of the clip.
OPERATIONS: dict[str, tuple[Callable, Callable[[str], object]]] = {
    "shift": (shift, _bounded("shift", -1e5, 1e5)),
    "stretch": (stretch, _bounded("stretch", 1e-6, 1e6)),
    "gain": (change_gain, _bounded("gain", -200.0, 200.0)),
    "transpose": (transpose, _bounded("transpose", -128.0, 128.0)),
    "decay": (scale_decay, _bounded("decay", 1e-3, 1e3)),
    "room": (set_room, str),
    "wet": (set_wet, _bounded("wet", 0.0, 1.0)),
    "noise-gain": (change_noise_gain, _db_or_off("noise-gain", -200.0, 200.0)),
    "colour": (change_colour, _db_or_off("colour", -2 * COLOUR_LIMIT_DB, 2 * COLOUR_LIMIT_DB)),
}
SELECTIONS = ("select", "keep", "drop")
at_seconds = _bounded("at", 0.0, 1e5)


def check_operations(operations: list[tuple[str, str]]) -> None:
    """Refuse, before any file is read, an edit that is unknown, out of order or whose value
    cannot be read or lies outside its bounds, and a selection that cannot be read. Raises
    EditError (a usage error)."""
    for k, (name, value) in enumerate(operations):
        if name == "at":
            if k == 0 or operations[k - 1][0] != "merge":
                raise EditError("--at SECONDS goes right after --merge OTHER.splat")
            at_seconds(value)
        elif name in OPERATIONS:
            OPERATIONS[name][1](value)
        elif name in SELECTIONS:
            check_selection(value)
        elif name != "merge":
            raise EditError(f"unknown edit --{name} (edits: {', '.join((*SELECTIONS, *OPERATIONS, 'merge'))})")


def apply_edits(splat: Splat, operations: list[tuple[str, str]], others: dict[str, Splat] | None = None) -> Splat:
    """Apply (name, value) operations in order. "select SPEC" chooses the events the next
    operations act on (all at first); "keep SPEC" mutes every other event; "drop SPEC"
    mutes the ones named. "merge PATH" (optionally followed by "at SECONDS", default 0) adds
    the events of `others[PATH]` (`merge.merge`) and selects all events again."""
    check_operations(operations)
    selection = torch.ones(splat.n_events, dtype=torch.bool)
    for k, (name, value) in enumerate(operations):
        if name == "merge":
            splat = merge(splat, (others or {})[value], _merge_offset_s(operations, k))
            selection = torch.ones(splat.n_events, dtype=torch.bool)
        elif name == "select":
            selection = _selected(splat, value)
        elif name == "keep":
            splat = mute(splat, ~_selected(splat, value))
        elif name == "drop":
            splat = mute(splat, _selected(splat, value))
        elif name in OPERATIONS:
            function, parse = OPERATIONS[name]
            splat = function(splat, selection, parse(value))
    return splat


def merged_paths(operations: list[tuple[str, str]]) -> list[str]:
    """The files named by "merge" operations, in order."""
    return [value for name, value in operations if name == "merge"]


def _merge_offset_s(operations: list[tuple[str, str]], k: int) -> float:
    """Seconds of the "at" right after the "merge" at index k; 0 without one."""
    if k + 1 < len(operations) and operations[k + 1][0] == "at":
        return at_seconds(operations[k + 1][1])
    return 0.0
