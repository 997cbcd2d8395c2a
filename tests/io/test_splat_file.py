"""The .splat v1 format: round trips, the golden file, and refusal of bad files."""

from __future__ import annotations

import dataclasses
import shutil

import h5py
import numpy as np
import pytest
import torch

from audiosplat.app.api import render_splat
from audiosplat.core.errors import SplatFormatError
from audiosplat.core.fields import BED_PARAMETER
from audiosplat.io.splat_format import read_stored
from audiosplat.io.splatfile import FORMAT_VERSION, read_splat, write_splat
from audiosplat.models.registry import build_model
from audiosplat.synth.colour import COLOUR_BANDS, COLOUR_MAX_DB, TRACK_BANDS, apply_colour, track_anchors
from audiosplat.synth.levels import event_energies_db
from audiosplat.synth.rooms import user_bank
from tests.shared import GOLDEN, GOLDEN_DIRECT, GOLDEN_EXACT


@pytest.mark.parametrize("fixture", ["fitted_splat", "fitted_grid_splat"])
def test_round_trip_reads_back_equal(fixture, request, tmp_path):
    original = read_splat(request.getfixturevalue(fixture))
    copy = tmp_path / "copy.splat"
    write_splat(copy, original)
    again = read_splat(copy)
    assert again.config == original.config
    assert again.controls.named_fields().keys() == original.controls.named_fields().keys()
    assert ("pitch_hz" in original.controls.named_fields()) == (fixture == "fitted_splat")
    for name, value in original.controls.named_fields().items():
        assert torch.equal(value, again.controls.named_fields()[name]), name
    assert torch.equal(original.controls.onset_bits, again.controls.onset_bits)
    assert torch.equal(original.latents, again.latents)
    assert torch.equal(original.noise_seeds, again.noise_seeds)
    assert original.parameters.keys() == again.parameters.keys()
    for name in original.parameters:
        assert torch.equal(original.parameters[name], again.parameters[name]), name
    np.testing.assert_array_equal(original.loss_history, again.loss_history)
    assert original.fit == again.fit
    assert original.provenance == again.provenance
    assert original.rooms.sha256 == again.rooms.sha256


def test_each_model_records_its_default_loss(fitted_seed_splat):
    assert read_splat(fitted_seed_splat).fit["loss"] == "multiband"


def test_fitted_file_records_fit_and_provenance(fitted_splat):
    s = read_splat(fitted_splat)
    assert s.format_version == FORMAT_VERSION
    assert s.fit["steps"] == 3 and s.fit["seed"] == 1 and s.fit["loss"] == "multiband-balanced"  # the direct model's
    assert np.isfinite(s.fit["final_loss"]) and 0 < s.fit["relative_spectral_l1"] < 2
    assert s.loss_history.shape == (3,)
    assert len(s.provenance["source_sha256"]) == 64
    assert s.provenance["source_sample_rate"] == 22050 and s.provenance["source_name"] == "guitar_em9.wav"
    assert {"audiosplat", "torch", "numpy", "h5py", "python"} <= set(s.provenance["versions"])
    with h5py.File(fitted_splat, "r") as f:
        assert f["events/onset_s"].attrs["units"] == "s"
        assert f["events/noise_centre_hz"].attrs["units"] == "Hz"


