"""What the opt-in short event buffers cost in accuracy, and what they save in time.

    .venv/bin/python -m benchmarks.event_buffer --steps 100

For each buffer length L (the exact N first): fits the Mozart clip for --steps steps with
that L, times the steps (median), then renders the fitted controls both with L and
exactly (L = N). Prints one JSON line per L: seconds per step, relative spectral L1 of the
fit against the clip, and the approximation's own error, i.e. the relative spectral L1 and
the relative L2 distance between the L render and the exact render of the same controls.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.core.runtime import configure_for_fitting
from audiosplat.fitting.fit import FitConfig, Fitter
from audiosplat.fitting.loss import relative_spectral_l1
from audiosplat.io.audio import load_clip
from audiosplat.synth.render import SynthAssets, render_clips
from audiosplat.synth.rooms import procedural_bank
from benchmarks.common import MOZART, emit, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lengths", type=int, nargs="+", default=[2**16, 2**15, 2**14, 2**13])
    args = parser.parse_args()
    configure_for_fitting()
    torch.set_num_threads(2)

    exact = ModelConfig()
    target = torch.from_numpy(load_clip(MOZART, n_samples=exact.n_samples, sample_rate=exact.sample_rate).samples)
    rooms = procedural_bank(exact.n_samples, exact.sample_rate)
    for length in args.lengths:
        config = dataclasses.replace(exact, event_samples=None if length == exact.n_samples else length)
        fitter = Fitter(target, config, FitConfig(seed=0), rooms, torch.device("cpu"))
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            fitter.step()
            times.append(time.perf_counter() - start)
        controls, _, renders, losses = fitter.evaluate()
        render, loss = renders[0], losses[0]
        exact_assets = SynthAssets.build(dataclasses.replace(fitter.config, event_samples=None), fitter.noise_seeds[0], rooms)
        with torch.no_grad():  # the events alone, both ways: the fit's render adds its noise bed
            approximate = render_clips(controls[0], fitter.assets)[0]
            exact_render = render_clips(controls[0], exact_assets)[0]
        record = {
            "benchmark": "event_buffer",
            "event_samples": length,
            "steps": args.steps,
            "median_step_s": statistics.median(times[2:]),
            "loss": loss,
            "fit_relative_l1": relative_spectral_l1(target, render),
            "approximation_relative_l1": relative_spectral_l1(exact_render, approximate),
            "approximation_relative_l2": float((approximate - exact_render).norm() / exact_render.norm().clamp_min(1e-12)),
        }
        log(f"L={length}: {record['median_step_s']:.3f} s/step")
        emit(record)


if __name__ == "__main__":
    main()
