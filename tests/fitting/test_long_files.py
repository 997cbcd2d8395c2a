"""Long files (fitted window by window, one .splat) and merging files (edit --merge)."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch

from audiosplat.app.api import FitInput, edit_splat_file, fit_long_input, render_splat
from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import SplatFormatError
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.fitting.fit import FitConfig
from audiosplat.fitting.long_fit import _moved
from audiosplat.io.audio import file_sha256
from audiosplat.io.splatfile import FORMAT_VERSION, read_splat, write_splat
from audiosplat.models.registry import build_model
from audiosplat.ops.merge import MergeError, merge
from audiosplat.synth.rooms import user_bank
from tests.cli_runner import run_cli
from tests.shared import GUITAR

N, E = 4096, 4
CONFIG = ModelConfig(n_samples=N, n_events=E)


@pytest.fixture(scope="module")
def long_fit(tmp_path_factory):
    """The guitar clip's first 4.5 windows of N samples, fitted with E events a window."""
    folder = tmp_path_factory.mktemp("long")
    audio, rate = sf.read(GUITAR)
    sf.write(folder / "long.wav", audio[: int(4.5 * N)], rate)
    item = FitInput(folder / "long.wav", folder / "long.splat", duration_s=float("inf"))
    return fit_long_input(item, config=CONFIG, fit_config=FitConfig(steps=3), device="cpu"), item.output


def _only(splat, mask):
    """The file with just the events in `mask`, the others muted."""
    gain = splat.controls.gain
    return dataclasses.replace(splat, controls=splat.controls.replace(gain=torch.where(mask, gain, torch.zeros_like(gain))))


def test_onsets_are_absolute_and_increase_across_windows(long_fit):
    outcome, path = long_fit
    splat = read_splat(path)
    assert splat.config.total_samples == int(4.5 * N) and splat.config.n_windows == 5
    assert 5 <= splat.n_events <= 5 * E  # each window keeps the events it needs, at most E
    onsets = splat.controls.onset_samples
    windows = torch.div(onsets, N, rounding_mode="floor")
    assert windows.unique().tolist() == list(range(5))  # every window has events, in its own span
    assert bool((windows[1:] >= windows[:-1]).all())  # stored window after window


def test_the_fit_lowers_the_loss_on_each_window(long_fit):
    outcome, _ = long_fit
    assert len(outcome.result.windows) == 5
    for window in outcome.result.windows:
        assert window.final_loss < window.first_loss


def test_the_long_render_is_the_sum_of_the_windows_renders(long_fit):
    _, path = long_fit
    splat = read_splat(path)
    whole = render_splat(splat)
    assert whole.shape == (int(4.5 * N),)
    window = splat.controls.onset_samples // N
    parts = sum(render_splat(_only(splat, window == k)) for k in range(5))
    np.testing.assert_allclose(parts, whole, atol=1e-5 * np.abs(whole).max())


def test_an_event_placed_at_one_second_starts_at_one_second(long_fit):
    _, path = long_fit
    splat = read_splat(path)
    # event 0 and a silent copy: a one-window file of two events, rendered the ordinary way
    two = torch.tensor([0, 0])
    events = splat.controls.select(two)
    single = dataclasses.replace(
        splat, config=dataclasses.replace(CONFIG, n_events=2), parameters={},
        controls=events.replace(onset_bits=samples_to_bits(torch.tensor([0, 0]), 12), gain=events.gain * torch.tensor([1.0, 0.0])),
        noise_seeds=splat.noise_seeds[two], latents=splat.latents[two],
    )
    at = CONFIG.sample_rate  # 1.0 s, in window 6 of N = 4096
    late = dataclasses.replace(
        single, config=dataclasses.replace(CONFIG, total_samples=3 * at),
        controls=single.controls.replace(onset_bits=samples_to_bits(torch.tensor([at, at]), 17)),
    )
    alone, placed = render_splat(single), render_splat(late)
    assert np.abs(placed[:at]).max() < 1e-6 * np.abs(alone).max()  # FFT round-off only
    np.testing.assert_allclose(placed[at : at + N], alone, atol=1e-5 * np.abs(alone).max())


