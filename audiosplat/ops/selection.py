"""Which events a selection names ("all", "0,3,7-12", "gain_db<-30", "quietest:8"): what
`edit --select/--keep/--drop` and `inspect --events` take. NumPy only."""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING

import numpy as np

from audiosplat.core.errors import UsageError
from audiosplat.ops.summary import event_rows

if TYPE_CHECKING:
    from audiosplat.io.splat_format import StoredSplat

CONDITION_FIELDS = ("onset_s", "gain_db", "pitch_hz", "decay_s", "noise_centre_hz", "noise_width_hz", "reverb_wet", "resonance_mix")
_COMPARE = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|==|!=|<|>)\s*([-+0-9.eE]+)\s*$")
_RANK = re.compile(r"^\s*(quietest|loudest)\s*:\s*(\d+)\s*$")


class EditError(UsageError):
    """An edit that cannot be applied as written (a usage error)."""


def select(stored: StoredSplat, spec: str) -> np.ndarray:
    """(E,) bool mask of the events a spec names: "all"; indices and ranges "0,3,7-12";
    a condition on a field of the event table, "gain_db<-30"; or "quietest:K" / "loudest:K"
    (by gain)."""
    n = stored.n_events
    spec = spec.strip()
    if spec == "all":
        return np.ones(n, dtype=bool)
    rank = _RANK.match(spec)
    if rank:
        count = int(rank.group(2))
        if count > n:
            raise EditError(f"'{spec}' asks for {count} events; the file has {n}")
        gain = stored.controls["gain"]
        order = np.argsort(-gain if rank.group(1) == "loudest" else gain, kind="stable")
        mask = np.zeros(n, dtype=bool)
        mask[order[:count]] = True
        return mask
    condition = _CONDITION.match(spec)
    if condition:
        field, compare, value = condition.groups()
        if field not in CONDITION_FIELDS:
            raise EditError(f"unknown field '{field}' in '{spec}' (fields: {', '.join(CONDITION_FIELDS)})")
        threshold = float(value)
        rows = event_rows(stored)
        return np.array([row[field] is not None and _COMPARE[compare](row[field], threshold) for row in rows], dtype=bool)
    return _indices(spec, n)


def _indices(spec: str, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise EditError(f"cannot read the event selection '{spec}' (use e.g. 0,3,7-12, gain_db<-30, quietest:8 or all)")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first or last >= n:
            raise EditError(f"event selection '{part.strip()}' is outside the file's events 0-{n - 1}")
        mask[first : last + 1] = True
    return mask