def test_stored_controls_are_the_decoded_parameters(fitted_splat):
    s = read_splat(fitted_splat)
    with torch.no_grad():
        decoded = s.model().decode(s.latents, s.controls.onset_bits)
    for name, value in decoded.named_fields().items():
        torch.testing.assert_close(value, s.controls.named_fields()[name], rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize("golden, model", [(GOLDEN, "seed"), (GOLDEN_DIRECT, "direct"), (GOLDEN_EXACT, "direct")])
def test_golden_files_load_and_render_forever(golden, model):
    s = read_splat(golden)
    assert s.format_version.startswith("1.") and s.config.model == model
    assert (s.config.n_samples, s.config.n_events) == (1024, 2)
    audio = render_splat(s)
    assert audio.shape == (1024,) and np.all(np.isfinite(audio))
    first_onset = int(s.controls.onset_samples.min())
    peak = np.abs(audio).max()
    assert peak > 0.0
    # causal: nothing before the first event (up to FFT round-off in the reverb)
    assert np.abs(audio[:first_onset]).max(initial=0.0) < 1e-6 * peak


def test_golden_direct_file_decodes_to_its_controls():
    s = read_splat(GOLDEN_DIRECT)
    assert s.config.pitch_bump == 0.5  # a 1.1.0 file: the bump of files before 1.4.0
    with torch.no_grad():
        decoded = s.model().decode(s.latents, s.controls.onset_bits)
    for name, value in decoded.named_fields().items():
        torch.testing.assert_close(value, s.controls.named_fields()[name], rtol=1e-5, atol=1e-7, msg=name)
    assert s.stored_numbers() == s.n_events * (19 + s.rooms.n_rooms + 1)  # section 8.1


def test_golden_exact_file_decodes_to_its_own_pitches():
    s = read_splat(GOLDEN_EXACT)
    assert s.config.pitches == "exact" and s.controls.resonance.shape == (2, 4)
    with torch.no_grad():
        decoded = s.model().decode(s.latents, s.controls.onset_bits)
    for name, value in decoded.named_fields().items():
        torch.testing.assert_close(value, s.controls.named_fields()[name], rtol=1e-5, atol=1e-7, msg=name)
    midi = s.parameters["groups.pitch"][:, 0]
    torch.testing.assert_close(s.controls.pitch_hz, 440.0 * 2.0 ** ((midi.clamp(21, 106) - 69.0) / 12.0))
    assert read_splat(GOLDEN_DIRECT).config.pitches == "grid"  # files before 1.5.0


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda f: f["config"].attrs.__setitem__("pitches", "just"), "not one this audiosplat knows"),
        (lambda f: f.__delitem__("events/pitch_hz"), "missing dataset /events/pitch_hz"),
        (lambda f: f["events/pitch_hz"].__setitem__(0, 11025.0), "between 0 and Nyquist"),
        (lambda f: f["events/pitch_hz"].__setitem__(1, 0.0), "between 0 and Nyquist"),
        (lambda f: f["config"].attrs.__setitem__("pitches", "grid"), "shape"),  # 4 columns, not W
    ],
)
def test_refuses_damaged_exact_pitches(tmp_path, mutate, fragment):
    path = tmp_path / "exact.splat"
    shutil.copy(GOLDEN_EXACT, path)
    with h5py.File(path, "a") as f:
        mutate(f)
    _refused(path, fragment)


def test_render_is_identical_every_time(fitted_splat):
    first = render_splat(read_splat(fitted_splat))
    second = render_splat(read_splat(fitted_splat))
    assert np.array_equal(first, second)


def test_user_rooms_are_embedded(fitted_splat, tmp_path):
    s = read_splat(fitted_splat)
    impulses = torch.zeros(2, s.config.n_samples)
    impulses[0, 10] = 1.0
    impulses[1, :100] = torch.linspace(1.0, 0.0, 100)
    rooms = user_bank(["tap", "ramp"], impulses)
    weights = torch.tensor([[1.0, 0.0]]).repeat(s.n_events, 1)
    # the room head's output size follows the bank: parameters for 2 rooms
    model = build_model(s.config, 2)
    edited = dataclasses.replace(
        s, rooms=rooms, controls=s.controls.replace(room_weights=weights), parameters=dict(model.state_dict()),
        latents=torch.zeros(s.n_events, model.latent_width), optimizer=None
    )
    path = tmp_path / "rooms.splat"
    write_splat(path, edited)
    again = read_splat(path)
    assert again.rooms.embedded and again.rooms.room_names == ("tap", "ramp")
    assert torch.equal(again.rooms.impulses, rooms.impulses)


def _copy(tmp_path, name="bad.splat"):
    path = tmp_path / name
    shutil.copy(GOLDEN, path)
    return path


def _refused(path, fragment):
    with pytest.raises(SplatFormatError) as info:
        read_splat(path)
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message
    return message


def test_refuses_text_file(tmp_path):
    path = tmp_path / "notes.splat"
    path.write_text("hello")
    _refused(path, "not a .splat file")


def test_refuses_hdf5_that_is_not_a_splat(tmp_path):
    path = tmp_path / "other.splat"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    _refused(path, "not a .splat file")


def test_refuses_newer_major_version(tmp_path):
    path = _copy(tmp_path)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = "2.0.0"
    _refused(path, "newer")