def test_a_long_file_reads_back_equal(long_fit, tmp_path):
    outcome, path = long_fit
    splat = read_splat(path)
    write_splat(tmp_path / "again.splat", splat)
    again = read_splat(tmp_path / "again.splat")
    assert again.config == splat.config == outcome.splat.config
    assert torch.equal(again.controls.onset_samples, outcome.splat.controls.onset_samples)
    for name, value in splat.controls.named_fields().items():
        assert torch.equal(getattr(again.controls, name), value)
    assert all(torch.equal(again.parameters[k], v) for k, v in splat.parameters.items())
    assert torch.equal(again.latents, splat.latents) and torch.equal(again.noise_seeds, splat.noise_seeds)
    assert again.format_version == FORMAT_VERSION


def test_direct_rows_of_a_long_file_decode_to_its_onsets(long_fit):
    _, path = long_fit
    splat = read_splat(path)
    onset_frames = splat.parameters["groups.onset_frames"][:, 0]
    expected = (onset_frames * CONFIG.frame_size).clamp(0, splat.config.total_length - 1).round().long()
    assert torch.equal(expected, splat.controls.onset_samples)
    assert torch.equal(splat.latents[:, 0], onset_frames)


def test_onsets_past_the_total_length_are_refused(long_fit, tmp_path):
    _, path = long_fit
    bad = tmp_path / "bad.splat"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["events/onset_samples"][0] = int(4.5 * N)
    with pytest.raises(SplatFormatError, match="outside"):
        read_splat(bad)


def test_a_long_fit_counts_the_coarse_steps_of_all_its_windows(long_fit, tmp_path):
    """Each window takes its own coarse phase; the file counts them all and holds exact events."""
    source = long_fit[1].with_name("long.wav")
    item = FitInput(source, tmp_path / "coarse.splat", duration_s=0.5)
    fit_long_input(item, config=CONFIG, fit_config=FitConfig(steps=3, coarse_samples=1024, fine_steps=1), device="cpu")
    splat = read_splat(item.output)
    assert splat.fit["windows"] == 3 and splat.config.event_samples is None
    assert (splat.fit["coarse_samples"], splat.fit["fine_steps"], splat.fit["coarse_steps"]) == (1024, 1, 3 * 2)


