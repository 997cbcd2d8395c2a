"""Edits, each tested by its audible effect on the render."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from audiosplat.app.api import fit_audio_file, render_splat
from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import AudiosplatError
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.fitting.fit import FitConfig
from audiosplat.io.splatfile import read_splat
from audiosplat.ops.edits import EditError, apply_edits
from audiosplat.ops.selection import select as select_stored
from audiosplat.ops.summary import decay_time_s
from audiosplat.ops.summary import event_rows as stored_event_rows
from tests.cli_runner import assert_one_line_error, run_cli
from tests.shared import PIANO
from tests.synth_helpers import spectral_peak_hz


def event_rows(splat):
    return stored_event_rows(splat.to_stored())


def select(splat, spec):
    return torch.from_numpy(select_stored(splat.to_stored(), spec))


@pytest.fixture(scope="module")
def long_splat(tmp_path_factory):
    """4 events over 16384 samples (0.74 s), so a 0.25 s shift fits inside the clip; no
    noise bed, so the render is the events' (`test_noise_gain_*` has one)."""
    path = tmp_path_factory.mktemp("edits") / "piano.splat"
    config = ModelConfig(n_samples=16384, n_events=4, noise_anchors=0, noise_bands=0)
    fit_audio_file(PIANO, path, config=config, fit_config=FitConfig(steps=2), device="cpu")
    splat = read_splat(path)
    early = torch.tensor([0, 1000, 2000, 3000])  # onsets early enough to shift by 0.25 s
    return dataclasses.replace(splat, controls=splat.controls.replace(onset_bits=samples_to_bits(early, 14)))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_shift_moves_the_rendered_event(long_splat):
    delay = round(0.25 * long_splat.config.sample_rate)
    before = render_splat(long_splat, stems=True)
    moved = render_splat(apply_edits(long_splat, [("select", "1"), ("shift", "0.25")]), stems=True)
    np.testing.assert_allclose(moved[1, delay:], before[1, :-delay], atol=1e-6 * np.abs(before[1]).max())
    assert np.abs(moved[1, :delay]).max() < 1e-6 * np.abs(before[1]).max()
    np.testing.assert_array_equal(moved[0], before[0])  # unselected events stay


def test_gain_lowers_the_rms_by_its_decibels(long_splat):
    before = render_splat(long_splat)
    after = render_splat(apply_edits(long_splat, [("gain", "-6")]))
    assert 20 * np.log10(_rms(after) / _rms(before)) == pytest.approx(-6.0, abs=1e-3)


def test_transpose_by_an_octave_doubles_the_strongest_pitch(tmp_path):
    path = tmp_path / "grid.splat"
    config = ModelConfig(n_samples=16384, n_events=4, pitches="grid")
    fit_audio_file(PIANO, path, config=config, fit_config=FitConfig(steps=1), device="cpu")
    grid = read_splat(path)
    pitches = grid.config.n_pitches
    resonance = torch.zeros_like(grid.controls.resonance)
    for e, row in enumerate((10, 40, 70, 3 * pitches + 50)):  # saws and a sine, 36 Hz to 1.1 kHz
        resonance[e, row] = 1.0
    tuned = dataclasses.replace(grid, controls=grid.controls.replace(resonance=resonance))
    base = event_rows(tuned)
    up = event_rows(apply_edits(tuned, [("transpose", "12")]))
    for a, b in zip(base, up):
        assert b["wave"] == a["wave"]
        assert b["pitch_hz"] / a["pitch_hz"] == pytest.approx(2.0, rel=0.01)


