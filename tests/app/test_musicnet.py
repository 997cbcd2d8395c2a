"""MusicNet: a small MusicNet-shaped folder made from the bundled clips (resampled to
44.1 kHz), cut into segments, fitted, and each segment's notes stored with it."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import soxr

from audiosplat.app.musicnet import musicnet_inputs
from audiosplat.io.splatfile import read_splat
from tests.cli_runner import SMALL_FIT, run_cli
from tests.shared import GUITAR, PIANO

HEADER = ["start_time", "end_time", "instrument", "note", "start_beat", "end_beat", "note_value"]
# Segments of 4096 samples at 22050 Hz every 8192: segment k covers [16384 k, 16384 k + 8192) at 44.1 kHz.
NOTES = [
    [0, 4410, 1, 60, 0.0, 0.5, "Eighth"],  # A: segment 0
    [32668, 33768, 41, 62, 2.0, 0.25, "Sixteenth"],  # B: starts 100 samples before segment 2
    [20000, 60000, 1, 64, 1.0, 3.0, "Dotted Half"],  # C: segments 1, 2 and 3
    [9000, 15000, 1, 65, 0.5, 0.5, "Eighth"],  # D: between segments 0 and 1
    [10000, 16384, 1, 67, 0.5, 0.5, "Eighth"],  # E: ends where segment 1 starts
]


@pytest.fixture()
def musicnet(tmp_path):
    root = tmp_path / "musicnet"
    for split, rid, clip in (("train", "1727", GUITAR), ("test", "2000", PIANO)):
        (root / f"{split}_data").mkdir(parents=True)
        (root / f"{split}_labels").mkdir()
        audio, rate = sf.read(str(clip))
        sf.write(str(root / f"{split}_data" / f"{rid}.wav"), soxr.resample(audio, rate, 44100), 44100, subtype="PCM_16")
        rows = NOTES if rid == "1727" else [[0, 44100, 1, 72, 0.0, 4.0, "Whole"]]
        with open(root / f"{split}_labels" / f"{rid}.csv", "w", newline="") as f:
            csv.writer(f).writerows([HEADER, *rows])
    (root / "musicnet_metadata.csv").write_text("id,composer,composition,movement,ensemble\n1727,Schubert,Piano Quintet,2. Andante,Piano Quintet\n")
    return root


def test_segments_are_planned_named_and_labelled(musicnet, tmp_path):
    out = tmp_path / "out"
    inputs = musicnet_inputs(musicnet, out, n_samples=4096, sample_rate=22050, hop=8192)
    starts = [8192 * k for k in range(8)]
    assert [i.output for i in inputs] == [out / rid / f"{s:09d}.splat" for rid in ("1727", "2000") for s in starts]
    assert [i.offset_s for i in inputs[:8]] == [s / 22050 for s in starts]
    notes = [i.labels["note"].tolist() for i in inputs[:8]]
    assert notes == [[60], [64], [62, 64], [64], [], [], [], []]
    two = inputs[2].labels
    np.testing.assert_allclose(two["onset_s"], [-100 / 44100, (20000 - 32768) / 44100])
    np.testing.assert_allclose(two["offset_s"], [1000 / 44100, (60000 - 32768) / 44100])
    assert two["instrument"].tolist() == [41, 1] and two["note_value"].tolist() == ["Sixteenth", "Dotted Half"]
    assert two["start_beat"].tolist() == [2.0, 1.0] and two["end_beat"].tolist() == [0.25, 3.0]
    about = inputs[2].provenance["musicnet"]
    assert about["id"] == "1727" and about["split"] == "train" and about["segment_start_samples"] == 16384
    assert about["segment_start_s"] == pytest.approx(16384 / 22050) and about["metadata"]["composer"] == "Schubert"
    assert inputs[8].provenance["musicnet"]["split"] == "test" and "metadata" not in inputs[8].provenance["musicnet"]
    chosen = musicnet_inputs(musicnet, out, n_samples=4096, sample_rate=22050, hop=8192, segments="random:3", seed=4)
    assert len(chosen) == 6 and {i.output for i in chosen} <= {i.output for i in inputs}
    again = musicnet_inputs(musicnet, out, n_samples=4096, sample_rate=22050, hop=8192, segments="random:3", seed=4)
    assert [i.output for i in again] == [i.output for i in chosen]


def test_fit_musicnet_stores_segments_with_their_notes(musicnet, tmp_path):
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    result = run_cli("fit", "--musicnet", musicnet, "-o", out, *SMALL_FIT, "--hop", "8192", "--segments", "3", "--report", report)
    assert result.exit_code == 0, result.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.splat")) == [
        f"{rid}/{s:09d}.splat" for rid in ("1727", "2000") for s in (0, 8192, 16384)
    ]
    s = read_splat(out / "1727" / "000016384.splat")
    assert s.labels["note"].tolist() == [62, 64]
    np.testing.assert_allclose(s.labels["onset_s"], [-100 / 44100, (20000 - 32768) / 44100])
    assert s.labels["note_value"].tolist() == ["Sixteenth", "Dotted Half"]
    about = s.provenance["musicnet"]
    assert (about["id"], about["split"], about["segment_start_samples"]) == ("1727", "train", 16384)
    assert about["metadata"]["composition"] == "Piano Quintet"
    assert s.provenance["offset_s"] == pytest.approx(16384 / 22050) and s.provenance["source_name"] == "1727.wav"
    assert read_splat(out / "1727" / "000008192.splat").labels["note"].tolist() == [64]
    assert read_splat(out / "2000" / "000000000.splat").provenance["musicnet"]["split"] == "test"
    assert len(report.read_text().splitlines()) == 6
    more = run_cli("fit", "--musicnet", musicnet, "-o", out, *SMALL_FIT, "--hop", "8192", "--segments", "4", "--skip-existing", "--jobs", "2")
    assert more.exit_code == 0, more.stderr
    assert "2 done, 6 skipped, 0 failed" in more.stderr
    assert read_splat(out / "1727" / "000024576.splat").labels["note"].tolist() == [64]


def test_musicnet_usage(musicnet, tmp_path):
    assert run_cli("fit", GUITAR, "--musicnet", musicnet, "-o", tmp_path / "o", *SMALL_FIT).exit_code == 2
    bad = run_cli("fit", "--musicnet", tmp_path, "-o", tmp_path / "o", *SMALL_FIT)
    assert bad.exit_code == 1 and "MusicNet" in bad.stderr
    assert run_cli("fit", "--musicnet", musicnet, "-o", tmp_path / "o", *SMALL_FIT, "--segments", "some").exit_code == 1
