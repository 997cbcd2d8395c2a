"""Fit-step speed and memory of the fast synth against the slow reference, and render speed.

    .venv/bin/python -m benchmarks.speed                # defaults: N = 65536, E = 64
    .venv/bin/python -m benchmarks.speed --repeats 5 --events 16 --samples 16384

Times a fit step on three paths: the slow reference (method.md transcribed), the fast
exact synth, and the fast synth with the opt-in short event buffers (N / 8 samples by
default, --short), then `render_splat` of a file fitted exactly and of one fitted with the
short buffers, with the medians of its stages (reading the file, building the synth's
assets, synthesising; --renders-only times the renders alone). Each measurement runs in
its own process (so peak RSS is its own), with torch on the number of threads given (2 by
default, as on the CI machine). Prints one JSON line per figure and, last, one with the
ratios measured in this run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audiosplat.core.config import MODEL_KINDS, PITCH_KINDS
from benchmarks.common import MOZART, ROOT, emit, log, peak_rss_mib, summary, time_repeats

PATHS = ("reference", "fast")


def _worker_fit_step(args) -> dict:
    import torch

    from audiosplat.core.config import ModelConfig
    from audiosplat.fitting.fit import FitConfig, Fitter
    from audiosplat.io.audio import load_clip
    from audiosplat.synth.reference import reference_clips
    from audiosplat.synth.render import render_clips
    from audiosplat.synth.rooms import procedural_bank

    torch.set_num_threads(args.threads)
    config = ModelConfig(n_samples=args.samples, n_events=args.events, event_samples=args.event_samples, pitches=args.pitches)
    target = torch.from_numpy(load_clip(MOZART, n_samples=config.n_samples, sample_rate=config.sample_rate).samples)
    renderer = reference_clips if args.path == "reference" else render_clips
    fitter = Fitter(target, config, FitConfig(), procedural_bank(config.n_samples, config.sample_rate), torch.device(args.device), renderer)
    times = time_repeats(fitter.step, args.repeats, warmup=2)
    return {"figure": "fit_step", "path": args.path, "event_samples": config.event_length, **summary(times), "peak_rss_mib": peak_rss_mib()}


def _worker_render(args) -> dict:
    import torch

    from audiosplat.app.api import render_splat
    from audiosplat.io.splatfile import read_splat
    from audiosplat.synth.render import SynthAssets, render_clips, used_waves

    torch.set_num_threads(args.threads)
    splat_path = Path(args.splat)

    def render() -> None:
        render_splat(read_splat(splat_path, optimizer=False), device=args.device)

    def stages() -> dict[str, float]:
        """Seconds of the render's stages, as `render_splat` runs them for a file of one window."""
        start = time.perf_counter()
        splat = read_splat(splat_path, optimizer=False)
        read = time.perf_counter()
        with torch.inference_mode():
            controls, rows = used_waves(splat.controls)
            assets = SynthAssets.build(splat.config, splat.noise_seeds, splat.rooms, args.device, rows)
            built = time.perf_counter()
            render_clips(controls.map(lambda t: t.to(args.device)), assets).cpu()
        return {"read_s": read - start, "assets_s": built - read, "synth_s": time.perf_counter() - built}

    times = time_repeats(render, args.repeats, warmup=1)
    breakdown = [stages() for _ in range(args.repeats)]
    duration_s = read_splat(splat_path).config.duration_s
    result = summary(times)
    return {"figure": "render", **result, "x_real_time": duration_s / result["median_s"], "peak_rss_mib": peak_rss_mib(),
            **{stage: statistics.median(b[stage] for b in breakdown) for stage in breakdown[0]}}


def _spawn(worker: str, args, **extra) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.speed", "--worker", worker, "--samples", str(args.samples), "--events", str(args.events),
           "--repeats", str(args.repeats), "--threads", str(args.threads), "--device", args.device, "--pitches", args.pitches]
    cmd += [item for key, value in extra.items() for item in (f"--{key}", str(value))]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2**16)
    parser.add_argument("--events", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pitches", choices=PITCH_KINDS, default=MODEL_KINDS["direct"].pitches, help="the direct model's pitches, on every path")
    parser.add_argument("--worker", choices=("fit-step", "render"), help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=PATHS, default="fast", help=argparse.SUPPRESS)
    parser.add_argument("--splat", help=argparse.SUPPRESS)
    parser.add_argument("--event-samples", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--short", type=int, default=8, help="the short event buffer is N / SHORT samples")
    parser.add_argument("--renders-only", action="store_true", help="time the two renders only, not the fit steps")
    args = parser.parse_args()

    if args.worker:
        from audiosplat.core.runtime import configure_for_fitting

        configure_for_fitting()
    if args.worker == "fit-step":
        emit(_worker_fit_step(args))
        return
    if args.worker == "render":
        emit(_worker_render(args))
        return

    sizes = {"samples": args.samples, "events": args.events, "threads": args.threads, "device": args.device, "pitches": args.pitches}
    steps = {}
    short = args.samples // args.short
    for path, buffer in (("reference", None), ("fast", None), ("short", short)) if not args.renders_only else ():
        log(f"timing {args.repeats} fit steps on the {path} path ...")
        steps[path] = _spawn("fit-step", args, path="fast" if path == "short" else path, **({"event-samples": buffer} if buffer else {}))
        emit({**steps[path], **sizes})
    renders = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, buffer in (("exact", args.samples), ("short", short)):
            splat = Path(tmp) / f"{name}.splat"
            option = [] if name == "exact" else ["--event-samples", str(buffer)]
            subprocess.run([sys.executable, "-m", "audiosplat", "fit", str(MOZART), "-o", str(splat), "--steps", "1", "-q",
                            "--samples", str(args.samples), "--events", str(args.events), *option,
                            "--pitches", args.pitches, "--device", args.device], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            log(f"timing the render of a file with {buffer}-sample event buffers ...")
            renders[name] = _spawn("render", args, splat=splat)
            emit({**renders[name], "event_samples": buffer, **sizes})
    ratios = {
        "figure": "ratios", **sizes, "short_event_samples": short,
        "render_x_real_time": renders["exact"]["x_real_time"],
        "render_x_real_time_short_buffers": renders["short"]["x_real_time"],
    }
    if steps:
        ratios.update({
            "fit_step_speedup": steps["reference"]["median_s"] / steps["fast"]["median_s"],
            "fit_step_speedup_short_buffers": steps["reference"]["median_s"] / steps["short"]["median_s"],
            "peak_rss_ratio": steps["fast"]["peak_rss_mib"] / steps["reference"]["peak_rss_mib"],
            "peak_rss_mib_fast": steps["fast"]["peak_rss_mib"],
        })
    emit(ratios)


if __name__ == "__main__":
    main()