def test_transpose_moves_an_exact_pitch_exactly(long_splat):
    """Sines at exact pitches between the wavetable's rows: a fifth up puts each stem's
    spectral peak at 1.5 times its pitch; past Nyquist is refused."""
    pitch_hz = torch.tensor([220.0, 311.1, 452.3, 1003.7])
    sines = torch.zeros(4, 4)
    sines[:, 3] = 1.0
    tuned = dataclasses.replace(long_splat, controls=long_splat.controls.replace(pitch_hz=pitch_hz, resonance=sines))
    sr = tuned.config.sample_rate
    before = render_splat(tuned, stems=True)
    fifth = 2.0 ** (7 / 12)
    after = render_splat(apply_edits(tuned, [("select", "0-2"), ("transpose", "7")]), stems=True)
    for e, hz in enumerate(pitch_hz.tolist()):
        assert spectral_peak_hz(before[e], sr) == pytest.approx(hz, abs=1.5)
        assert spectral_peak_hz(after[e], sr) == pytest.approx(hz * (fifth if e < 3 else 1.0), abs=1.5)
    with pytest.raises(EditError, match="Nyquist"):
        apply_edits(tuned, [("transpose", "48")])


def test_drop_removes_exactly_that_stem(long_splat):
    stems = render_splat(long_splat, stems=True)
    mix = render_splat(long_splat)
    dropped = render_splat(apply_edits(long_splat, [("drop", "2")]))
    np.testing.assert_allclose(dropped, mix - stems[2], atol=1e-5 * np.abs(mix).max())
    solo = render_splat(apply_edits(long_splat, [("keep", "2")]))
    np.testing.assert_allclose(solo, stems[2], atol=1e-5 * np.abs(mix).max())


def test_stretch_and_decay_scale_times(long_splat):
    stretched = apply_edits(long_splat, [("stretch", "2")])
    assert torch.equal(stretched.controls.onset_samples, long_splat.controls.onset_samples * 2)
    longer = apply_edits(long_splat, [("decay", "2")])
    cfg = long_splat.config
    ratio = decay_time_s(longer.controls.decay_per_frame.numpy(), cfg.frame_size, cfg.sample_rate) / decay_time_s(
        long_splat.controls.decay_per_frame.numpy(), cfg.frame_size, cfg.sample_rate
    )
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-4, atol=0)


def test_room_and_wet(long_splat):
    dry = apply_edits(long_splat, [("wet", "0")])
    assert torch.equal(dry.controls.reverb_mix[:, 1], torch.zeros(4))
    # fully dry, the room no longer matters; fully wet, it does
    np.testing.assert_allclose(render_splat(apply_edits(dry, [("room", "0")])), render_splat(apply_edits(dry, [("room", "7")])), atol=1e-7)
    wet = apply_edits(long_splat, [("wet", "1")])
    assert np.abs(render_splat(apply_edits(wet, [("room", "0")])) - render_splat(apply_edits(wet, [("room", "7")]))).max() > 1e-3
    roomed = apply_edits(long_splat, [("room", "rt60-2.50s")])
    assert torch.equal(roomed.controls.room_weights.argmax(dim=1), torch.full((4,), 7))
    with pytest.raises(EditError, match="unknown room"):
        apply_edits(long_splat, [("room", "cathedral")])


def test_conditions_and_ranks_select_events(long_splat):
    gains = torch.tensor([row["gain_db"] for row in event_rows(long_splat)])
    low, high = gains.sort().values[1:3].tolist()
    threshold = 0.5 * (low + high)  # between two gains: no tie with a rounded value
    assert torch.equal(select(long_splat, f"gain_db<{threshold}"), gains < threshold)
    assert int(select(long_splat, "quietest:2").sum()) == 2
    assert torch.equal(select(long_splat, "0,2-3"), torch.tensor([True, False, True, True]))


