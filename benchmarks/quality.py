"""Listening-quality figures of fitted events against simple baselines, clip by clip.

    .venv/bin/python -m benchmarks.quality --steps 300
    .venv/bin/python -m benchmarks.quality --seconds 120 --clips examples/piano_mozart_k545.wav
    .venv/bin/python -m benchmarks.quality --default --model direct --coarse off   # exact steps only

Fits each clip (default: every wav in ../shared/audio) with the given budget (--steps, and/or
--seconds of wall clock per clip, whichever ends first; --steps 0 scores the untrained model
and the baselines quickly) and scores the render, and the
baselines of benchmarks/baselines.py (silence, a 16-band noise vocoder — the shared render of
the clip in ../shared/audio/baselines where there is one —, a random-phase |STFT| oracle), against the clip: ViSQOL MOS-LQO (audio mode at 48 kHz; needs audiosplat[eval]),
chroma similarity, multi-scale log-mel distance, relative spectral L1 at 2048/256 and 512/128.
Also how many numbers each method stores and how long it took. One JSON line per clip and
method on stdout; a table on stderr at the end. Clips run one after the other.
`--coarse SAMPLES|off` and `--fine-steps` set the fit's coarse phase (`FitConfig.coarse_samples`;
by default, as `fit` does: with --default, coarse steps of 16384 samples, then 50 exact).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from audiosplat.app.api import fit_audio_files, render_splat
from audiosplat.cli.fit import coarse_buffer, noise_bed_size
from audiosplat.core.config import MODEL_KINDS, MODELS, PITCH_CHOICES, WAVE_KINDS, ModelConfig
from audiosplat.core.runtime import configure_for_fitting
from audiosplat.eval.baselines import model_numbers, oracle_render, vocoder_levels, vocoder_render
from audiosplat.eval.metrics import quality
from audiosplat.eval.visqol import visqol_if_installed, visqol_installed
from audiosplat.fitting.fit import FINE_STEPS, FitConfig, default_fit
from audiosplat.fitting.loss import LOSS_NAMES
from audiosplat.io.audio import load_clip
from benchmarks.common import ROOT, emit, log

SHARED_AUDIO = ROOT.parent / "shared" / "audio"


@dataclasses.dataclass(frozen=True)
class Method:
    """A way to turn a clip into a render from stored numbers."""

    name: str
    render: Callable[[Path, torch.Tensor], tuple[torch.Tensor, int, dict]]  # (clip file, target) -> (render, numbers, extra)


def fitted(args: argparse.Namespace, config: ModelConfig, fit_config: FitConfig, workdir: Path) -> Method:
    """The model `config.model` fitted to the clip. Its stored numbers are the learned ones
    (`Splat.stored_numbers`: parameters and noise seeds, bed and colour, all that decoding
    and rendering need); `file_numbers` counts every number of the file's events too
    (`model_numbers`). A fit with a colour is also scored without it (`without_colour`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    def render(clip: Path, target: torch.Tensor) -> tuple[torch.Tensor, int, dict]:
        deadline = math.inf if args.seconds is None else time.perf_counter() + args.seconds
        [outcome] = fit_audio_files(
            [clip], [workdir / f"{clip.stem}.splat"], config=config, fit_config=fit_config, device=args.device,
            should_stop=lambda: time.perf_counter() > deadline,
        )
        splat = outcome.splat
        extra = {"steps": int(splat.fit["steps"]), "file_numbers": model_numbers(splat), "pitches": splat.config.pitches}
        if splat.colour_db is not None:  # the same fit heard without its colour (formats §9.3)
            plain = torch.from_numpy(render_splat(dataclasses.replace(splat, colour_db=None)))
            extra["without_colour"] = {**quality(target, plain, config.sample_rate), **visqol_if_installed(target, plain, config.sample_rate)}
        return torch.from_numpy(render_splat(splat)), splat.stored_numbers(), extra

    bed = f"{config.noise_anchors}x{config.noise_bands} bed" if config.has_noise_bed else "no bed"
    return Method(f"fitted {config.model}, {bed}", render)


def baselines(config: ModelConfig, seed: int) -> list[Method]:
    def vocoder(clip: Path, target: torch.Tensor) -> tuple[torch.Tensor, int, dict]:
        levels = vocoder_levels(target, config.sample_rate)
        return vocoder_render(levels, target.shape[-1], config.sample_rate, torch.Generator().manual_seed(seed)), levels.numel(), {}

    def shared_vocoder(clip: Path, target: torch.Tensor) -> tuple[torch.Tensor, int, dict]:
        """The shared render of this clip (../shared/audio/baselines), when there is one:
        ViSQOL of noise moves by tenths between seeds, so fits are held to the same file."""
        path = SHARED_AUDIO / "baselines" / f"{clip.stem}__vocoder16x129.wav"
        if not path.is_file():
            return vocoder(clip, target)
        audio = torch.from_numpy(load_clip(path, n_samples=target.shape[-1], sample_rate=config.sample_rate, normalise=False).samples)
        return audio, 16 * 129, {"file": path.name}

    return [
        Method("silence", lambda clip, target: (torch.zeros_like(target), 0, {})),
        Method("noise vocoder", shared_vocoder),
        Method("oracle |STFT|", lambda clip, target: (*oracle_render(target, torch.Generator().manual_seed(seed)), {})),
    ]


def score(method: Method, clip: Path, target: torch.Tensor, sample_rate: int) -> dict:
    began = time.perf_counter()
    render, numbers, extra = method.render(clip, target)
    seconds = time.perf_counter() - began
    figures = {**quality(target, render, sample_rate), **visqol_if_installed(target, render, sample_rate)}
    # NaN (ViSQOL of silence) is not JSON: it is written as null
    figures = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}
    return {"benchmark": "quality", "clip": clip.name, "method": method.name, **figures, "stored_numbers": numbers, "seconds": seconds, **extra}


