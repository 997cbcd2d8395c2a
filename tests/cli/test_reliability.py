"""What a careless or hostile user can do through the real CLI: no input overwritten, one
error line and a clean exit code for everything, no hang on a pipe, a batch that goes on
and writes its report, and quiet exits on a closed pipe or Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from audiosplat.io.splatfile import read_splat
from tests.cli_runner import SMALL_FIT, assert_one_line_error, run_cli
from tests.shared import GOLDEN, GUITAR, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CLI = [sys.executable, "-m", "audiosplat"]


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def _splats(folder: Path, n: int) -> Path:
    for i in range(n):
        _copy(GOLDEN, folder / f"g{i:03d}.splat")
    return folder


@pytest.mark.parametrize("command", ["fit-report-input", "fit-report-output", "render-report-input", "inspect-plot-input", "edit-merge-output"])
def test_a_path_written_over_a_path_read_is_refused(tmp_path, command):
    wav, splat = _copy(GUITAR, tmp_path / "in.wav"), _copy(GOLDEN, tmp_path / "in.splat")
    before = {p: p.read_bytes() for p in (wav, splat)}
    args = {
        "fit-report-input": ["fit", wav, "-o", tmp_path / "o.splat", *SMALL_FIT, "--report", wav],
        "fit-report-output": ["fit", wav, "-o", splat, *SMALL_FIT, "--report", splat],
        "render-report-input": ["render", splat, "-o", tmp_path / "o.wav", "--report", splat],
        "inspect-plot-input": ["inspect", splat, "--plot", splat],
        "edit-merge-output": ["edit", splat, "-o", tmp_path / "m.splat", "--merge", tmp_path / "m.splat"],
    }[command]
    if command == "edit-merge-output":
        _copy(GOLDEN, tmp_path / "m.splat")
        before[tmp_path / "m.splat"] = GOLDEN.read_bytes()
    result = run_cli(*args)
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and ("would overwrite" in result.stderr or "named twice" in result.stderr)
    assert all(p.read_bytes() == data for p, data in before.items())


@pytest.mark.parametrize("pattern", ["**/../../*.splat", "/tmp/*.splat", "../*.splat"])
def test_a_glob_cannot_reach_outside_its_folder(tmp_path, pattern):
    inside = _splats(tmp_path / "deep" / "in", 1)
    victim = _copy(GOLDEN, tmp_path / "victim.splat")
    assert_one_line_error(run_cli("render", inside, "-o", tmp_path / "out", "--glob", pattern), "glob", code=2)
    assert victim.read_bytes() == GOLDEN.read_bytes() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "edit",
    [["--transpose", "1e9"], ["--shift", "inf"], ["--shift", "nan"], ["--gain", "1e300"], ["--stretch", "0"], ["--merge", "M", "--at", "1e300"], ["--wet", "2"]],
)
def test_edit_values_out_of_range_are_usage_errors(tmp_path, edit):
    merge = _copy(GOLDEN, tmp_path / "m.splat")
    out = tmp_path / "o.splat"
    result = run_cli("edit", GOLDEN, "-o", out, *[merge if a == "M" else a for a in edit])
    assert_one_line_error(result, code=2)
    assert not out.exists()


@pytest.mark.parametrize("options, fragment", [(["--lr", "1e30"], "learning rate"), (["--events", "1048576"], "events"), (["--samples", str(2**23)], "n_samples")])
def test_fit_settings_beyond_bounds_are_refused_before_any_work(tmp_path, options, fragment):
    out = tmp_path / "o.splat"
    assert_one_line_error(run_cli("fit", GUITAR, "-o", out, *SMALL_FIT, *options), fragment, code=2)  # the last value given counts
    assert not out.exists()


def test_perturb_variants_are_bounded(tmp_path):
    result = run_cli("perturb", GOLDEN, "-o", tmp_path / "v", "--variants", "10001")
    assert result.exit_code == 2 and not (tmp_path / "v").exists()


@pytest.mark.parametrize("row", [["0", "10", "1", "60", "0", "1", "x" * 200_000], ["0", "10", "1" * 20, "60", "0", "1", "Whole"], ["0", "ten", "1", "60", "0", "1", "Whole"]])
def test_a_malformed_musicnet_csv_is_one_line(tmp_path, row):
    root = tmp_path / "musicnet"
    _copy(GUITAR, root / "train_data" / "1.wav")
    (root / "train_labels").mkdir()
    with open(root / "train_labels" / "1.csv", "w", newline="") as f:
        csv.writer(f).writerows([["start_time", "end_time", "instrument", "note", "start_beat", "end_beat", "note_value"], row])
    assert_one_line_error(run_cli("fit", "--musicnet", root, "-o", tmp_path / "o", *SMALL_FIT), "1.csv", "not a MusicNet labels file")


def test_a_fifo_is_read_once_and_fitted(tmp_path):
    fifo = tmp_path / "clip.wav"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(GUITAR.read_bytes()), daemon=True)
    writer.start()
    out = tmp_path / "o.splat"
    result = run_cli("fit", fifo, "-o", out, *SMALL_FIT)
    writer.join(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert read_splat(out).provenance["source_name"] == "clip.wav"


def test_failed_stems_leave_no_main_wav(tmp_path):
    blocker = tmp_path / "stems"
    blocker.write_text("a file where the stems folder should go")
    out = tmp_path / "o.wav"
    result = run_cli("render", GOLDEN, "-o", out, "--stems", blocker)
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists()


def test_a_closed_pipe_ends_quietly(tmp_path):
    folder = _splats(tmp_path / "in", 200)
    process = subprocess.Popen([*CLI, "inspect", folder, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    first = process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert json.loads(first)["file"].endswith("g000.splat")
    assert process.returncode == 141 and stderr == b""


def test_nul_separated_paths_carry_a_newline_in_a_name(tmp_path):
    odd = _copy(GUITAR, tmp_path / "src" / "two\nlines.wav")
    small = [str(a) for a in SMALL_FIT]
    fit = subprocess.Popen([*CLI, "fit", "-0", "-", "-o", tmp_path / "fit", *small, "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV)
    fit.stdin.write(bytes(odd) + b"\0")
    fit.stdin.close()
    render = subprocess.run([*CLI, "render", "-0", "-", "-o", tmp_path / "wav", "-q"], stdin=fit.stdout, capture_output=True, env=ENV, timeout=300)
    fit.wait(timeout=300)
    assert fit.returncode == 0 and render.returncode == 0, render.stderr
    assert render.stdout == bytes(tmp_path / "wav" / "two\nlines.wav") + b"\0"
    assert (tmp_path / "wav" / "two\nlines.wav").is_file()


def test_ctrl_c_in_a_batch_says_what_was_written_and_keeps_the_report(tmp_path):
    folder = _splats(tmp_path / "in", 300)
    report = tmp_path / "r.jsonl"
    process = subprocess.Popen([*CLI, "render", folder, "-o", tmp_path / "out", "--report", report], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 130 and "Traceback" not in stderr.decode()
    assert "interrupted after" in lines[-1] and "the input under way was not written" in lines[-1]
    done = [json.loads(line) for line in report.read_text().splitlines()]
    written = sorted((tmp_path / "out").glob("*.wav"))
    assert 1 <= len(done) < 300 and sorted(Path(r["output"]) for r in done if r["status"] == "done") == written


def test_a_killed_worker_fails_its_inputs_and_the_batch_goes_on(tmp_path):
    sources = [_copy(GUITAR, tmp_path / "src" / f"{name}.wav") for name in "abc"]
    report = tmp_path / "r.jsonl"
    long_fit = ["--samples", "4096", "--events", "4", "--steps", "100000", "--seconds", "8", "--device", "cpu"]
    process = subprocess.Popen([*CLI, "fit", *sources, "-o", tmp_path / "out", *long_fit, "--jobs", "2", "--report", report], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    victim = _wait_for_workers(process.pid, 2)[0]
    time.sleep(1.0)
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    rows = {Path(r["input"]).stem: r for r in map(json.loads, report.read_text().splitlines())}
    assert process.returncode == 1 and "Traceback" not in stderr.decode()
    assert sorted(rows) == ["a", "b", "c"] and rows["c"]["status"] == "done"
    died = [r for r in rows.values() if r["status"] == "failed"]
    assert died and all("worker process" in r["error"] for r in died)
    assert any(not Path(r["output"]).exists() for r in died)  # the killed worker's


def _wait_for_workers(pid: int, n: int, timeout_s: float = 60) -> list[int]:
    """The pids of `pid`'s multiprocessing workers, once `n` of them have started fitting."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        workers = [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        if len(workers) >= n:
            time.sleep(3.0)  # past torch's import: the workers are fitting
            return workers
        time.sleep(0.1)
    raise AssertionError("the workers did not start")