def test_edited_file_records_its_parent_and_refuses_perturb(fitted_splat, tmp_path):
    source = tmp_path / "in.splat"
    shutil.copy(fitted_splat, source)
    before = source.read_bytes()
    out = tmp_path / "edited.splat"
    result = run_cli("edit", source, "-o", out, "--drop", "quietest:2", "--gain", "-3")
    assert result.exit_code == 0, result.stderr
    assert source.read_bytes() == before
    edited = read_splat(out)
    assert not edited.latents_match_controls
    assert edited.provenance["history"][-1]["operations"] == [["drop", "quietest:2"], ["gain", "-3"]]
    assert_one_line_error(run_cli("perturb", out, "-o", tmp_path / "p.splat"), "edited")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--drop", "9"], "outside"),
        (["--drop", "loudness<3"], "unknown field"),
        (["--drop", "gain_db<<3"], "cannot read"),
        (["--gain", "loud"], "needs a number"),
        (["--colour", "99"], "between"),
        (["--frobnicate", "1"], "unknown edit"),
        (["--gain"], "pairs"),
        ([], "no edits"),
    ],
)
def test_bad_edits_are_usage_errors(fitted_splat, tmp_path, args, fragment):
    out = tmp_path / "x.splat"
    assert_one_line_error(run_cli("edit", fitted_splat, "-o", out, *args), fragment, code=2)
    assert not out.exists()


def test_noise_gain_scales_the_bed_alone_and_off_silences_it(fitted_splat):
    splat = read_splat(fitted_splat)
    bed, events = _rms(render_splat(splat) - render_splat(apply_edits(splat, [("noise-gain", "off")]))), render_splat(splat, stems=True).sum(axis=0)
    louder = apply_edits(splat, [("noise-gain", "6")])
    assert 20 * np.log10(_rms(render_splat(louder) - events) / bed) == pytest.approx(6.0, abs=1e-3)
    assert torch.equal(louder.controls.gain, splat.controls.gain)  # the events are untouched
    silent = render_splat(apply_edits(splat, [("noise-gain", "off")]))
    np.testing.assert_allclose(silent, events, atol=1e-6 * np.abs(events).max())
    with pytest.raises(EditError, match="noise-gain"):
        apply_edits(splat, [("noise-gain", "loud")])


def test_colour_lifts_every_band_and_off_takes_it_out(fitted_splat, tmp_path):
    out = tmp_path / "plain.splat"
    assert run_cli("edit", fitted_splat, "-o", out, "--colour", "off").exit_code == 0
    assert read_splat(out).colour_db is None and read_splat(fitted_splat).colour_db is not None
    splat = read_splat(fitted_splat)
    lifted = apply_edits(splat, [("colour", "3")])
    torch.testing.assert_close(lifted.colour_db, splat.colour_db + 3.0)
    assert torch.equal(lifted.colour_track_db, splat.colour_track_db)  # the course over time stays
    assert torch.equal(lifted.controls.gain, splat.controls.gain) and torch.equal(lifted.noise_bed.levels_db, splat.noise_bed.levels_db)
    plain = apply_edits(splat, [("colour", "off")])
    assert plain.colour_db is None and plain.colour_track_db is None
    np.testing.assert_array_equal(render_splat(plain), render_splat(dataclasses.replace(splat, colour_db=None)))
    with pytest.raises(AudiosplatError, match="no colour"):
        apply_edits(plain, [("colour", "2")])
    with pytest.raises(EditError, match="colour"):
        apply_edits(splat, [("colour", "99")])


@pytest.mark.parametrize("db", ["-10", "-120", "-0.5", "-20"])
def test_a_negative_amount_reaches_the_edit_whole(fitted_splat, tmp_path, db):
    """Among the options edit does not know, -10 could read as the short flags -1 -0; edit
    has no -0, so the amount arrives as written and --null stays off."""
    out = tmp_path / "quieter.splat"
    result = run_cli("edit", fitted_splat, "-o", out, "--gain", db)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"  # newline-terminated: not --null
    edited = read_splat(out)
    assert edited.provenance["history"][-1]["operations"] == [["gain", db]]
    np.testing.assert_allclose(edited.controls.gain.numpy(), read_splat(fitted_splat).controls.gain.numpy() * 10 ** (float(db) / 20), rtol=1e-6)
