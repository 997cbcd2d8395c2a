"""kill -9 at seeded random moments never leaves a partial output nor damages an existing one.

Three variants, KILLS kills each (20 in CI; `KILLS=200` for a longer run):
- a real `python -m audiosplat fit` subprocess writing onto a valid older .splat, killed at
  random delays spread over one measured run's life (start-up, fitting and writing);
- a forked child calling `write_splat` in a loop on an 8 MB .splat, killed at random moments
  spread over a few writes (so most kills land inside a write);
- the same for `write_wav` (what `render` writes).
After each kill the destination is the old file, byte for byte, or a complete new one; at most
one temporary file `.NAME.0.tmp` is left, never taken for output, and the next write removes it.
Each test prints where its kills landed (run with -s to see it).
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from audiosplat.app.inputs import SPLAT_SUFFIXES, expand_inputs
from audiosplat.app.outputs import is_complete_output
from audiosplat.io.atomic import temp_path
from audiosplat.io.audio import wav_bytes, write_wav
from audiosplat.io.splatfile import read_splat, write_splat
from tests.shared import GOLDEN, GUITAR

KILLS = int(os.environ.get("KILLS", "20"))
TINY_FIT = ["--samples", "4096", "--events", "4", "--steps", "2", "--device", "cpu", "-v"]


def _delays(seed: int, span_s: float, n: int = KILLS) -> list[float]:
    """n delays in [0, span_s), one drawn in each of n equal strata, so the whole span is covered."""
    rng = random.Random(seed)
    return [span_s * (k + rng.random()) / n for k in range(n)]


def _leftovers(folder: Path, dest: Path) -> list[str]:
    """Names in `folder` other than `dest`; only its first temporary slot may be there."""
    others = sorted(p.name for p in folder.iterdir() if p != dest)
    assert others in ([], [temp_path(dest, 0).name]), others
    return others


def _fit(dest: Path, seed: int, stderr) -> subprocess.Popen:
    args = ["fit", GUITAR, "-o", dest, *TINY_FIT, "--seed", str(seed)]
    return subprocess.Popen([sys.executable, "-m", "audiosplat", *map(str, args)], stdout=subprocess.DEVNULL, stderr=stderr)


def _timed_fit(folder: Path) -> float:
    folder.mkdir()
    start = time.perf_counter()
    with open(folder / "stderr", "wb") as err:
        assert _fit(folder / "old.splat", 0, err).wait(timeout=300) == 0
    return time.perf_counter() - start


def test_kill_9_during_fit_never_damages_the_output(tmp_path):
    # Two runs at once, as the kills will run, give the life to spread them over.
    with ThreadPoolExecutor(2) as pool:
        lives = list(pool.map(_timed_fit, [tmp_path / "measure0", tmp_path / "measure1"]))
    life = max(lives)
    old = tmp_path / "measure0" / "old.splat"
    old_bytes = old.read_bytes()

    def kill_one(k_delay):
        k, delay = k_delay
        folder = tmp_path / f"kill{k:03d}"
        folder.mkdir()
        dest = folder / "out.splat"
        shutil.copyfile(old, dest)
        log = tmp_path / f"kill{k:03d}.stderr"
        with open(log, "wb") as err:
            process = _fit(dest, 1, err)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            code = process.wait(timeout=60)
        stderr = log.read_text()
        left = _leftovers(folder, dest)
        data = dest.read_bytes()
        if data != old_bytes:
            fitted = read_splat(dest)  # a new file: complete and valid
            assert fitted.fit["seed"] == 1 and not fitted.fit["partial"]
        assert is_complete_output(dest)
        assert [i.path for i in expand_inputs([str(folder)], suffixes=SPLAT_SUFFIXES)] == [dest]
        if code == 0:
            return "finished before the kill"
        if left:
            return "writing (temporary file left)"
        if data != old_bytes:
            return "after the rename"
        return "fitting" if "fitting" in stderr else "start-up"

    with ThreadPoolExecutor(2) as pool:
        phases = Counter(pool.map(kill_one, enumerate(_delays(9, life))))
    print(f"\nfit killed {KILLS} times over a {life:.1f} s life: {dict(phases)}; all outputs intact")
    assert sum(phases.values()) == KILLS


def _kill_in_child(warm, loop, seed: int, span_s: float, check) -> Counter:
    """Fork a child that runs `warm()` once (the first write in a fresh fork is slow: its pages
    are copied on write) and then `loop()` forever; SIGKILL it after each seeded delay from
    the loop's start and `check()`."""
    phases = Counter()
    for delay in _delays(seed, span_s):
        ready, started = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            try:
                warm()
                os.write(started, b"!")
                loop()
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(1)
        os.close(started)
        assert os.read(ready, 1) == b"!"  # the delay counts from the loop's start, not the fork's
        os.close(ready)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "the writer failed before the kill"
        phases[check()] += 1
    return phases


