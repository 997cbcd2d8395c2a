"""fit --ray: a real local Ray cluster (started by the CLI, as a user's run starts it) writes
what --jobs 1 writes, --skip-existing resumes it and a broken input fails alone; without Ray,
a one-line error."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from audiosplat.io.splatfile import read_splat
from tests.cli_runner import SMALL_FIT, run_cli
from tests.shared import GUITAR, PIANO, ROOT, THREADS_TOLERANCE


def _cli(*args, cwd, pythonpath=str(ROOT)):
    """The real command in a fresh process, as a batch job runs it."""
    command = [sys.executable, "-m", "audiosplat", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": pythonpath})


def _clips(root):
    (root / "in").mkdir()
    for name, clip in (("a", GUITAR), ("b", PIANO), ("c", GUITAR)):
        shutil.copy(clip, root / "in" / f"{name}.wav")
    return root / "in"


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install 'audiosplat[ray]'); CI installs it")
def test_a_local_ray_cluster_writes_what_jobs_1_writes_and_resumes(tmp_path):
    src, one, spread = _clips(tmp_path), tmp_path / "one", tmp_path / "spread"
    assert run_cli("fit", src, "-o", one, *SMALL_FIT, "--seed", "3").exit_code == 0
    result = _cli("fit", src, "-o", spread, *SMALL_FIT, "--seed", "3", "--ray", "local", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = ["a.splat", "b.splat", "c.splat"]
    assert sorted(result.stdout.split()) == [str(spread / n) for n in names]
    # the CLI's own lines only: Ray's start-up and the tasks' logs stay off stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 4 and "3 done, 0 skipped, 0 failed" in lines[-1], result.stderr
    for name in names:
        a, b = read_splat(one / name), read_splat(spread / name)
        np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-5)
        for key in a.parameters:
            np.testing.assert_allclose(b.parameters[key].numpy(), a.parameters[key].numpy(), **THREADS_TOLERANCE)

    (spread / "b.splat").unlink()  # as if its node was lost
    (src / "d.wav").write_text("not audio")  # fails alone, on its node
    kept = (spread / "a.splat").read_bytes()
    again = _cli("fit", src, "-o", spread, *SMALL_FIT, "--seed", "3", "--ray", "local", "--skip-existing", "--report", "r.jsonl", cwd=tmp_path)
    assert again.returncode == 1 and "2 skipped" in again.stderr
    report = {r["input"]: r for r in map(json.loads, (tmp_path / "r.jsonl").read_text().splitlines())}
    assert {k: r["status"] for k, r in report.items()} == {
        str(src / n): status for n, status in (("a.wav", "skipped"), ("b.wav", "done"), ("c.wav", "skipped"), ("d.wav", "failed"))
    }
    assert "not a readable audio file" in report[str(src / "d.wav")]["error"]
    assert (spread / "a.splat").read_bytes() == kept and read_splat(spread / "b.splat").fit["steps"] == 2


def test_without_ray_it_is_a_one_line_error(tmp_path):
    (tmp_path / "ray.py").write_text("raise ImportError('no Ray here')\n")
    result = _cli("fit", GUITAR, "-o", tmp_path / "out.splat", *SMALL_FIT, "--ray", "auto", cwd=tmp_path, pythonpath=f"{tmp_path}{os.pathsep}{ROOT}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["audiosplat: error: --ray needs Ray, which is not installed: pip install 'audiosplat[ray]'"]


def test_ray_with_jobs_is_a_usage_error(tmp_path):
    result = run_cli("fit", GUITAR, "-o", tmp_path / "out.splat", *SMALL_FIT, "--ray", "auto", "--jobs", "2")
    assert result.exit_code == 2 and "drop --jobs" in result.stderr