def test_accepts_newer_minor_version_with_extra_group(tmp_path):
    path = _copy(tmp_path)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = "1.9.0"
        f.create_group("future_extension").attrs["x"] = 1
    assert read_splat(path).format_version == "1.9.0"


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda f: f.__delitem__("events/gain"), "missing dataset /events/gain"),
        (lambda f: (f.__delitem__("events/gain"), f.create_dataset("events/gain", data=np.ones(5, np.float32))), "shape"),
        (lambda f: f["events/noise_centre_hz"].__setitem__(0, np.nan), "NaN"),
        (lambda f: f["events/onset_samples"].__setitem__(0, 10**9), "outside"),
        (lambda f: f["events/decay_per_frame"].__setitem__(0, 1.5), "(0, 1]"),
        (lambda f: f.__delitem__("parameters/latent_roots"), "missing dataset /parameters/latent_roots"),
        (lambda f: f["config"].attrs.__setitem__("n_samples", 2**40), "larger than"),
        (lambda f: f["rooms"].attrs.__setitem__("sha256", "0" * 64), "SHA-256"),
        (lambda f: f["config"].attrs.__setitem__("frame_size", 0), "must be positive"),
        (lambda f: f["config"].attrs.__setitem__("model", "transformer"), "does not know"),
        (lambda f: f["config"].attrs.__setitem__("pitch_bump", "wide"), "must be a number"),
        (lambda f: f["config"].attrs.__setitem__("pitch_bump", 100), "pitch bump must be between"),
        (lambda f: (f.__delitem__("events/gain"), f.__setitem__("events/gain", h5py.SoftLink("/events/noise_centre_hz"))), "link"),
    ],
)
def test_refuses_damaged_content(tmp_path, mutate, fragment):
    path = _copy(tmp_path)
    with h5py.File(path, "a") as f:
        mutate(f)
    _refused(path, fragment)


def test_refuses_truncated_file(tmp_path):
    path = _copy(tmp_path)
    data = GOLDEN.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SplatFormatError) as info:
        read_splat(path)
    assert str(path) in str(info.value)


def test_failed_write_leaves_nothing(fitted_splat, tmp_path):
    s = read_splat(fitted_splat)
    bad = dataclasses.replace(s, controls=s.controls.replace(gain=torch.full_like(s.controls.gain, float("nan"))))
    target = tmp_path / "out.splat"
    with pytest.raises(SplatFormatError):
        write_splat(target, bad)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_existing_file(fitted_splat, tmp_path):
    target = tmp_path / "out.splat"
    shutil.copy(fitted_splat, target)
    before = target.read_bytes()
    s = read_splat(fitted_splat)
    bad = dataclasses.replace(s, controls=s.controls.replace(gain=-s.controls.gain - 1))
    with pytest.raises(SplatFormatError):
        write_splat(target, bad)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.splat"]


def test_refuses_external_links(tmp_path):
    elsewhere = tmp_path / "elsewhere.h5"
    with h5py.File(elsewhere, "w") as f:
        f.create_dataset("gain", data=np.ones(2, np.float32))
    path = _copy(tmp_path)
    with h5py.File(path, "a") as f:
        del f["events/gain"]
        f["events/gain"] = h5py.ExternalLink(str(elsewhere), "/gain")
    _refused(path, "link")


def test_optimizer_state_round_trips_and_is_validated(fitted_splat, tmp_path):
    s = read_splat(fitted_splat)
    assert s.optimizer is not None and int(s.optimizer["step"]) == 3
    assert set(k.split(".", 1)[1] for k in s.optimizer if k != "step") == {*s.parameters, BED_PARAMETER}  # the bed's too
    path = tmp_path / "copy.splat"
    write_splat(path, s)
    again = read_splat(path)
    for key, value in s.optimizer.items():
        assert torch.equal(again.optimizer[key], value), key
    name = next(iter(s.parameters)).replace(".", "/")
    with h5py.File(path, "a") as f:
        del f[f"optimizer/exp_avg/{name}"]
        f.create_dataset(f"optimizer/exp_avg/{name}", data=np.zeros((3, 3), np.float32))
    _refused(path, "shape")
    # a render reads no optimizer state, so a damaged one does not stop it
    without = read_splat(path, optimizer=False)
    assert without.optimizer is None
    assert all(torch.equal(without.parameters[k], v) for k, v in s.parameters.items())