def print_table(records: list[dict]) -> None:
    table = Table(title="quality against the clip (ViSQOL, chroma: higher is better; log-mel, rel L1: lower)")
    columns = ("clip", "method", "ViSQOL", "chroma", "log-mel", "rel L1 2048/256", "rel L1 512/128", "stored numbers", "seconds")
    for name in columns:
        table.add_column(name, justify="left" if name in ("clip", "method") else "right")
    for r in records:
        visqol = "n/a" if not visqol_installed() else "-" if r.get("visqol") is None else f"{r['visqol']:.2f}"
        table.add_row(
            r["clip"], r["method"], visqol, f"{r['chroma_similarity']:.3f}", f"{r['log_mel_distance']:.3f}",
            f"{r['relative_spectral_l1_2048_256']:.3f}", f"{r['relative_spectral_l1_512_128']:.3f}",
            f"{r['stored_numbers']:,}", f"{r['seconds']:.1f}",
        )
    Console(stderr=True, width=None if sys.stderr.isatty() else 160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, nargs="+", default=sorted(SHARED_AUDIO.glob("*.wav")))
    parser.add_argument("--steps", type=int, help="Adam steps per clip (default: as many as --seconds allows)")
    parser.add_argument("--default", action="store_true", help="fit as `fit` does without a budget: until converged")
    parser.add_argument("--seconds", type=float, help="wall-clock cap on each clip's fit: no step starts after it (setup counts)")
    parser.add_argument("--samples", type=int, default=ModelConfig.n_samples)
    parser.add_argument("--events", type=int, default=ModelConfig.n_events)
    parser.add_argument("--event-samples", type=int, default=None)
    parser.add_argument("--coarse", default=None, help="the coarse phase's event buffer, SAMPLES or off (default: as `fit` does)")
    parser.add_argument("--fine-steps", type=int, default=FINE_STEPS, help="exact steps after the coarse phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--waves", choices=WAVE_KINDS, default=None, help="wavetable (default: each model's)")
    parser.add_argument("--pitches", choices=PITCH_CHOICES, default=None, help="the direct model's pitches (default: a fit's, auto)")
    parser.add_argument("--loss", choices=LOSS_NAMES, default=None, help="the fit's loss (default: the model's)")
    parser.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True, help="score silence, vocoder and oracle too")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--keep", type=Path, help="keep each fit's .splat in this folder (to render, inspect or plot later)")
    parser.add_argument("--model", nargs="+", choices=MODELS, default=["direct", "seed"], help="models to fit, each in its own rows")
    parser.add_argument("--noise-bed", nargs="+", default=["default"], help="noise beds to fit with, each in its own rows: ANCHORSxBANDS, 0x0 for none, or default (the model's)")
    args = parser.parse_args()
    if args.steps is None and args.seconds is None and not args.default:
        parser.error("give a budget: --steps N and/or --seconds S, or --default")
    if not args.clips:
        parser.error(f"no clips: {SHARED_AUDIO} has no wav files; give --clips")
    if not visqol_installed():
        log("ViSQOL: n/a (pip install 'audiosplat[eval]' to measure it)")
    configure_for_fitting()

    def pitches_for(model: str) -> str | None:
        """--pitches where the model takes them, else what a fit of the model asks for."""
        kind = MODEL_KINDS[model]
        return args.pitches if args.pitches in kind.pitch_choices else kind.fit_pitches(args.waves)

    configs = [
        ModelConfig(n_samples=args.samples, n_events=args.events, event_samples=args.event_samples, model=m, waves=args.waves, pitches=pitches_for(m), **noise_bed_size(None if b == "default" else b))
        for m in args.model for b in args.noise_bed
    ]
    config = configs[0]
    # without --steps, --seconds alone ends the fit: give it more steps than it can take
    # --default: what `fit` does without a budget, until converged
    budget = default_fit(args.seed) if args.default else FitConfig(steps=args.steps if args.steps is not None else 10**6, seed=args.seed)
    coarse = coarse_buffer(args.coarse, config, default=budget.coarse_samples)
    fit_config = dataclasses.replace(budget, loss=args.loss or budget.loss, coarse_samples=coarse, fine_steps=args.fine_steps)
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch) if args.keep is None else args.keep
        methods = [*(fitted(args, c, fit_config, workdir / f"{c.model}-{c.noise_anchors}x{c.noise_bands}") for c in configs), *(baselines(config, args.seed) if args.baselines else [])]
        for clip in args.clips:
            target = torch.from_numpy(load_clip(clip, n_samples=config.n_samples, sample_rate=config.sample_rate).samples)
            for method in methods:
                log(f"{clip.name}: {method.name} ...")
                records.append(score(method, clip, target, config.sample_rate))
                emit(records[-1])
    print_table(records)


if __name__ == "__main__":
    main()
