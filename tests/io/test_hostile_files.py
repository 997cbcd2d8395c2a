"""Hostile .splat files: small files that ask for huge allocations, and attributes of the
wrong type. The reader refuses each with one sentence naming the file, from shapes and
types alone, before it reads (or a later reader trips over) anything."""

from __future__ import annotations

import json
import math
import shutil
import tracemalloc

import h5py
import numpy as np
import pytest

from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import SplatFormatError
from audiosplat.io.splat_attrs import COUNT, FIT_ATTRIBUTES, FLAG, INTEGER, MAPPING, MEASURE, MEASURES, NUMBER, PROVENANCE_ATTRIBUTES, RECORDS, TEXT, TEXTS
from audiosplat.io.splat_format import (
    MAX_EVENT_ROWS,
    MAX_RENDER_SAMPLES,
    MAX_TOTAL_SAMPLES,
    allowed_values,
    file_values,
    read_stored,
    render_samples,
)
from audiosplat.io.splatfile import splat_from_stored
from audiosplat.ops.summary import summarise
from tests.cli_runner import assert_one_line_error, run_cli
from tests.shared import GOLDEN, GOLDEN_DIRECT, GOLDEN_EXACT


def _hostile(tmp_path, mutate, base=GOLDEN_DIRECT, name="hostile.splat"):
    path = tmp_path / name
    shutil.copy(base, path)
    with h5py.File(path, "a") as f:
        mutate(f)
    return path


