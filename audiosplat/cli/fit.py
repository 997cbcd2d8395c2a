"""`audiosplat fit`: audio files in, .splat files out."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from audiosplat.app.batch import ItemReport, make_output_folders
from audiosplat.app.stop import stop_on_signal
from audiosplat.cli.common import (
    Device,
    DeviceOpt,
    FailFastOpt,
    GlobOpt,
    InputsArg,
    NullOpt,
    QuietOpt,
    ReportOpt,
    SkipOpt,
    VerboseOpt,
    choices,
    exit_if_failed,
    plan,
    reporting,
    stderr,
    usage_check,
    user_errors,
)
from audiosplat.cli.progress import step_progress
from audiosplat.core.config import LOSS_NAMES, MODEL_KINDS, MODELS, PITCH_CHOICES, WAVE_KINDS, ModelConfig
from audiosplat.core.errors import AudiosplatError, UsageError
from audiosplat.io.kinds import AUDIO_SUFFIXES

UNBOUNDED_STEPS = 10**7  # --seconds alone: the time budget ends the fit

ModelName = choices("ModelName", MODELS)
WaveKind = choices("WaveKind", WAVE_KINDS)
PitchKind = choices("PitchKind", PITCH_CHOICES)
LossName = choices("LossName", LOSS_NAMES)


def fit(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .splat file to write; a folder when there are several inputs, a folder or -.", show_default=False)] = ...,
    steps: Annotated[Optional[int], typer.Option(min=0, help="Adam steps (default: until fifty steps lower the loss by less than 2%, from step 200, at most 3000; with --seconds alone, as many as the time allows).", show_default=False)] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Time budget of each batch's fit in wall-clock seconds, set-up included: the fit ends when it runs out (or after --steps, whichever is first).", show_default=False)] = None,
    events: Annotated[int, typer.Option(help="Most events a fit may use; the direct model keeps as many as the clip needs (the seed model: exactly this many, a power of two).")] = 64,
    model: Annotated[ModelName, typer.Option(help="; ".join(f"{k.name}: {k.help}" for k in MODEL_KINDS.values()) + ".")] = ModelName(MODELS[0]),
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (default: 0.01 for direct, 0.001 for seed; when resuming, the stored one).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the initial parameters and the noise; stored in the file.")] = 0,
    offset: Annotated[float, typer.Option(help="Start of the clip in the source, seconds.")] = 0.0,
    duration: Annotated[Optional[float], typer.Option(min=0.0, help="Seconds to fit from --offset (default: one window of --samples). More than one window is fitted window by window into one .splat.", show_default=False)] = None,
    whole: Annotated[bool, typer.Option("--whole", help="Fit from --offset to the end of the file, window by window, into one .splat.")] = False,
    samples: Annotated[int, typer.Option(help="Clip length in samples at 22050 Hz, a power of two.")] = 2**16,
    event_samples: Annotated[Optional[int], typer.Option(help="Opt-in approximation: synthesise each event over this many samples (a power of two < --samples) instead of the whole clip; faster by about samples/event-samples, cuts event tails.")] = None,
    coarse: Annotated[Optional[str], typer.Option(metavar="SAMPLES|off", help="Coarse steps first: each event synthesised over this many samples (a power of two < --samples) until the fit converges, or until 50 steps are left of --steps; then 50 exact steps fit the events' tails. Default: 16384 for the direct model's fit without --steps or --seconds, off otherwise.", show_default=False)] = None,
    waves: Annotated[Optional[WaveKind], typer.Option(help="Wavetable: band-limited (no aliases; the direct model's default) or naive (method.md's; the seed model's default).", show_default=False)] = None,
    pitches: Annotated[Optional[PitchKind], typer.Option(help="exact: each direct event sounds its own pitch; grid: a mix of the wavetable's 128 pitches (the seed model's, and better for a gliding voice); auto: the direct model's default, grid for clips whose main pitch glides (speech, song), exact for the others.", show_default=False)] = None,
    loss: Annotated[Optional[LossName], typer.Option(help="multiband (method.md's; the seed model's default), multiband-balanced (each band's features weighted towards equal say; the direct model's default), multiband-log (plus the log-magnitude distance of the same features) or noise (the original's stochastic loss).", show_default=False)] = None,
    noise_bed: Annotated[Optional[str], typer.Option(metavar="ANCHORSxBANDS|none", help="The noise bed that carries the unpitched part (breath, bow, hammer, fricatives): level anchors over the clip x mel bands, e.g. 32x16 (the direct model's default), or none. The seed model has none unless asked.", show_default=False)] = None,
    rooms: Annotated[Optional[Path], typer.Option(help="Folder of impulse-response audio files to use as rooms (default: the built-in procedural rooms).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the fit stored in this .splat (one input only) exactly: its parameters, Adam state, sizes, seed, loss and rooms are used; --steps more steps are taken.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Clips fitted together in one batch (default: 1 on the CPU, as many as fit in memory on a GPU).")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes, each fitting whole inputs with (CPU cores / jobs) threads.")] = 1,
    ray: Annotated[Optional[str], typer.Option(metavar="ADDRESS", help="Fit each input as a task on a Ray cluster (pip install 'audiosplat[ray]'): auto (the one running here, else a new local one), local (a new local one) or HEAD:PORT. Inputs and outputs must be at the same paths on every node.", show_default=False)] = None,
    musicnet: Annotated[Optional[Path], typer.Option(help="Fit segments of the recordings in this MusicNet folder instead of SOURCES: OUT/<id>/<start>.splat, with the notes that sound in each.")] = None,
    segments: Annotated[str, typer.Option(help="With --musicnet: all, N (the first N of each recording) or random:N (chosen with --seed).")] = "all",
    hop: Annotated[Optional[int], typer.Option(min=1, help="With --musicnet: samples at 22050 Hz from one segment's start to the next (default: --samples).")] = None,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    null: NullOpt = False,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fit clips as sound events and write them to .splat files.

    Examples: audiosplat fit examples/piano_mozart_k545.wav -o mozart.splat --steps 300;
    audiosplat fit concert.flac -o concert.splat --offset 60 --duration 60 (21 windows, one file);
    audiosplat fit song.wav -o song.splat --whole;
    find clips -name '*.wav' | audiosplat fit - -o fitted/ --skip-existing --report fitted.jsonl;
    audiosplat fit --musicnet musicnet/ -o segments/ --segments random:4 --jobs 2
    """
    from audiosplat.app.api import FitInput, resume_settings  # torch loads here: only commands that compute need it
    from audiosplat.app.fit_group import FitSettings
    from audiosplat.app.fit_runner import run_fits
    from audiosplat.app.musicnet import musicnet_inputs
    from audiosplat.fitting.fit import DEFAULT_COARSE_SAMPLES, DEFAULT_CONVERGE, DEFAULT_STEPS, FitConfig
    from audiosplat.io.splatfile import read_splat

    err = stderr()
    with user_errors(verbose):
        usage_check(ray is None or (jobs == 1 and resume is None), "--ray runs each input as a task: drop --jobs and --resume")
        usage_check(resume is None or jobs == 1, "--resume continues one fit in this process: drop --jobs")
        usage_check(resume is None or coarse is None, "--resume continues a fit with exact steps: drop --coarse")
        # no budget given: the fit stops when more steps stop paying (`fitting.fit.converged`)
        converge = DEFAULT_CONVERGE if steps is None and seconds is None else None
        steps = steps if steps is not None else (UNBOUNDED_STEPS if seconds is not None else DEFAULT_STEPS)
        try:  # settings checked before any input is read, not after a fit
            config = ModelConfig(
                n_samples=samples, n_events=events, event_samples=event_samples, model=model.value, waves=waves and waves.value,
                pitches=pitches.value if pitches else MODEL_KINDS[model.value].fit_pitches(waves and waves.value), **noise_bed_size(noise_bed),
            )
            coarse_samples = coarse_buffer(coarse, config, default=DEFAULT_COARSE_SAMPLES if converge else None)
            fit_config = FitConfig(steps=steps, lr=lr, seed=seed, loss=loss and loss.value, seconds=seconds, converge=converge, coarse_samples=coarse_samples)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if musicnet is not None:
            usage_check(not sources, "give either SOURCES or --musicnet, not both")
            inputs = musicnet_inputs(musicnet, output, n_samples=samples, sample_rate=config.sample_rate, segments=segments, hop=hop, seed=seed)
            many = True
        else:
            usage_check(bool(sources), "give the audio files to fit (or - to read their paths from stdin, or --musicnet ROOT)")
            found, outputs, many = plan(sources, output, AUDIO_SUFFIXES, glob, ".splat", report=report, null=null)
            usage_check(not (whole and duration is not None), "give --duration or --whole, not both")
            seconds_to_fit = math.inf if whole else duration
            inputs = [FitInput(i.path, o, offset, duration_s=seconds_to_fit) for i, o in zip(found, outputs)]
        earlier = None
        if resume is not None:
            if len(inputs) != 1:
                raise AudiosplatError("--resume takes exactly one input")
            earlier = read_splat(resume)
            config, fit_config = resume_settings(earlier, resume, inputs[0].source, steps, lr, converge)
            fit_config = dataclasses.replace(fit_config, seconds=seconds)
            if resume.resolve() == inputs[0].output.resolve() and not quiet:
                err.print(f"{resume}: will be replaced by the continued fit once it is done")
        if many:
            make_output_folders(output, [i.output for i in inputs])
        if verbose:
            budget = f"until converged (at most {steps} steps)" if converge else f"{steps} steps"
            err.print(f"fitting {len(inputs)} clip(s): {config.model} model, {config.n_events} events, {config.n_samples} samples, {budget}, loss {fit_config.loss_for(config.model)}, seed {fit_config.seed}")
        settings = FitSettings(config, fit_config, rooms, device.value, batch_size, tuple(sys.argv))
        with (
            reporting(err, report, many=many, quiet=quiet, null=null, describe=describe_fit) as batch,
            step_progress(
                err, fit_config.steps, enabled=not quiet, log_lines=verbose, n_inputs=len(inputs), step_bars=jobs == 1 and ray is None,
            ) as (on_batch, on_step, on_input_done),
            stop_on_signal() as stop_requested,
        ):
            run_fits(
                inputs, settings, on_report=lambda r: (batch.on_report(r), on_input_done()), jobs=jobs, ray_address=ray, skip_existing=skip_existing, fail_fast=fail_fast,
                resume=earlier, on_step=on_step, on_batch=on_batch, should_stop=stop_requested,
            )
        if stop_requested():
            if batch.tally.seen < len(inputs):
                err.print(f"interrupted: {len(inputs) - batch.tally.seen} input(s) not fitted")
            raise typer.Exit(130)
        exit_if_failed(batch)