def test_cli_fits_renders_and_inspects_a_long_file(long_fit, tmp_path):
    _, path = long_fit
    source = path.with_name("long.wav")
    out = tmp_path / "cli.splat"
    result = run_cli("fit", source, "-o", out, "--samples", N, "--events", E, "--steps", 1, "--duration", 0.5, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.stderr
    splat = read_splat(out)
    assert splat.config.total_samples == round(0.5 * 22050) and 3 <= splat.n_events <= 3 * E
    inspected = run_cli("inspect", out, "--json")
    summary = json.loads(inspected.stdout)
    assert summary["duration_s"] == pytest.approx(0.5, abs=1e-4) and summary["windows"] == 3 and summary["events"] == splat.n_events
    rendered = run_cli("render", out, "-o", tmp_path / "cli.wav", "-q")
    assert rendered.exit_code == 0, rendered.stderr
    assert sf.info(tmp_path / "cli.wav").frames == round(0.5 * 22050)


@pytest.fixture(scope="module")
def quiet_splat(fitted_splat, tmp_path_factory):
    """`fitted_splat` with its noise bed silenced: a merge keeps one file's bed alone."""
    path = tmp_path_factory.mktemp("quiet") / "quiet.splat"
    edit_splat_file(fitted_splat, path, [("noise-gain", "off")])
    return path


def test_merging_a_file_with_itself_at_zero_doubles_the_render(quiet_splat, tmp_path):
    fitted_splat = quiet_splat
    out = tmp_path / "double.splat"
    edit_splat_file(fitted_splat, out, [("merge", str(fitted_splat)), ("at", "0")])
    merged, original = read_splat(out), read_splat(fitted_splat)
    assert merged.n_events == 2 * original.n_events and not merged.latents_match_controls
    plain = render_splat(dataclasses.replace(original, colour_db=None))  # a merged file has no colour
    np.testing.assert_allclose(render_splat(merged), 2 * plain, atol=1e-5 * np.abs(plain).max())
    step = merged.provenance["history"][-1]
    sha = file_sha256(fitted_splat)
    assert step["parent_sha256"] == sha and step["merged_sha256"] == [sha]


def test_merging_at_s_shifts_the_other_events_by_s(quiet_splat):
    original = read_splat(quiet_splat)
    rate, n = original.config.sample_rate, original.config.n_samples
    at_s = 0.25
    shift = round(at_s * rate)
    silent = dataclasses.replace(original, controls=original.controls.replace(gain=torch.zeros_like(original.controls.gain)))
    merged = merge(silent, original, at_s)
    assert merged.config.total_samples == n + shift
    assert torch.equal(merged.controls.onset_samples[original.n_events :], original.controls.onset_samples + shift)
    assert merged.colour_db is None  # the files' colours would be wrong for each other's events
    audio, alone = render_splat(merged), render_splat(dataclasses.replace(original, colour_db=None))
    assert np.abs(audio[:shift]).max() < 1e-6 * np.abs(alone).max()  # FFT round-off only
    np.testing.assert_allclose(audio[shift : shift + n], alone, atol=1e-5 * np.abs(alone).max())
    if original.config.model == "direct":
        rows = merged.parameters["groups.onset_frames"][original.n_events :, 0]
        assert torch.allclose(rows, original.parameters["groups.onset_frames"][:, 0] + shift / original.config.frame_size)


def test_a_long_fit_stores_the_sources_onsets_over_all_its_windows(long_fit):
    """Each window's note onsets from where it starts; a later window's cut is none."""
    splat = read_splat(long_fit[1])
    onsets, total_s = splat.onsets_s, splat.config.total_samples / splat.config.sample_rate
    assert onsets[0] == 0.0 and bool(np.all(np.diff(onsets) > 0)) and onsets[-1] < total_s
    window_s = N / splat.config.sample_rate
    assert not any(abs(t - k * window_s) < 1e-9 for t in onsets for k in range(1, 5))
    assert onsets[-1] > window_s  # later windows add theirs


def test_merging_joins_the_sources_onsets_and_drops_them_when_one_has_none(quiet_splat):
    original = read_splat(quiet_splat)
    assert original.onsets_s is not None and original.onsets_s[0] == 0.0
    merged = merge(original, original, 0.25)
    np.testing.assert_allclose(merged.onsets_s, np.sort(np.concatenate([original.onsets_s, original.onsets_s + 0.25])), atol=1e-4)
    assert merge(original, dataclasses.replace(original, onsets_s=None), 0.25).onsets_s is None


def test_merging_a_window_file_with_a_long_file_places_both(quiet_splat, long_fit):
    """Onset bits are as wide as each file's length needs: the merge re-encodes both."""
    window, long = read_splat(quiet_splat), read_splat(long_fit[1])
    shift = round(0.1 * window.config.sample_rate)
    merged = merge(window, long, 0.1)
    assert merged.config.total_samples == shift + long.config.total_length
    expected = torch.cat([window.controls.onset_samples, long.controls.onset_samples + shift])
    assert torch.equal(merged.controls.onset_samples, expected)
    assert torch.equal(merge(long, window, 0.0).controls.onset_samples[: long.n_events], long.controls.onset_samples)


def test_a_merge_keeps_the_first_bed_and_refuses_an_audible_second(fitted_splat, quiet_splat):
    loud, quiet = read_splat(fitted_splat), read_splat(quiet_splat)
    merged = merge(loud, quiet, 0.1)
    assert torch.equal(merged.noise_bed.levels_db, loud.noise_bed.levels_db)
    with pytest.raises(MergeError, match="noise bed"):
        merge(quiet, loud, 0.1)


def test_merging_files_with_other_rooms_is_refused(fitted_splat):
    original = read_splat(fitted_splat)
    rooms = user_bank(["a"], torch.ones(1, original.config.n_samples))
    with pytest.raises(MergeError, match="different rooms"):
        merge(original, dataclasses.replace(original, rooms=rooms), 0.0)


def test_events_the_last_window_puts_past_the_end_are_dropped(long_fit):
    """The last window is zero-padded past the audio's end; an event the fit moved there
    sounds nowhere in the audio, and a file cannot hold an onset past its length."""
    splat = read_splat(long_fit[1])
    total = splat.config.total_samples
    window = splat.controls.select(slice(0, E))
    state = {name: value[:E] for name, value in splat.parameters.items()}
    start = total - int(window.onset_samples[1]) - 1  # moves event 1 to the last sample, events after it past the end
    model = build_model(dataclasses.replace(splat.config, total_samples=None), splat.rooms.n_rooms)
    controls, latents, parameters, inside = _moved(window, splat.latents[:E], state, model, start, splat.config)
    onsets = window.onset_samples + start
    assert torch.equal(inside, onsets < total) and 0 < int(inside.sum()) < E
    assert int(controls.onset_samples.max()) == total - 1
    assert latents.shape[0] == controls.n_events == parameters["groups.pitch"].shape[0] == int(inside.sum())
