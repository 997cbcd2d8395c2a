"""Batches through the CLI: folders, stdin, mirrored outputs, --skip-existing, failures,
--fail-fast, --report, --jobs, and a real shell pipeline. Outputs are read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import soundfile as sf

from audiosplat.io.splatfile import read_splat
from tests.cli_runner import SMALL_FIT, run_cli
from tests.shared import GUITAR, PIANO, ROOT, THREADS_TOLERANCE


def _tree(root):
    """src/a.wav, src/sub/b.wav (real clips) and a text file fit must ignore."""
    (root / "src" / "sub").mkdir(parents=True)
    shutil.copy(GUITAR, root / "src" / "a.wav")
    shutil.copy(PIANO, root / "src" / "sub" / "b.wav")
    (root / "src" / "notes.txt").write_text("not audio")
    return root / "src"


def _report(path):
    return {r["input"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_a_folder_is_fitted_into_a_mirrored_tree(tmp_path):
    src, out = _tree(tmp_path), tmp_path / "out"
    result = run_cli("fit", src, "-o", out, *SMALL_FIT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [str(out / "a.splat"), str(out / "sub" / "b.splat")]
    assert read_splat(out / "a.splat").provenance["source_name"] == "a.wav"
    assert read_splat(out / "sub" / "b.splat").provenance["source_name"] == "b.wav"
    assert "2 done, 0 skipped, 0 failed" in result.stderr


def test_a_killed_batch_resumes_with_skip_existing(tmp_path):
    src, out = _tree(tmp_path), tmp_path / "out"
    shutil.copy(GUITAR, src / "c.wav")
    assert run_cli("fit", src, "-o", out, *SMALL_FIT).exit_code == 0
    # as if killed: c never written, a left as it was, b's file corrupt
    (out / "c.splat").unlink()
    (out / "sub" / "b.splat").write_bytes(b"half a file")
    kept = (out / "a.splat").read_bytes()
    report = tmp_path / "report.jsonl"
    result = run_cli("fit", src, "-o", out, *SMALL_FIT, "--skip-existing", "--report", report)
    assert result.exit_code == 0, result.stderr
    assert (out / "a.splat").read_bytes() == kept
    lines = _report(report)
    assert {k: r["status"] for k, r in lines.items()} == {str(src / "a.wav"): "skipped", str(src / "sub" / "b.wav"): "done", str(src / "c.wav"): "done"}
    assert read_splat(out / "sub" / "b.splat").fit["steps"] == 2 and read_splat(out / "c.splat").fit["steps"] == 2
    done = lines[str(src / "c.wav")]
    assert done["steps"] == 2 and done["final_loss"] > 0 and 0 < done["relative_l1"] and done["seconds"] > 0 and done["error"] is None
    assert lines[str(src / "a.wav")]["steps"] is None
    assert "2 done, 1 skipped, 0 failed" in result.stderr


def test_a_partial_checkpoint_is_not_skipped(tmp_path, fitted_splat):
    import h5py

    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(fitted_splat, out / "guitar_em9.splat")
    with h5py.File(out / "guitar_em9.splat", "r+") as f:
        f["fit"].attrs["partial"] = True
    result = run_cli("fit", GUITAR, PIANO, "-o", out, *SMALL_FIT, "--skip-existing")
    assert result.exit_code == 0 and "2 done" in result.stderr
    assert not read_splat(out / "guitar_em9.splat").fit["partial"]


def _broken(tmp_path):
    bad = tmp_path / "in" / "a_broken.wav"
    bad.parent.mkdir()
    bad.write_text("not audio")
    shutil.copy(GUITAR, tmp_path / "in" / "b_good.wav")
    shutil.copy(PIANO, tmp_path / "in" / "c_good.wav")
    return bad


def test_a_broken_input_fails_alone(tmp_path):
    bad, out, report = _broken(tmp_path), tmp_path / "out", tmp_path / "r.jsonl"
    result = run_cli("fit", tmp_path / "in", "-o", out, *SMALL_FIT, "--report", report)
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["b_good.splat", "c_good.splat"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("audiosplat: error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "not a readable audio file" in errors[0]
    assert "2 done, 0 skipped, 1 failed" in result.stderr
    failed = _report(report)[str(bad)]
    assert failed["status"] == "failed" and "not a readable audio file" in failed["error"] and failed["steps"] is None
    assert result.stdout.split() == [str(out / "b_good.splat"), str(out / "c_good.splat")]


def test_fail_fast_stops_at_the_first_failure(tmp_path):
    _broken(tmp_path)
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    result = run_cli("fit", tmp_path / "in", "-o", out, *SMALL_FIT, "--fail-fast", "--report", report)
    assert result.exit_code == 1 and list(out.iterdir()) == []
    assert [r["status"] for r in _report(report).values()] == ["failed"]


def test_jobs_2_writes_what_jobs_1_writes(tmp_path):
    src = _tree(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("fit", src, "-o", one, *SMALL_FIT, "--seed", "3").exit_code == 0
    result = run_cli("fit", src, "-o", two, *SMALL_FIT, "--seed", "3", "--jobs", "2", "--report", tmp_path / "r.jsonl")
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted([str(two / "a.splat"), str(two / "sub" / "b.splat")])
    for name in ("a.splat", "sub/b.splat"):
        a, b = read_splat(one / name), read_splat(two / name)
        np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-4)
        assert a.parameters.keys() == b.parameters.keys()
        for key in a.parameters:
            np.testing.assert_allclose(b.parameters[key].numpy(), a.parameters[key].numpy(), **THREADS_TOLERANCE)
    assert [r["status"] for r in _report(tmp_path / "r.jsonl").values()] == ["done", "done"]


def test_other_commands_take_folders(tmp_path):
    src = _tree(tmp_path)
    fitted, wavs, edited, varied = (tmp_path / name for name in ("fitted", "wavs", "edited", "varied"))
    assert run_cli("fit", src, "-o", fitted, *SMALL_FIT).exit_code == 0
    rendered = run_cli("render", fitted, "-o", wavs, "--stems", tmp_path / "stems")
    assert rendered.exit_code == 0, rendered.stderr
    assert rendered.stdout.split() == [str(wavs / "a.wav"), str(wavs / "sub" / "b.wav")]
    assert sf.info(str(wavs / "sub" / "b.wav")).frames == 4096
    assert len(list((tmp_path / "stems" / "sub" / "b").glob("event-*.wav"))) == 4
    assert run_cli("edit", fitted, "-o", edited, "--gain", "-6").exit_code == 0
    assert read_splat(edited / "sub" / "b.splat").provenance["history"][-1]["op"] == "edit"
    perturbed = run_cli("perturb", fitted, "-o", varied, "--variants", "2")
    assert perturbed.exit_code == 0
    assert perturbed.stdout.split() == [str(varied / n) for n in ("a-001.splat", "a-002.splat", "sub/b-001.splat", "sub/b-002.splat")]
    again = run_cli("perturb", fitted, "-o", varied, "--variants", "2", "--skip-existing")
    assert again.exit_code == 0 and "0 done, 2 skipped" in again.stderr
    inspected = run_cli("inspect", fitted, "--json")
    assert [json.loads(line)["file"] for line in inspected.stdout.splitlines()] == [str(fitted / "a.splat"), str(fitted / "sub" / "b.splat")]
    assert run_cli("render", fitted, "-o", "-").exit_code == 2  # stdout takes one wav


def test_a_shell_pipeline(tmp_path):
    src = _tree(tmp_path)
    python = f"{sys.executable} -m audiosplat"
    small = " ".join(SMALL_FIT)
    script = (
        f"printf '{src / 'a.wav'}\\n{src / 'sub' / 'b.wav'}\\n' | {python} fit - -o out/ {small} --report fit.jsonl "
        f"| {python} render - -o wavs/ -q"
    )
    result = subprocess.run(script, shell=True, cwd=tmp_path, capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == ["a.wav", "b.wav"]
    assert all(r["status"] == "done" for r in _report(tmp_path / "fit.jsonl").values())
    assert read_splat(tmp_path / "out" / "b.splat").provenance["source_name"] == "b.wav"