def _refusal(path) -> str:
    with pytest.raises(SplatFormatError) as info:
        read_stored(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    assert "damaged or truncated" not in message, message  # understood, not HDF5 failing
    return message


# ---------------------------------------------------------------- the whole-file budget


def _product_bomb(f):
    """2^20 events of 4096 resonance weights (16 GiB), chunked and compressed: nothing written."""
    f["config"].attrs.update({"n_pitches": 1024, "total_samples": 2**20})
    for name in ("onset_samples", "resonance"):
        del f[f"events/{name}"]
    f["events"].create_dataset("onset_samples", shape=(MAX_EVENT_ROWS,), dtype=np.int64, chunks=(2**16,), compression="gzip")
    f["events"].create_dataset("resonance", shape=(MAX_EVENT_ROWS, 4096), dtype=np.float32, chunks=(256, 4096), compression="gzip")


def _history_bomb(f):
    del f["fit/loss_history"]
    f["fit"].create_dataset("loss_history", shape=(10**8,), dtype=np.float64, chunks=(2**20,), compression="gzip")


def _names_bomb(f):
    del f["rooms/names"]
    f["rooms"].create_dataset("names", shape=(8,), dtype="S16777216", chunks=(1,), compression="gzip")


def _one_wide_window(f):
    """4096 events over 2^22 samples: each bound holds, but stems are 2^34 samples."""
    f["config"].attrs.update({"n_events": 4096, "n_samples": 2**22, "event_samples": 2**22})


def _long_wide_windows(f):
    """13.5 hours in windows of 2^22 samples with a 512-row wavetable of 2^22 samples."""
    f["config"].attrs.update({"n_samples": 2**22, "event_samples": 2**22, "n_pitches": 128, "total_samples": 2**30})


BOMBS = {
    "product of rows and resonance width": (_product_bomb, "asks for 4435484678 4-byte values"),
    "a 10^8-step loss history": (_history_bomb, "asks for 200008492 4-byte values"),
    "room names of 16 MiB each": (_names_bomb, "/rooms/names holds 8 strings of 16777216 bytes"),
    "4096 events over 2^22 samples": (_one_wide_window, "a render of it would hold 17251172352 samples"),
    "long file of wide windows": (_long_wide_windows, "a render of it would hold 3246391296 samples"),
    "total_samples of 27 hours": (lambda f: f["config"].attrs.__setitem__("total_samples", 2**31), "total_samples = 2147483648 is larger"),
}


@pytest.mark.parametrize("case", BOMBS)
def test_small_files_that_ask_for_too_much_are_refused_from_shapes(tmp_path, case):
    mutate, fragment = BOMBS[case]
    path = _hostile(tmp_path, mutate)
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        message = _refusal(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fragment in message and "this reader accepts" in message
    assert peak < 2**25, peak  # refused before any of it was read


def test_the_largest_default_long_fits_are_admitted():
    """2^20 events, the most a file holds, of a default fit (64 per 2^16-sample window) over
    2^30 samples: its values fit the file audiosplat writes (uncompressed, 4 bytes or more a
    unit) and its render the budget, with grid or exact pitches."""
    for pitches in ("grid", "exact"):
        config = ModelConfig(total_samples=MAX_TOTAL_SAMPLES, pitches=pitches)
        rows = config.n_windows * config.n_events
        assert rows == MAX_EVENT_ROWS
        values = file_values(config, rows, 8, moments=False, history=config.n_windows * 3000)
        stored_bytes = 4 * (values - 8 * config.n_samples)  # the procedural rooms are not stored
        assert values <= allowed_values(stored_bytes)
        assert render_samples(config, rows) <= MAX_RENDER_SAMPLES


@pytest.mark.parametrize("golden", [GOLDEN, GOLDEN_DIRECT, GOLDEN_EXACT])
def test_legitimate_files_are_within_budget(golden):
    assert read_stored(golden).n_events == 2


# ---------------------------------------------------------------- attribute types


# Values of the wrong type for some attribute or other, by name (made in the file they go in).
VALUES = {
    "complex": lambda f: np.complex128(1 + 2j),
    "inf": lambda f: np.inf,
    "-inf": lambda f: -np.inf,
    "nan": lambda f: np.nan,
    "negative": lambda f: -1,
    "negative float": lambda f: -0.5,
    "huge int as text": lambda f: str(10**30),
    "huge unsigned": lambda f: np.uint64(2**64 - 1),
    "int for a list": lambda f: 7,
    "object reference": lambda f: f.ref,
    "region reference": lambda f: f["events/gain"].regionref[0:1],
    "2-D array": lambda f: np.zeros((2, 2)),
    "1-D array": lambda f: np.array([1.0, 2.0]),
    "bool": lambda f: True,
    "bytes not UTF-8": lambda f: np.bytes_(b"\xff\xfe"),
    "broken JSON": lambda f: "[1, 2",
    "JSON list of ints": lambda f: "[1, 2]",
    "JSON with NaN": lambda f: '{"a": NaN}',
    "JSON too deep": lambda f: "[" * 5000 + "]" * 5000,
    "JSON huge int": lambda f: "[" + "9" * 400 + "]",
    "compound": lambda f: np.array((1, 2.0), dtype=[("a", "i4"), ("b", "f8")])[()],
    "empty": lambda f: h5py.Empty("f4"),
    "array of references": lambda f: np.array([f.ref], dtype=h5py.ref_dtype),
    "array of strings": lambda f: np.array(["a", "b"], dtype=h5py.string_dtype()),
}
# Wrong for every attribute the reader knows: the refusal must name the attribute.
WRONG_FOR_ALL = {"complex", "object reference", "region reference", "2-D array", "compound", "empty", "array of references"}

KIND_CHECKS = {
    COUNT: lambda v: type(v) is int and v >= 0,
    INTEGER: lambda v: type(v) is int,
    NUMBER: lambda v: type(v) is float and math.isfinite(v),
    MEASURE: lambda v: type(v) is float,
    FLAG: lambda v: type(v) is bool,
    TEXT: lambda v: type(v) is str and v.encode("utf-8") is not None,  # printable: no lone surrogates
    MEASURES: lambda v: type(v) is list and all(type(x) is float for x in v),
    TEXTS: lambda v: type(v) is list and all(type(x) is str for x in v),
    RECORDS: lambda v: type(v) is list and all(type(x) is dict for x in v),
    MAPPING: lambda v: type(v) is dict,
}
GROUP_ATTRIBUTES = [("fit", key) for key in FIT_ATTRIBUTES] + [("provenance", key) for key in PROVENANCE_ATTRIBUTES]
OTHER_ATTRIBUTES = (
    [("config", key) for key in ("sample_rate", "n_samples", "n_events", "latent_dim", "frame_size", "n_pitches")]
    + [("config", key) for key in ("event_samples", "total_samples", "model", "waves", "pitch_bump", "pitches")]
    + [("", "format_version"), ("", "latents_match_controls"), ("optimizer", "step"), ("rooms", "bank"), ("rooms", "sha256")]
)


def _set(f, group: str, key: str, value_name: str) -> None:
    attrs = (f[group] if group else f).attrs
    if value_name == "bytes not UTF-8 (variable length)":
        attrs.create(key, data=b"\xff\xfeab", dtype=h5py.string_dtype())
    else:
        attrs[key] = VALUES[value_name](f)


def _squashed(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


@pytest.mark.parametrize("group, key", GROUP_ATTRIBUTES + OTHER_ATTRIBUTES)
def test_attributes_of_the_wrong_type_are_refused_or_read_as_documented(tmp_path, group, key):
    """Every wrong value: one sentence naming the file (and the attribute, for a value no
    attribute may hold), or a read whose value has the attribute's documented type and
    that a summary and the tensors take."""
    schema = FIT_ATTRIBUTES if group == "fit" else PROVENANCE_ATTRIBUTES
    for value_name in [*VALUES, "bytes not UTF-8 (variable length)"]:
        path = _hostile(tmp_path, lambda f, v=value_name: _set(f, group, key, v), name=f"{key}.splat")
        try:
            stored = read_stored(path)
        except SplatFormatError:
            message = _refusal(path)
            if value_name in WRONG_FOR_ALL:
                assert _squashed(key) in _squashed(message), (value_name, message)
            continue
        assert value_name not in WRONG_FOR_ALL, (key, value_name)
        if group in ("fit", "provenance"):
            value = getattr(stored, group)[key]
            assert KIND_CHECKS[schema[key]](value), (key, value_name, value)
        json.dumps(summarise(stored, path))
        splat_from_stored(stored)


@pytest.mark.parametrize("group", ["fit", "provenance"])
def test_unknown_attributes_are_kept_only_when_plain(tmp_path, group):
    kept = {}
    for value_name in VALUES:
        path = _hostile(tmp_path, lambda f, v=value_name: f[group].attrs.__setitem__("future_extra", VALUES[v](f)))
        stored = getattr(read_stored(path), group)
        if "future_extra" in stored:
            kept[value_name] = stored["future_extra"]
            json.dumps(kept[value_name], allow_nan=False)  # plain data, every number finite
    assert set(kept) == {
        "negative", "negative float", "huge int as text", "huge unsigned", "int for a list", "1-D array", "bool",
        "bytes not UTF-8", "broken JSON", "JSON list of ints", "JSON with NaN", "JSON too deep", "JSON huge int", "array of strings",
    }
    assert kept["JSON list of ints"] == [1, 2] and kept["JSON with NaN"] == '{"a": NaN}' and kept["bytes not UTF-8"] == "\ufffd\ufffd"


def test_a_known_string_is_never_decoded_as_json(tmp_path):
    path = _hostile(tmp_path, lambda f: f["provenance"].attrs.__setitem__("source_name", "[1]"))
    assert read_stored(path).provenance["source_name"] == "[1]"


@pytest.mark.parametrize(
    "group, key, value, fragment",
    [
        ("fit", "final_loss", np.complex128(1 + 2j), "attribute /fit@final_loss must be a real number, not complex128 ((1+2j))"),
        ("fit", "steps", np.inf, "attribute /fit@steps must be a non-negative integer, not float64 (inf)"),
        ("provenance", "history", 3, "attribute /provenance@history must be a JSON list of objects, not int64 (3)"),
        ("config", "n_events", 3.5, "attribute /config@n_events must be an integer, not float64 (3.5)"),
        ("config", "n_events", True, "attribute /config@n_events must be an integer, not a boolean"),
        ("config", "n_events", "4", "attribute /config@n_events must be an integer, not a string"),
        ("", "latents_match_controls", "no", "attribute /@latents_match_controls must be a boolean, not a string"),
    ],
)
def test_wrong_types_are_named_in_one_sentence(tmp_path, group, key, value, fragment):
    path = _hostile(tmp_path, lambda f: (f[group] if group else f).attrs.__setitem__(key, value))
    assert _refusal(path) == f"{path}: {fragment}"


def test_a_valid_integer_flag_reads_as_a_boolean(tmp_path):
    path = _hostile(tmp_path, lambda f: f.attrs.__setitem__("latents_match_controls", 0))
    assert read_stored(path).latents_match_controls is False


# ---------------------------------------------------------------- through the CLI


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (_product_bomb, "this reader accepts at most"),
        (lambda f: f["fit"].attrs.__setitem__("final_loss", np.complex128(1 + 2j)), "/fit@final_loss"),
        (lambda f: f["provenance"].attrs.__setitem__("history", f.ref), "/provenance@history"),
    ],
)
def test_inspect_reports_a_hostile_file_in_one_line(tmp_path, mutate, fragment):
    bad = _hostile(tmp_path, mutate, name="bad.splat")
    for args in (["--check"], []):
        result = run_cli("inspect", *args, bad)
        assert_one_line_error(result, "audiosplat: error:", bad, fragment)
    assert run_cli("inspect", "--check", GOLDEN_DIRECT).exit_code == 0
