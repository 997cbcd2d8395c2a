"""Quality after a fixed number of steps on one clip: loss and relative spectral L1.

    .venv/bin/python -m benchmarks.fit_quality --clip examples/piano_mozart_k545.wav --steps 300

Prints one JSON line: steps, final loss, relative spectral L1 at 2048/256 and 512/128,
seconds, and the loss every 50 steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.core.runtime import configure_for_fitting
from audiosplat.fitting.fit import FitConfig, fit, resolve_device
from audiosplat.fitting.loss import relative_spectral_l1
from audiosplat.io.audio import load_clip
from audiosplat.synth.rooms import procedural_bank
from benchmarks.common import MOZART, emit, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=MOZART)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--loss", default=None, help="the fit's loss (default: the model's)")
    args = parser.parse_args()
    configure_for_fitting()

    config = ModelConfig()
    target = torch.from_numpy(load_clip(args.clip, n_samples=config.n_samples, sample_rate=config.sample_rate).samples)
    rooms = procedural_bank(config.n_samples, config.sample_rate)

    def progress(step: int, loss: float) -> None:
        if (step + 1) % 50 == 0:
            log(f"step {step + 1}: loss {loss:.2f}")

    device = resolve_device(args.device)
    result = fit(target, config, FitConfig(steps=args.steps, seed=args.seed, loss=args.loss), rooms, device, on_step=progress)
    render = result.render.cpu()
    emit(
        {
            "benchmark": "fit_quality",
            "clip": args.clip.name,
            "steps": args.steps,
            "seed": args.seed,
            "loss_name": FitConfig(loss=args.loss).loss_for(config.model),
            "device": str(device),
            "initial_loss": float(result.loss_history[0]) if args.steps else None,
            "final_loss": result.final_loss,
            "relative_l1_2048_256": relative_spectral_l1(target, render, 2048, 256),
            "relative_l1_512_128": relative_spectral_l1(target, render, 512, 128),
            "skipped_steps": result.skipped_steps,
            "seconds": result.seconds,
            "loss_every_50": [float(x) for x in result.loss_history[49::50]],
        }
    )


if __name__ == "__main__":
    main()