def test_note_labels_are_optional_round_trip_and_are_validated(fitted_splat, tmp_path):
    assert read_splat(fitted_splat).labels is None and read_splat(GOLDEN).labels is None
    labels = {
        "onset_s": np.array([-0.01, 0.5]), "offset_s": np.array([0.2, 0.9]), "instrument": np.array([1, 41]),
        "note": np.array([60, 72]), "start_beat": np.array([0.0, 1.5]), "end_beat": np.array([0.5, 1.0]),
        "note_value": np.array(["Quarter", "Dotted Eighth"], dtype=object),
    }
    path = tmp_path / "labelled.splat"
    write_splat(path, dataclasses.replace(read_splat(fitted_splat), labels=labels))
    back = read_splat(path).labels
    assert back["note_value"].tolist() == ["Quarter", "Dotted Eighth"] and back["note"].tolist() == [60, 72]
    np.testing.assert_array_equal(back["onset_s"], labels["onset_s"])  # float64: no rounding
    with h5py.File(path, "r") as f:
        assert f["labels/onset_s"].attrs["units"] == "s"
    for damage, fragment in (
        (lambda f: (f.__delitem__("labels/note"), f["labels"].create_dataset("note", data=np.array([60]))), "different lengths"),
        (lambda f: (f.__delitem__("labels/offset_s"), f["labels"].create_dataset("offset_s", data=np.array([0.1, np.nan]))), "NaN"),
        (lambda f: f.__delitem__("labels/end_beat"), "/labels/end_beat"),
    ):
        bad = tmp_path / "bad.splat"
        shutil.copy(path, bad)
        with h5py.File(bad, "r+") as f:
            damage(f)
        with pytest.raises(SplatFormatError, match=fragment):
            read_splat(bad)


def test_the_sources_onsets_round_trip_and_are_validated(fitted_splat, tmp_path):
    fitted = read_splat(fitted_splat)
    assert read_splat(GOLDEN).onsets_s is None
    assert fitted.onsets_s is not None and fitted.onsets_s[0] == 0.0  # a clip's start is an onset
    path = tmp_path / "onsets.splat"
    onsets = np.array([0.0, 0.1234567891, 0.5])
    write_splat(path, dataclasses.replace(fitted, onsets_s=onsets))
    np.testing.assert_array_equal(read_splat(path).onsets_s, onsets)  # float64: no rounding
    with h5py.File(path, "r") as f:
        assert f["fit/onsets_s"].attrs["units"] == "s"
    for data, fragment in ((np.array([0.5, 0.1]), "ascending"), (np.zeros((2, 2)), "one-dimensional"), (np.array([0.0, np.inf]), "NaN or infinite")):
        bad = tmp_path / "bad.splat"
        shutil.copy(path, bad)
        with h5py.File(bad, "r+") as f:
            del f["fit/onsets_s"]
            f["fit"].create_dataset("onsets_s", data=data)
        with pytest.raises(SplatFormatError, match=fragment):
            read_splat(bad)


def test_the_noise_bed_round_trips(fitted_splat, tmp_path):
    s = read_splat(fitted_splat)
    assert s.noise_bed is not None and s.config.noise_anchors == s.noise_bed.levels_db.shape[0]
    path = tmp_path / "copy.splat"
    write_splat(path, s)
    again = read_splat(path)
    assert torch.equal(again.noise_bed.levels_db, s.noise_bed.levels_db) and again.noise_bed.seed == s.noise_bed.seed
    assert np.array_equal(render_splat(again), render_splat(s))


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda f: f["noise_bed/levels_db"].__setitem__((0, 0), 1e6), "above 200 dB"),
        (lambda f: f["noise_bed/levels_db"].__setitem__((0, 0), np.nan), "levels_db"),
        (lambda f: f["noise_bed"].attrs.__delitem__("seed"), "seed"),
        (lambda f: f["noise_bed"].attrs.__setitem__("seed", -1), "seed"),
        (lambda f: f["noise_bed"].attrs.__setitem__("seed", 1.5), "seed"),
        (lambda f: f["config"].attrs.__setitem__("noise_anchors", 8), "shape"),
        (lambda f: f["config"].attrs.__setitem__("noise_anchors", 0), "noise"),
        (lambda f: f.__delitem__("noise_bed"), "noise bed"),
        (lambda f: f["colour/levels_db"].__setitem__(0, np.nan), "levels_db"),
        (lambda f: f["colour/levels_db"].__setitem__(0, 30.0), "beyond"),
        (lambda f: (f.__delitem__("colour/levels_db"), f["colour"].create_dataset("levels_db", data=np.zeros((2, 8), np.float32))), "one dimension"),
        (lambda f: (f.__delitem__("colour"), f.create_dataset("colour", data=np.zeros(16, np.float32))), "not a group"),
        (lambda f: f["colour/track_db"].__setitem__((0, 0), np.inf), "track_db"),
        (lambda f: f["colour/track_db"].__setitem__((5, 1), -25.0), "beyond"),
        (lambda f: (f.__delitem__("colour/track_db"), f["colour"].create_dataset("track_db", data=np.zeros(8, np.float32))), "anchors of"),
    ],
)
def test_a_damaged_noise_bed_or_colour_is_refused_in_one_sentence(fitted_splat, tmp_path, damage, fragment):
    path = tmp_path / "bed.splat"
    shutil.copy(fitted_splat, path)
    with h5py.File(path, "a") as f:
        damage(f)
    _refused(path, fragment)


