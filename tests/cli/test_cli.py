"""The CLI through typer's CliRunner (stdout and stderr apart) and as a real subprocess."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
import soundfile as sf
import torch

import audiosplat.models.relocate
from audiosplat.fitting.fit import CONVERGE_EVERY, CONVERGE_FROM, DEFAULT_STEPS, FINE_STEPS
from audiosplat.io.splatfile import read_splat
from tests.cli_runner import SMALL_FIT, assert_one_line_error, run_cli
from tests.shared import GOLDEN, GUITAR, PIANO


def test_fit_writes_a_splat_and_reports_quality(tmp_path):
    out = tmp_path / "guitar.splat"
    result = run_cli("fit", GUITAR, "-o", out, *SMALL_FIT, "--seed", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "final loss" in result.stderr and "relative spectral L1" in result.stderr
    s = read_splat(out)
    assert s.fit["seed"] == 5 and s.fit["steps"] == 2 and 1 <= s.n_events <= 4  # --events is a cap
    assert all(isinstance(a, str) for a in s.provenance["argv"])


def test_time_budget_ends_a_fit_complete(tmp_path):
    spent, ample = tmp_path / "spent.splat", tmp_path / "ample.splat"
    assert run_cli("fit", GUITAR, "-o", spent, *SMALL_FIT[:-2], "--steps", "50", "--seconds", "1e-6").exit_code == 0
    assert read_splat(spent).fit["steps"] == 0 and not read_splat(spent).fit["partial"]
    assert run_cli("fit", GUITAR, "-o", ample, *SMALL_FIT[:-2], "--steps", "2", "--seconds", "600").exit_code == 0
    assert read_splat(ample).fit["steps"] == 2 and read_splat(ample).fit["seconds_budget"] == 600
    assert_one_line_error(run_cli("fit", GUITAR, "-o", ample, *SMALL_FIT, "--seconds", "-1"), "seconds", code=2)


def test_fit_quiet_prints_nothing_on_stderr(tmp_path):
    result = run_cli("fit", GUITAR, "-o", tmp_path / "q.splat", *SMALL_FIT, "-q")
    assert result.exit_code == 0 and result.stderr == ""


def test_render_writes_the_clip_and_stems(fitted_splat, tmp_path):
    out, stems = tmp_path / "out.wav", tmp_path / "stems"
    result = run_cli("render", fitted_splat, "-o", out, "--stems", stems, "--subtype", "pcm16")
    assert result.exit_code == 0, result.stderr
    assert "warning: the render peaks at 1.1" in result.stderr and "pcm16 clips" in result.stderr  # this 3-step fit's colour lifts it
    assert "warning" not in run_cli("render", fitted_splat, "-o", tmp_path / "float.wav").stderr
    info = sf.info(str(out))
    assert (info.samplerate, info.frames, info.channels, info.subtype) == (22050, 4096, 1, "PCM_16")
    stem_files = sorted(stems.glob("event-*.wav"))
    assert len(stem_files) == 4 and (stems / "noise-bed.wav").is_file()
    mix = sf.read(str(out))[0]
    total = sum(sf.read(str(p))[0] for p in [*stem_files, stems / "noise-bed.wav"])
    total = np.clip(total, -1.0, 1.0 - 2.0**-15)  # as 16-bit PCM holds the mix
    assert np.abs(mix - total).max() < 5 * 2.0**-15  # 16-bit rounding of six files


def test_render_is_byte_identical(fitted_splat, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    assert run_cli("render", fitted_splat, "-o", a).exit_code == 0
    time.sleep(1.1)  # libsndfile stamps float wavs with the second they were written
    assert run_cli("render", fitted_splat, "-o", b).exit_code == 0
    assert a.read_bytes() == b.read_bytes()


def test_inspect_table_and_json(fitted_splat):
    table = run_cli("inspect", fitted_splat)
    assert table.exit_code == 0 and "onset s" in table.stdout and "relative spectral L1" in table.stdout
    assert "colour's track: 8 anchors x 3 bands" in table.stdout
    result = run_cli("inspect", fitted_splat, GOLDEN, "--json")
    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [o["events"] for o in objects] == [4, 2]
    first = objects[0]
    assert first["colour"]["track"]["anchors"] == 8 and len(first["colour"]["track"]["band_hz"]) == 3
    assert first["steps"] == 3 and first["stored_numbers"] > 0 and first["bytes"] > 0
    assert len(first["event_table"]) == 4 and {"onset_s", "gain_db", "pitch_hz", "decay_s", "room"} <= set(first["event_table"][0])


def test_inspect_check(fitted_splat, tmp_path):
    assert run_cli("inspect", "--check", fitted_splat).exit_code == 0
    bad = tmp_path / "bad.splat"
    bad.write_text("not hdf5")
    result = run_cli("inspect", "--check", fitted_splat, bad)
    assert result.exit_code == 1 and str(bad) in result.stderr


def _wav_with_no_frames(path):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
    return path


@pytest.mark.parametrize(
    "make_input, fragment",
    [
        (lambda d: d / "missing.wav", "not found"),
        (lambda d: d, "directory"),
        (lambda d: (d / "text.wav").write_text("hello") and d / "text.wav", "not a readable audio file"),
        (lambda d: _wav_with_no_frames(d / "empty.wav"), "no audio"),
        (lambda d: (d / "zero.wav").write_bytes(b"") or d / "zero.wav", "not a readable audio file"),
    ],
)
def test_fit_bad_audio_is_one_line(tmp_path, make_input, fragment):
    source = make_input(tmp_path)
    out = tmp_path / "out.splat"
    result = run_cli("fit", source, "-o", out, *SMALL_FIT)
    assert_one_line_error(result, source, fragment)
    assert not out.exists()


def test_fit_silent_clip_is_refused(tmp_path):
    source = tmp_path / "silence.wav"
    sf.write(str(source), np.zeros(5000), 22050)
    assert_one_line_error(run_cli("fit", source, "-o", tmp_path / "s.splat", *SMALL_FIT), source, "silent")


def test_fit_output_folder_missing(tmp_path):
    out = tmp_path / "nowhere" / "out.splat"
    assert_one_line_error(run_cli("fit", GUITAR, "-o", out, *SMALL_FIT), "does not exist")


def test_fit_output_equal_to_input_is_refused(tmp_path):
    source = tmp_path / "in.wav"
    shutil.copy(GUITAR, source)
    before = source.read_bytes()
    assert_one_line_error(run_cli("fit", source, "-o", source, *SMALL_FIT), "would overwrite the input", code=2)
    assert source.read_bytes() == before


def test_render_bad_splats_are_one_line(tmp_path):
    text = tmp_path / "text.splat"
    text.write_text("hello")
    assert_one_line_error(run_cli("render", text, "-o", tmp_path / "o.wav"), text, "not a .splat")
    truncated = tmp_path / "trunc.splat"
    truncated.write_bytes(GOLDEN.read_bytes()[:5000])
    assert_one_line_error(run_cli("render", truncated, "-o", tmp_path / "o.wav"), truncated)
    assert_one_line_error(run_cli("render", tmp_path / "none.splat", "-o", tmp_path / "o.wav"), "not found")
    assert not (tmp_path / "o.wav").exists()


def test_render_output_over_its_input_is_refused(tmp_path):
    source = tmp_path / "g.splat"
    shutil.copy(GOLDEN, source)
    assert_one_line_error(run_cli("render", source, "-o", source), "would overwrite the input", code=2)
    assert source.read_bytes() == GOLDEN.read_bytes()


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("fit", GUITAR).exit_code == 2  # no -o
    assert run_cli("fit", GUITAR, "-o", tmp_path / "x.splat", "--loss", "l2").exit_code == 2
    assert run_cli("render").exit_code == 2


def test_bad_option_values_are_one_line(tmp_path):
    result = run_cli("fit", GUITAR, "-o", tmp_path / "x.splat", "--events", "3", "--model", "seed", "--steps", "1")
    assert_one_line_error(result, "power of two", code=2)  # the seed model's event tree is binary
    assert_one_line_error(run_cli("fit", GUITAR, "-o", tmp_path / "x.splat", "--events", "0", "--steps", "1"), "events", code=2)


def test_fit_pitches_exact_by_default_grid_on_request(tmp_path):
    """The direct model's events sound their own pitches unless --pitches grid (or naive
    waves, which have no exact form) asks for the wavetable's rows; the seed model's
    decoder only knows the rows."""
    written = {}
    for name, options in {"default": [], "grid": ["--pitches", "grid"], "naive": ["--waves", "naive"]}.items():
        out = tmp_path / f"{name}.splat"
        assert run_cli("fit", GUITAR, "-o", out, *SMALL_FIT, *options).exit_code == 0
        written[name] = read_splat(out)
    assert written["default"].config.pitches == "exact" and written["default"].controls.pitch_hz.shape == (4,)
    assert written["grid"].config.pitches == "grid" and written["grid"].controls.pitch_hz is None
    assert written["naive"].config.pitches == "grid"
    table = run_cli("inspect", tmp_path / "default.splat", "--json")
    summary = json.loads(table.stdout)
    assert summary["pitches"] == "exact"
    rows = summary["event_table"]
    assert [round(r["pitch_hz"], 3) for r in rows] == [round(float(p), 3) for p in written["default"].controls.pitch_hz]
    for options, fragment in ((["--pitches", "exact", "--waves", "naive"], "band-limited"), (["--pitches", "exact", "--model", "seed"], "direct model")):
        assert_one_line_error(run_cli("fit", GUITAR, "-o", tmp_path / "bad.splat", *SMALL_FIT, *options), fragment, code=2)
    assert not (tmp_path / "bad.splat").exists()


def _subprocess(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "audiosplat", *map(str, args)], capture_output=True, timeout=300, **kwargs)


def test_subprocess_fit_render_inspect(tmp_path):
    out = tmp_path / "sub.splat"
    fitted = _subprocess("fit", GUITAR, "-o", out, *SMALL_FIT)
    assert fitted.returncode == 0, fitted.stderr.decode()
    assert fitted.stdout.decode().strip() == str(out)
    rendered = _subprocess("render", out, "-o", "-", "-q")
    assert rendered.returncode == 0 and rendered.stderr == b""
    audio, rate = sf.read(io.BytesIO(rendered.stdout))
    assert rate == 22050 and audio.shape == (4096,)
    inspected = _subprocess("inspect", out, "--json")
    assert json.loads(inspected.stdout)["events"] == 4


def test_subprocess_error_has_no_traceback(tmp_path):
    result = _subprocess("render", tmp_path / "missing.splat", "-o", tmp_path / "x.wav")
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1 and b"Traceback" not in result.stderr


def test_resume_continues_a_fit(fitted_splat, tmp_path):
    out = tmp_path / "more.splat"
    result = run_cli("fit", GUITAR, "-o", out, "--resume", fitted_splat, "--steps", "2", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    before, after = read_splat(fitted_splat), read_splat(out)
    assert after.fit["steps"] == 5 and after.fit["seed"] == before.fit["seed"]
    np.testing.assert_array_equal(after.loss_history[:3], before.loss_history)
    # the first continued step starts from the stored parameters, whose loss the file records
    assert after.loss_history[3] == pytest.approx(before.fit["final_loss"], rel=1e-6)
    assert after.fit["final_loss"] < before.fit["final_loss"]
    assert torch.equal(after.noise_seeds, before.noise_seeds)


def test_resume_refuses_another_source_or_several_inputs(fitted_splat, tmp_path):
    other = tmp_path / "other.wav"
    sf.write(str(other), np.random.default_rng(0).uniform(-1, 1, 5000), 22050)
    assert_one_line_error(run_cli("fit", other, "-o", tmp_path / "x.splat", "--resume", fitted_splat), "another file")
    result = run_cli("fit", GUITAR, PIANO, "-o", tmp_path / "d", "--resume", fitted_splat)
    assert result.exit_code == 1 and "exactly one input" in result.stderr
    assert_one_line_error(run_cli("fit", GUITAR, "-o", tmp_path / "y.splat", "--resume", fitted_splat, "--jobs", "2"), "--jobs", code=2)


@pytest.mark.parametrize("model", ["direct", "seed"])
def test_resume_goes_on_exactly_as_an_uninterrupted_fit(tmp_path, model):
    whole, half, rest = tmp_path / "six.splat", tmp_path / "three.splat", tmp_path / "three-more.splat"
    small = [*SMALL_FIT[:-4], "--model", model, "--device", "cpu"]
    assert run_cli("fit", GUITAR, "-o", whole, *small, "--steps", "6").exit_code == 0
    assert run_cli("fit", GUITAR, "-o", half, *small, "--steps", "3").exit_code == 0
    assert run_cli("fit", GUITAR, "-o", rest, "--resume", half, "--steps", "3", "--device", "cpu").exit_code == 0
    a, b = read_splat(whole), read_splat(rest)
    assert a.config.model == b.config.model == model and b.fit["lr"] == a.fit["lr"]
    np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-6)
    assert b.fit["final_loss"] == pytest.approx(a.fit["final_loss"], rel=1e-6)
    assert int(b.optimizer["step"]) == 6


def test_resume_across_a_relocation_goes_on_exactly(tmp_path, monkeypatch):
    """The direct model moves dead events every RELOCATE_EVERY steps, counted over the whole
    fit: a fit stopped at such a step and resumed relocates exactly as an uninterrupted one."""
    monkeypatch.setattr("audiosplat.models.relocate.RELOCATE_EVERY", 2)
    moved = []
    relocate = audiosplat.models.relocate.relocate_dead_events
    monkeypatch.setattr("audiosplat.models.relocate.relocate_dead_events", lambda *args: moved.append(relocate(*args)) or moved[-1])
    whole, half, rest = tmp_path / "five.splat", tmp_path / "two.splat", tmp_path / "two-more.splat"
    small = ["--samples", "4096", "--events", "16", "--device", "cpu"]  # more events than notes: some die
    assert run_cli("fit", GUITAR, "-o", whole, *small, "--steps", "5").exit_code == 0
    assert run_cli("fit", GUITAR, "-o", half, *small, "--steps", "2").exit_code == 0
    assert run_cli("fit", GUITAR, "-o", rest, "--resume", half, "--steps", "3", "--device", "cpu").exit_code == 0
    # at steps 2 and 4, in the whole fit and again in the halves, the same events each time
    assert len(moved) == 4 and moved[:2] == moved[2:] and min(moved) > 0, moved
    a, b = read_splat(whole), read_splat(rest)
    np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-6)
    for name, value in a.parameters.items():
        torch.testing.assert_close(b.parameters[name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_the_event_table_lines_up_its_columns():
    from audiosplat.cli.inspect import text_table

    lines = text_table(("n", "name", "value"), [("1", "a", "0.5"), ("10", "long name", "-12.25")], left=("name",))
    assert lines == [" n  name        value", " 1  a             0.5", "10  long name  -12.25"]


def test_fit_with_a_coarse_phase_stores_it_and_its_steps(tmp_path):
    """--coarse with --steps: coarse steps until FINE_STEPS are left (here all but one of
    them exact); the file says so and holds exact events."""
    out = tmp_path / "coarse.splat"
    result = run_cli("fit", GUITAR, "-o", out, "--samples", "8192", "--events", "4", "--steps", "52", "--coarse", "2048", "--device", "cpu", "-q")
    assert result.exit_code == 0, result.stderr
    s = read_splat(out)
    assert (s.fit["coarse_samples"], s.fit["fine_steps"], s.fit["coarse_steps"]) == (2048, FINE_STEPS, 2)
    assert s.config.event_samples is None
    plain = tmp_path / "plain.splat"
    assert run_cli("fit", GUITAR, "-o", plain, *SMALL_FIT).exit_code == 0
    assert "coarse_samples" not in read_splat(plain).fit


@pytest.mark.parametrize("args, fragment", [
    (["--coarse", "3000"], "--coarse: event samples must be a power of two"),
    (["--coarse", "some"], "--coarse: give a number of samples or off"),
    (["--coarse", "1024", "--seconds", "5"], "step budget"),
])
def test_a_bad_coarse_buffer_is_a_one_line_usage_error(tmp_path, args, fragment):
    out = tmp_path / "bad.splat"
    assert_one_line_error(run_cli("fit", GUITAR, "-o", out, "--samples", "4096", "--device", "cpu", *args), fragment, code=2)
    assert not out.exists()


def test_resume_refuses_a_coarse_buffer(tmp_path):
    first = tmp_path / "first.splat"
    assert run_cli("fit", GUITAR, "-o", first, *SMALL_FIT).exit_code == 0
    result = run_cli("fit", GUITAR, "-o", tmp_path / "more.splat", "--resume", first, "--steps", "1", "--coarse", "1024")
    assert_one_line_error(result, "--resume continues a fit with exact steps", code=2)


def test_fit_without_a_budget_stops_once_converged(tmp_path):
    """No --steps or --seconds: the fit runs until a period of CONVERGE_EVERY steps stops
    paying (from step CONVERGE_FROM), stores the rule and that it ended the fit, and leaves
    its dead events out."""
    out = tmp_path / "default.splat"
    result = run_cli("fit", GUITAR, "-o", out, "--samples", "4096", "--events", "8", "--device", "cpu", "-q")
    assert result.exit_code == 0, result.stderr
    s = read_splat(out)
    assert s.fit["converged"] and s.fit["converge"] == pytest.approx(0.02)
    assert (s.fit["converge_every"], s.fit["converge_from"]) == (CONVERGE_EVERY, CONVERGE_FROM)
    assert s.fit["steps"] >= CONVERGE_FROM and s.fit["steps"] % CONVERGE_EVERY == 0 and s.fit["steps"] < DEFAULT_STEPS
    assert 1 <= s.n_events <= 8 and s.config.n_events == s.n_events == len(s.noise_seeds)
    gains_db = 20 * np.log10(s.controls.gain.numpy())
    assert gains_db.min() > gains_db.max() - 40.0  # no dead event kept
    said = run_cli("inspect", out)
    assert f"{s.fit['steps']} steps (converged: under 2% in {CONVERGE_EVERY} steps, from step {CONVERGE_FROM}; " in said.stdout
    assert json.loads(run_cli("inspect", out, "--json").stdout)["convergence"]["converged"] is True
