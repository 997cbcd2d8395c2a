"""Quality against the wall-clock seconds of whole `audiosplat fit` commands, clip by clip.

    .venv/bin/python -m benchmarks.time_to_quality --plot out/ttq.png
    .venv/bin/python -m benchmarks.time_to_quality --samples 8192 --clips examples/piano_mozart_k545.wav --points 5 10

Two arms on each clip (default: every wav in ../shared/audio), each command its own process,
timed from start to exit (start-up, analysis and writing included):
  steps    one fit of the first --points budget, then `fit --resume PREVIOUS --steps (next -
           previous)` for each next budget; a point's seconds are the sum of its commands so far;
  default  one `audiosplat fit CLIP -o OUT` without --steps, which stops by itself once more
           steps stop paying (/fit@converged) or at its step limit.
Every point's render is scored against the clip: ViSQOL MOS-LQO (needs audiosplat[eval]),
chroma similarity and multi-scale log-mel distance. One JSON line per clip and point on stdout;
a table on stderr of the default against the largest budget, with clips per hour of each;
--plot draws ViSQOL (log-mel without ViSQOL) against seconds (needs matplotlib, the dev extra).
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from audiosplat.app.api import render_splat
from audiosplat.eval.metrics import quality
from audiosplat.eval.visqol import visqol_if_installed, visqol_installed
from audiosplat.io.audio import load_clip
from audiosplat.io.splatfile import read_splat
from benchmarks.common import emit, log
from benchmarks.quality import SHARED_AUDIO

# the default "reaches" the largest budget's quality when no figure is worse by more than this
TOLERANCE = {"visqol": -0.05, "chroma_similarity": -0.005, "log_mel_distance": +0.01}


def run_fit(clip: Path, output: Path, samples: int | None, *extra: str) -> float:
    """Wall-clock seconds of one `audiosplat fit` process (start-up included)."""
    command = [sys.executable, "-m", "audiosplat", "fit", str(clip), "-o", str(output), "-q", *extra]
    if samples is not None and "--resume" not in extra:  # a resumed fit keeps its stored sizes
        command += ["--samples", str(samples)]
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # fit names its outputs on stdout: ours is JSON
    return time.perf_counter() - began


def score(clip: Path, path: Path, arm: str, seconds: float) -> dict:
    splat = read_splat(path, optimizer=False)
    cfg = splat.config
    target = torch.from_numpy(load_clip(clip, n_samples=cfg.n_samples, sample_rate=cfg.sample_rate).samples)
    render = torch.from_numpy(render_splat(splat))
    figures = {**quality(target, render, cfg.sample_rate), **visqol_if_installed(target, render, cfg.sample_rate)}
    visqol = figures.get("visqol")
    return {
        "benchmark": "time_to_quality", "clip": clip.name, "arm": arm, "steps": int(splat.fit["steps"]), "seconds": seconds,
        "visqol": None if visqol is None or math.isnan(visqol) else visqol,  # NaN is not JSON
        "chroma_similarity": figures["chroma_similarity"], "log_mel_distance": figures["log_mel_distance"],
        "converged": bool(splat.fit.get("converged", False)) if arm == "default" else None,
    }


def measure(clip: Path, points: list[int], samples: int | None, folder: Path) -> list[dict]:
    records, total, previous = [], 0.0, None
    for steps in points:
        path = folder / f"{clip.stem}-steps{steps}.splat"
        if previous is None:
            total += run_fit(clip, path, samples, "--steps", str(steps))
        else:
            total += run_fit(clip, path, samples, "--resume", str(previous[0]), "--steps", str(steps - previous[1]))
        previous = (path, steps)
        records.append(score(clip, path, "steps", total))
        emit(records[-1])
    path = folder / f"{clip.stem}-default.splat"
    records.append(score(clip, path, "default", run_fit(clip, path, samples)))
    emit(records[-1])
    return records


def reaches(default: dict, budget: dict) -> bool:
    """Whether the default's figures are within TOLERANCE of the budget's (ViSQOL where both have it)."""
    ok = [default[k] >= budget[k] + TOLERANCE[k] for k in ("visqol", "chroma_similarity") if default[k] is not None and budget[k] is not None]
    return all(ok) and default["log_mel_distance"] <= budget["log_mel_distance"] + TOLERANCE["log_mel_distance"]


def pairs(records: list[dict]) -> list[tuple[dict, dict]]:
    """(the largest budget, the default) of each clip, in clip order."""
    clips = dict.fromkeys(r["clip"] for r in records)
    return [
        (max((r for r in records if r["clip"] == c and r["arm"] == "steps"), key=lambda r: r["steps"]),
         next(r for r in records if r["clip"] == c and r["arm"] == "default"))
        for c in clips
    ]


def print_table(records: list[dict]) -> None:
    rows = pairs(records)
    budget = rows[0][0]["steps"] if rows else 0
    table = Table(title=f"the default fit against {budget} steps (ViSQOL, chroma: higher is better; log-mel: lower)")
    columns = ("clip", "seconds: steps / default", "steps", "ViSQOL", "chroma", "log-mel", "default's time", "reaches it")
    for name in columns:
        table.add_column(name, justify="left" if name == "clip" else "right")

    def pair(a: float | None, b: float | None, digits: int) -> str:
        return " / ".join("-" if v is None else f"{v:.{digits}f}" for v in (a, b))

    for fixed, default in rows:
        table.add_row(
            fixed["clip"], pair(fixed["seconds"], default["seconds"], 1),
            f"{fixed['steps']} / {default['steps']}{'' if default['converged'] else ' (not converged)'}",
            "n/a" if not visqol_installed() else pair(fixed["visqol"], default["visqol"], 2),
            pair(fixed["chroma_similarity"], default["chroma_similarity"], 3), pair(fixed["log_mel_distance"], default["log_mel_distance"], 3),
            f"{default['seconds'] / fixed['seconds']:.2f}", "yes" if reaches(default, fixed) else "no",
        )
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    console.print(table)
    if rows:
        for arm, index in ((f"{budget} steps", 0), ("the default", 1)):
            console.print(f"clips per hour at {arm}: {3600 / statistics.mean(p[index]['seconds'] for p in rows):.0f}")


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, label = ("visqol", "ViSQOL MOS-LQO") if all(r["visqol"] is not None for r in records) else ("log_mel_distance", "log-mel distance (lower is better)")
    clips = list(dict.fromkeys(r["clip"] for r in records))
    columns = min(4, len(clips))
    rows = math.ceil(len(clips) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for ax, clip in zip(axes.flat, clips):
        fixed = sorted((r for r in records if r["clip"] == clip and r["arm"] == "steps"), key=lambda r: r["steps"])
        ax.plot([r["seconds"] for r in fixed], [r[key] for r in fixed], "o-", label="--steps (resumed)")
        for r in fixed:
            ax.annotate(str(r["steps"]), (r["seconds"], r[key]), fontsize=7, textcoords="offset points", xytext=(3, 3))
        for r in (r for r in records if r["clip"] == clip and r["arm"] == "default"):
            ax.plot([r["seconds"]], [r[key]], "*", markersize=12, color="tab:red", label=f"default ({r['steps']} steps)")
        ax.set_title(Path(clip).stem, fontsize=9)
        ax.set_xlabel("wall-clock seconds")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(clips):]:
        ax.set_visible(False)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    log(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, nargs="+", default=sorted(SHARED_AUDIO.glob("*.wav")))
    parser.add_argument("--points", type=int, nargs="+", default=[30, 100, 200, 300], help="step budgets of the steps arm, increasing")
    parser.add_argument("--samples", type=int, default=None, help="clip length in samples, passed to fit (default: fit's)")
    parser.add_argument("--keep", type=Path, help="keep every .splat in this folder")
    parser.add_argument("--plot", type=Path, help="draw quality against seconds into this PNG")
    args = parser.parse_args()
    if not args.clips:
        parser.error(f"no clips: {SHARED_AUDIO} has no wav files; give --clips")
    if args.points[0] < 1 or any(b <= a for a, b in zip(args.points, args.points[1:])):
        parser.error("--points must be positive and increasing")
    if not visqol_installed():
        log("ViSQOL: n/a (pip install 'audiosplat[eval]' to measure it)")
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for clip in args.clips:
            log(f"{clip.name}: {len(args.points)} step budgets, then the default fit ...")
            records += measure(clip, args.points, args.samples, folder)
    print_table(records)
    if args.plot is not None:
        plot(records, args.plot)


if __name__ == "__main__":
    main()