def test_each_events_energy_is_written_from_its_controls_and_validated(fitted_splat, tmp_path):
    """/events/energy_db is made from the controls whenever a file is written (an edit's
    file has its edited events' energies); files before 1.10.0 have none."""
    assert read_stored(GOLDEN, optimizer=False).energies_db is None
    s = read_splat(fitted_splat)
    stored = read_stored(fitted_splat, optimizer=False)
    expected = event_energies_db(s.controls, s.noise_seeds, s.controls.onset_samples, s.config, s.rooms)
    np.testing.assert_array_equal(stored.energies_db, expected.numpy().astype(np.float32))
    louder = tmp_path / "louder.splat"
    write_splat(louder, dataclasses.replace(s, controls=s.controls.replace(gain=s.controls.gain * 2.0)))
    np.testing.assert_allclose(read_stored(louder, optimizer=False).energies_db, stored.energies_db + 20.0 * np.log10(2.0), atol=1e-3)
    with h5py.File(louder, "r") as f:
        assert f["events/energy_db"].attrs["units"] == "dB"
    for value, fragment in ((np.nan, "NaN or \\+inf"), (np.inf, "NaN or \\+inf")):
        bad = tmp_path / "bad.splat"
        shutil.copy(louder, bad)
        with h5py.File(bad, "r+") as f:
            f["events/energy_db"][0] = value
        with pytest.raises(SplatFormatError, match=fragment):
            read_splat(bad)
    silent = tmp_path / "silent.splat"
    shutil.copy(louder, silent)
    with h5py.File(silent, "r+") as f:
        f["events/energy_db"][0] = -np.inf  # a silent event
    assert read_stored(silent, optimizer=False).energies_db[0] == -np.inf


def test_the_colour_is_fitted_stored_and_heard(fitted_splat, tmp_path):
    """A fit with a bed stores its colour and the colour's track (formats §9.3): within their
    limits, read back equal, and the render is the events and bed through both. Files before
    1.11.0 have no colour; the numbers a file stores count the track's."""
    assert read_stored(GOLDEN, optimizer=False).colour_db is None
    s = read_splat(fitted_splat)
    assert s.colour_db is not None and s.colour_db.shape == (COLOUR_BANDS,) and float(s.colour_db.abs().max()) <= COLOUR_MAX_DB
    track, without_track = s.colour_track_db, dataclasses.replace(s, colour_track_db=None).stored_numbers()
    anchors = track_anchors(without_track, s.config.n_samples)  # 8 for this 4096-sample clip: one per 2 frames
    assert track is not None and track.shape == (anchors, TRACK_BANDS) == (8, TRACK_BANDS)
    assert 0.0 < float(track.abs().max()) <= COLOUR_MAX_DB
    assert s.stored_numbers() == without_track + anchors * TRACK_BANDS
    assert s.stored_numbers() == read_stored(fitted_splat, optimizer=False).stored_numbers()
    path = tmp_path / "copy.splat"
    write_splat(path, s)
    again = read_splat(path)
    assert torch.equal(again.colour_db, s.colour_db) and torch.equal(again.colour_track_db, track)
    plain = render_splat(dataclasses.replace(s, colour_db=None))
    coloured = apply_colour(torch.from_numpy(plain), s.colour_db, s.config.sample_rate, track).numpy()
    np.testing.assert_allclose(render_splat(again), coloured, atol=1e-6 * np.abs(coloured).max())

