"""Quality figures for `inspect --against`, and the inspect table's ordering and selection."""

from __future__ import annotations

import json
import math

import h5py
import pytest
import torch

from audiosplat.eval.baselines import model_numbers, oracle_render, vocoder_levels, vocoder_render
from audiosplat.eval.metrics import chroma_similarity, hz_to_mel, log_mel_distance, mel_filterbank
from audiosplat.io.splatfile import read_splat
from tests.cli_runner import run_cli
from tests.shared import GOLDEN, GUITAR


def test_log_mel_distance_is_zero_for_the_same_signal_and_log2_for_half():
    x = torch.randn(8192, generator=torch.Generator().manual_seed(0))
    assert log_mel_distance(x, x, 22050) == 0.0
    # halving the amplitude lowers every (unclamped) log-mel value by log10(2)
    assert log_mel_distance(x, 0.5 * x, 22050) == pytest.approx(math.log10(2.0), rel=1e-4)


def test_log_mel_distance_grows_with_added_noise():
    generator = torch.Generator().manual_seed(1)
    x, noise = torch.randn(8192, generator=generator), torch.randn(8192, generator=generator)
    distances = [log_mel_distance(x, x + level * noise, 22050) for level in (0.01, 0.1, 1.0)]
    assert 0.0 < distances[0] < distances[1] < distances[2]


def _tone(hz: float, n_samples: int = 16384, rate: int = 22050) -> torch.Tensor:
    return torch.sin(2 * math.pi * hz * torch.arange(n_samples) / rate)


def test_chroma_similarity_tells_pitch_classes_apart():
    a4 = _tone(440.0)
    assert chroma_similarity(a4, a4, 22050) == pytest.approx(1.0, abs=1e-6)
    assert chroma_similarity(a4, _tone(466.16), 22050) < 0.2  # A#4: the neighbouring class
    assert chroma_similarity(a4, _tone(880.0), 22050) > 0.99  # A5: the same class an octave up


def test_chroma_similarity_ignores_gain_and_scores_a_silent_render_zero():
    x = torch.randn(16384, generator=torch.Generator().manual_seed(2))
    y = x + torch.randn(16384, generator=torch.Generator().manual_seed(3))
    assert chroma_similarity(x, 0.1 * y, 22050) == pytest.approx(chroma_similarity(x, y, 22050), rel=1e-5)
    assert chroma_similarity(3.0 * x, y, 22050) == pytest.approx(chroma_similarity(x, y, 22050), rel=1e-5)
    assert chroma_similarity(x, torch.zeros(16384), 22050) == 0.0


def test_mel_filters_peak_at_their_centres():
    n_fft, n_mels, rate = 2048, 40, 22050
    bank = mel_filterbank(n_fft, n_mels, rate)
    assert bank.shape == (n_mels, n_fft // 2 + 1) and float(bank.max()) <= 1.0 + 1e-6
    top_mel = float(hz_to_mel(torch.tensor(rate / 2.0)))
    centres_mel = torch.linspace(0.0, top_mel, n_mels + 2, dtype=torch.float64)[1:-1]
    centres_hz = 700.0 * (10.0 ** (centres_mel / 2595.0) - 1.0)
    peaks_hz = bank.argmax(dim=1).double() * rate / n_fft
    bin_hz = rate / n_fft
    assert float((peaks_hz - centres_hz).abs().max()) <= bin_hz  # each triangle peaks at its mel centre


def test_inspect_against_reports_the_stored_quality(fitted_splat):
    result = run_cli("inspect", fitted_splat, "--against", GUITAR, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    stored = read_splat(fitted_splat).fit["relative_spectral_l1"]
    assert summary["against"]["relative_spectral_l1_2048_256"] == pytest.approx(stored, rel=1e-5)
    assert summary["against"]["log_mel_distance"] > 0
    assert 0 < summary["against"]["chroma_similarity"] <= 1
    assert "visqol" not in summary["against"]  # the 4096-sample clip is too short for ViSQOL


def test_inspect_sorts_and_selects_events(fitted_splat):
    by_time = json.loads(run_cli("inspect", fitted_splat, "--json", "--sort", "time").stdout)["event_table"]
    onsets = [row["onset_s"] for row in by_time]
    assert onsets == sorted(onsets)
    by_energy = json.loads(run_cli("inspect", fitted_splat, "--json", "--sort", "energy").stdout)["event_table"]
    energies = [row["energy_db"] for row in by_energy]
    assert energies == sorted(energies, reverse=True)
    old = json.loads(run_cli("inspect", GOLDEN, "--json", "--sort", "energy").stdout)["event_table"]  # before 1.10.0: by gain
    assert [row["gain_db"] for row in old] == sorted((row["gain_db"] for row in old), reverse=True)
    subset = json.loads(run_cli("inspect", fitted_splat, "--json", "--events", "1,3").stdout)["event_table"]
    assert [row["event"] for row in subset] == [1, 3]


def test_inspect_draws_the_timeline(fitted_splat, tmp_path):
    picture = tmp_path / "timeline.png"
    result = run_cli("inspect", fitted_splat, "--plot", picture, "--against", GUITAR)
    assert result.exit_code == 0, result.stderr
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert [p.name for p in tmp_path.iterdir()] == ["timeline.png"]  # no temporary left behind


def test_inspect_plot_takes_one_file(fitted_splat, tmp_path):
    result = run_cli("inspect", fitted_splat, fitted_splat, "--plot", tmp_path / "t.png")
    assert result.exit_code == 2 and "one file" in result.stderr


def test_noise_vocoder_stores_2064_numbers_and_loses_the_pitch_the_oracle_keeps():
    t = torch.arange(2**16) / 22050
    harmonic = sum(torch.sin(2 * math.pi * 220.0 * k * t) / k for k in range(1, 9))
    levels = vocoder_levels(harmonic, 22050)
    assert levels.shape == (16, 129) and levels.numel() == 2064
    vocoded = vocoder_render(levels, 2**16, 22050, torch.Generator().manual_seed(0))
    oracle, _ = oracle_render(harmonic, torch.Generator().manual_seed(0))
    assert chroma_similarity(harmonic, oracle, 22050) > 0.9
    assert chroma_similarity(harmonic, vocoded, 22050) < chroma_similarity(harmonic, oracle, 22050) - 0.2


def test_model_numbers_count_every_number_of_the_files_events_and_parameters():
    in_file = []
    with h5py.File(GOLDEN, "r") as f:
        f.visititems(lambda name, item: in_file.append(item.size) if isinstance(item, h5py.Dataset) and name.startswith(("parameters/", "events/")) else None)
    assert model_numbers(read_splat(GOLDEN)) == sum(in_file)
