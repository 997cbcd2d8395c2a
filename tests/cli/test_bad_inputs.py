"""A corpus of awkward and broken inputs, each run through the real CLI: odd but valid audio
fits with finite numbers; broken input gives one line naming the file, exit 1, and leaves
nothing behind."""

from __future__ import annotations

import math
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audiosplat.io.splatfile import read_splat
from tests.cli_runner import SMALL_FIT, assert_one_line_error, run_cli
from tests.shared import GUITAR

RATE = 22050


def _tone(n: int, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(n) / rate
    mono = 0.5 * np.sin(2 * math.pi * 440.0 * t)
    return mono if channels == 1 else np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1)


VALID = {
    "dc_only.wav": lambda p: sf.write(p, np.full(8000, 0.5), RATE),
    "clipped_square.wav": lambda p: sf.write(p, np.clip(4 * np.sign(_tone(8000)), -1, 1), RATE),
    "one_sample.wav": lambda p: sf.write(p, np.array([0.3]), RATE),
    "shorter_than_window.wav": lambda p: sf.write(p, _tone(100), RATE),
    "eight_channels.wav": lambda p: sf.write(p, _tone(8000, channels=8), RATE),
    "rate_8k.wav": lambda p: sf.write(p, _tone(4000, 8000), 8000),
    "rate_192k.wav": lambda p: sf.write(p, _tone(60000, 192000), 192000),
    "pcm24.wav": lambda p: sf.write(p, _tone(8000), RATE, subtype="PCM_24"),
    "float64.wav": lambda p: sf.write(p, _tone(8000), RATE, subtype="DOUBLE"),
    "tone.flac": lambda p: sf.write(p, _tone(8000), RATE, format="FLAC"),
    "tone.ogg": lambda p: sf.write(p, _tone(8000), RATE, format="OGG"),
    "tone.mp3": lambda p: sf.write(p, _tone(22050), RATE, format="MP3"),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_odd_but_valid_audio_fits_with_finite_numbers(tmp_path, name):
    source = tmp_path / name
    VALID[name](str(source))
    out = tmp_path / "out.splat"
    result = run_cli("fit", source, "-o", out, *SMALL_FIT)
    assert result.exit_code == 0, result.stderr
    s = read_splat(out)
    assert np.all(np.isfinite(s.loss_history)) and np.isfinite(s.fit["final_loss"])
    assert s.provenance["source_channels"] == (8 if "eight" in name else 1)


def test_nan_samples_are_refused(tmp_path):
    source = tmp_path / "nan.wav"
    data = _tone(8000)
    data[100] = np.nan
    sf.write(str(source), data, RATE, subtype="FLOAT")
    assert_one_line_error(run_cli("fit", source, "-o", tmp_path / "o.splat", *SMALL_FIT), source, "NaN")


def test_truncated_wav_header_is_refused(tmp_path):
    source = tmp_path / "cut.wav"
    sf.write(str(source), _tone(8000), RATE)
    source.write_bytes(source.read_bytes()[:20])
    assert_one_line_error(run_cli("fit", source, "-o", tmp_path / "o.splat", *SMALL_FIT), source)
    assert not (tmp_path / "o.splat").exists()


def test_offset_reads_only_the_needed_part_of_a_long_file(tmp_path):
    source = tmp_path / "long.wav"
    sf.write(str(source), _tone(RATE * 60), RATE)  # one minute
    out = tmp_path / "late.splat"
    result = run_cli("fit", source, "-o", out, *SMALL_FIT, "--offset", "59.9")
    assert result.exit_code == 0, result.stderr
    assert read_splat(out).provenance["offset_s"] == pytest.approx(59.9)
    assert_one_line_error(run_cli("fit", source, "-o", out, *SMALL_FIT, "--offset", "61"), "past the end")


def _cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "audiosplat", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_disk_full_leaves_no_partial_file(tmp_path):
    """A file-size limit stands in for a full disk: the write fails with EFBIG."""
    out = tmp_path / "big.splat"

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    process = _cli("fit", GUITAR, "-o", out, *SMALL_FIT, preexec_fn=limit_file_size)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_writes_a_resumable_checkpoint(tmp_path, stop):
    out = tmp_path / "stopped.splat"
    process = _cli("fit", GUITAR, "-o", out, "--samples", "4096", "--events", "4", "--steps", "100000", "--device", "cpu", "-v")
    assert "fitting" in process.stderr.readline().decode()
    assert "step 1/100000" in process.stderr.readline().decode()  # a step is done and the signal handler in place
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr.decode()
    assert "resumable checkpoint" in stderr.decode() and "Traceback" not in stderr.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["stopped.splat"]
    checkpoint = read_splat(out)
    done = checkpoint.fit["steps"]
    assert checkpoint.fit["partial"] and 0 < done < 100000 and len(checkpoint.loss_history) == done
    assert int(checkpoint.optimizer["step"]) == done
    resumed = tmp_path / "resumed.splat"
    assert run_cli("fit", GUITAR, "-o", resumed, "--resume", out, "--steps", "2", "--device", "cpu").exit_code == 0
    assert read_splat(resumed).fit["steps"] == done + 2 and not read_splat(resumed).fit["partial"]

