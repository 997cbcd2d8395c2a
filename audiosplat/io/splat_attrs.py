"""Attributes of a .splat as plain values of their documented types (formats/splat-v1.md
§§4, 6, 10–12), with no torch.

HDF5 lets an attribute hold anything: a complex number, an object reference, a 2-D array.
A known attribute of the wrong type is refused with one sentence that names it, so that no
later reader (a summary, a resumed fit) meets a complex loss or an infinite step count. An
unknown attribute is kept only when it is plain data (text, a finite number, a boolean, or a
one-dimensional list of those); anything else is left out, as unknown items are ignored.
"""

from __future__ import annotations

import json
import math

import h5py
import numpy as np

# The kinds of the known attributes: what `typed` turns each into.
COUNT = "a non-negative integer"
INTEGER = "an integer"
NUMBER = "a finite real number"
MEASURE = "a real number"  # a measured loss: NaN or infinite when the fit diverged
FLAG = "a boolean"
TEXT = "a string"
MEASURES = "a list of real numbers"
TEXTS = "a list of strings"
RECORDS = "a JSON list of objects"
MAPPING = "a JSON object"

# What audiosplat's fits write (app.api: _fit_attributes, fit_long_input), §11.
FIT_ATTRIBUTES = {
    "steps": COUNT, "lr": NUMBER, "beta1": NUMBER, "beta2": NUMBER, "seed": INTEGER, "loss": TEXT,
    "grad_clip": NUMBER, "final_loss": MEASURE, "relative_spectral_l1": MEASURE, "skipped_steps": COUNT,
    "partial": FLAG, "seconds": NUMBER, "seconds_budget": NUMBER, "device": TEXT, "windows": COUNT,
    "converge": NUMBER, "converge_every": COUNT, "converge_from": COUNT, "converged": FLAG,
    "coarse_samples": COUNT, "fine_steps": COUNT, "coarse_steps": COUNT,
    "window_first_loss": MEASURES, "window_final_loss": MEASURES, "window_relative_spectral_l1": MEASURES,
}
# §12: what a fit records, plus the history of perturb and edit and a MusicNet segment's origin.
PROVENANCE_ATTRIBUTES = {
    "source_name": TEXT, "source_sha256": TEXT, "source_sample_rate": COUNT, "source_frames": COUNT,
    "source_channels": COUNT, "offset_s": NUMBER, "source_peak": NUMBER, "argv": TEXTS, "versions": MAPPING,
    "device": TEXT, "seed": INTEGER, "created": TEXT, "history": RECORDS, "musicnet": MAPPING,
}
MISSING = object()


def read_attributes(obj: h5py.Group, schema: dict[str, str], fail) -> dict:
    """Every attribute of `obj` as a plain value: known ones (`schema`) of their kind or a
    refusal, unknown ones when plain (strings that start with [ or { decoded as JSON)."""
    values = {}
    for key in obj.attrs:
        kind = schema.get(key)
        if kind is not None:
            values[key] = typed(attribute(obj, key, fail), kind, _where(obj, key), fail)
            continue
        try:
            value = _unknown(obj.attrs[key])
        except Exception:  # noqa: BLE001 - an unknown attribute HDF5 cannot read is ignored like any other
            continue
        if value is not MISSING:
            values[key] = value
    return values


def attribute(obj: h5py.Group, key: str, fail, default=None):
    """The attribute `key` of `obj` as h5py reads it, `default` when absent."""
    try:
        return obj.attrs[key] if key in obj.attrs else default
    except Exception as exc:  # noqa: BLE001 - HDF5 raises several kinds for types it cannot convert
        raise fail(f"attribute {_where(obj, key)} cannot be read ({type(exc).__name__})") from None


def typed(value, kind: str, where: str, fail):
    """`value` as the plain Python value of `kind`, or a refusal naming `where`."""
    converted = _convert(value, kind)
    if converted is MISSING:
        raise fail(f"attribute {where} must be {kind}, not {describe(value)}")
    return converted