def _check_destination(folder: Path, dest: Path, versions: dict[bytes, str], validate) -> str:
    left = _leftovers(folder, dest)
    data = dest.read_bytes()
    assert data in versions, "the destination holds neither the old file nor a complete new one"
    validate(dest)
    where = "inside a write (temporary file left)" if left else "no temporary file (building a file in memory)"
    return f"{where}, destination {versions[data]}"


def _time(function, repeats: int = 3) -> float:
    function()  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def test_kill_9_during_write_splat_leaves_the_old_or_the_new_file(tmp_path):
    golden = read_splat(GOLDEN)
    big = [dataclasses.replace(golden, loss_history=np.linspace(0, k, 1_000_000)) for k in (1, 2)]  # 8 MB each
    folder = tmp_path / "out"
    folder.mkdir()
    dest = folder / "x.splat"
    versions = {}
    for name, splat in zip(("new A", "new B"), big):
        write_splat(dest, splat)
        versions[dest.read_bytes()] = name
    write_seconds = _time(lambda: write_splat(dest, big[0]))
    shutil.copyfile(GOLDEN, dest)
    versions[GOLDEN.read_bytes()] = "old"

    def loop():
        while True:
            for splat in big:
                write_splat(dest, splat)

    warm = tmp_path / "warm.splat"
    phases = _kill_in_child(lambda: write_splat(warm, big[1]), loop, 7, 3 * write_seconds, lambda: _check_destination(folder, dest, versions, read_splat))
    print(f"\nwrite_splat ({write_seconds * 1000:.0f} ms a write) killed {KILLS} times: {dict(phases)}")
    assert sum(phases.values()) == KILLS
    write_splat(dest, big[0])  # the next write removes a stale temporary file
    assert sorted(folder.iterdir()) == [dest] and versions[dest.read_bytes()] == "new A"


def _complete_wav(path: Path) -> None:
    assert is_complete_output(path)


def test_kill_9_during_write_wav_leaves_the_old_or_the_new_file(tmp_path):
    rng = np.random.default_rng(3)
    clips = [rng.uniform(-1, 1, 2_000_000).astype(np.float32) for _ in range(2)]  # 8 MB each
    folder = tmp_path / "out"
    folder.mkdir()
    dest = folder / "x.wav"
    old = wav_bytes(clips[0][:1000], 22050)
    versions = {old: "old", wav_bytes(clips[0], 22050): "new A", wav_bytes(clips[1], 22050): "new B"}
    write_seconds = _time(lambda: write_wav(dest, clips[0], 22050))
    dest.write_bytes(old)

    def loop():
        while True:
            for clip in clips:
                write_wav(dest, clip, 22050)

    warm = tmp_path / "warm.wav"
    phases = _kill_in_child(lambda: write_wav(warm, clips[1], 22050), loop, 8, 3 * write_seconds, lambda: _check_destination(folder, dest, versions, _complete_wav))
    print(f"\nwrite_wav ({write_seconds * 1000:.0f} ms a write) killed {KILLS} times: {dict(phases)}")
    assert sum(phases.values()) == KILLS
    write_wav(dest, clips[1], 22050)
    assert sorted(folder.iterdir()) == [dest] and versions[dest.read_bytes()] == "new B"