def noise_bed_size(spec: str | None) -> dict[str, int]:
    """ModelConfig's noise_anchors and noise_bands from `--noise-bed` (none: the model's default)."""
    if spec is None:
        return {}
    if spec == "none":
        return {"noise_anchors": 0, "noise_bands": 0}
    anchors, _, bands = spec.partition("x")
    if not (anchors.isdigit() and bands.isdigit()):
        raise UsageError(f"--noise-bed takes ANCHORSxBANDS (e.g. 32x16) or none, got '{spec}'")
    return {"noise_anchors": int(anchors), "noise_bands": int(bands)}


def describe_fit(r: ItemReport) -> str:
    return f"{r.output}: final loss {r.final_loss:.6g}, relative spectral L1 {r.relative_l1:.4f} ({r.steps} steps, {r.seconds:.1f} s)"


def coarse_buffer(spec: str | None, config: ModelConfig, default: int | None) -> int | None:
    """--coarse as samples, or None for off; `default` when not given. ValueError for a
    value that is not a valid event buffer of `config`."""
    if spec is None:
        return default
    if spec == "off":
        return None
    try:
        samples = int(spec)
    except ValueError:
        raise ValueError(f"--coarse: give a number of samples or off, got '{spec}'") from None
    try:
        dataclasses.replace(config, event_samples=samples)
    except ValueError as exc:
        raise ValueError(f"--coarse: {exc}") from None
    return samples