def text(value) -> str:
    """A string attribute as str: bytes, and strings h5py could not decode, read as UTF-8
    with U+FFFD for what is not (printing or writing them again cannot then fail)."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return value.decode("utf-8", "replace")


def describe(value) -> str:
    """A few words on what an attribute holds, for a refusal."""
    if isinstance(value, h5py.h5r.Reference):
        return "an HDF5 object or region reference"
    if isinstance(value, h5py.Empty):
        return "an empty attribute"
    if isinstance(value, (str, bytes)):
        return "a string"
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D array of {_elements(value.dtype)}"
    if isinstance(value, np.generic) and value.dtype.kind == "V":
        return "a compound or opaque value"
    if isinstance(value, np.generic):
        return f"{value.dtype} ({value.item()!r})"
    return type(value).__name__


def _elements(dtype: np.dtype) -> str:
    if h5py.check_string_dtype(dtype) is not None:
        return "strings"
    if h5py.check_ref_dtype(dtype) is not None:
        return "references"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "variable-length sequences"
    return "compound or opaque values" if dtype.kind == "V" else str(dtype)


def _where(obj: h5py.Group, key: str) -> str:
    return f"{obj.name}@{key}"


def _convert(value, kind: str):
    if kind in (COUNT, INTEGER):
        if not _is_integer(value) or (kind is COUNT and int(value) < 0):
            return MISSING
        return int(value)
    if kind in (NUMBER, MEASURE):
        real = _real(value)
        return MISSING if real is MISSING or (kind is NUMBER and not math.isfinite(real)) else real
    if kind is FLAG:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        return bool(value) if _is_integer(value) and int(value) in (0, 1) else MISSING  # §2: 0/1 integers
    if kind is TEXT:
        return text(value) if isinstance(value, (str, bytes)) else MISSING
    items = _listed(value)
    if kind is MEASURES:
        reals = [] if items is MISSING else [_real(v) for v in items]
        return MISSING if items is MISSING or MISSING in reals else reals
    if kind is TEXTS:
        return [text(v) for v in items] if items is not MISSING and all(isinstance(v, (str, bytes)) for v in items) else MISSING
    decoded = _json(value)
    if kind is RECORDS:
        ok = isinstance(decoded, list) and all(isinstance(v, dict) for v in decoded)
    else:
        ok = isinstance(decoded, dict)
    return decoded if ok and _finite(decoded) else MISSING


def _is_integer(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _listed(value):
    """A one-dimensional list attribute's elements: a 1-D array, or JSON text of a list."""
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iufSO":
        return list(value)
    decoded = _json(value)
    return decoded if isinstance(decoded, list) else MISSING


def _json(value):
    """JSON text (a string starting with [ or {) decoded, else MISSING."""
    if not isinstance(value, (str, bytes)):
        return MISSING
    value = text(value)
    if value[:1] not in ("[", "{"):
        return MISSING
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return MISSING


def _finite(value) -> bool:
    """Decoded JSON holds no NaN or infinite number ('NaN', '1e999'); a walk, not a recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _unknown(value):
    """An unknown attribute as plain data, or MISSING when it is not plain."""
    if isinstance(value, (str, bytes)):
        decoded = _json(value)
        return decoded if decoded is not MISSING and _finite(decoded) else text(value)
    if isinstance(value, np.ndarray):
        items = [_scalar(v) for v in value] if value.ndim == 1 and value.dtype.kind in "biufSO" else [MISSING]
        return MISSING if any(v is MISSING for v in items) else items
    return _scalar(value)


def _scalar(value):
    """Text, a boolean, an integer or a finite float as itself; MISSING for anything else."""
    if isinstance(value, (str, bytes)):
        return text(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if _is_integer(value):
        return int(value)
    real = _real(value)
    return real if real is not MISSING and math.isfinite(real) else MISSING


def _real(value):
    """An integer or float as a Python float (inf past float's range), else MISSING."""
    if not _is_real(value):
        return MISSING
    try:
        return float(value)
    except OverflowError:  # an integer of JSON text beyond float's range
        return math.inf if value > 0 else -math.inf
