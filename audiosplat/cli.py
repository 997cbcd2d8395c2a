"""The `audiosplat` command line: a thin layer over `audiosplat.api`. The only module that
prints. Data goes to stdout, messages and progress to stderr."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audiosplat import __version__
from audiosplat.api import FitInput, check_output_path, edit_splat_file, draw_splat_timeline, perturb_outputs, perturb_splat_file, quality_against, render_splat, resume_settings
from audiosplat.audio import AUDIO_SUFFIXES, write_wav, write_wav_stream
from audiosplat.batch import ItemReport, error_text, Tally, is_complete_output, make_output_folders, report_lines, run_each
from audiosplat.config import ModelConfig, fit_pitches
from audiosplat.edits import EditError, select
from audiosplat.errors import AudiosplatError, UsageError
from audiosplat.fit import FitConfig
from audiosplat.fit_runner import FitSettings, run_fits
from audiosplat.inputs import SPLAT_SUFFIXES, STDIN, Input, expand_inputs, names_many, output_paths
from audiosplat.musicnet import musicnet_inputs
from audiosplat.splatfile import read_splat
from audiosplat.safe_open import read_splat_isolated
from audiosplat.runtime import configure_for_fitting
from audiosplat.stop import stop_on_signal
from audiosplat.summary import summarise

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Fit audio as a sparse set of physics-inspired sound events, and render them back.",
)


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class LossName(str, Enum):
    multiband = "multiband"
    multiband_balanced = "multiband-balanced"
    multiband_log = "multiband-log"
    noise = "noise"


DEFAULT_STEPS = 3000
UNBOUNDED_STEPS = 10**7  # --seconds alone: the time budget ends the fit


class ModelName(str, Enum):
    direct = "direct"
    seed = "seed"


class WaveKind(str, Enum):
    naive = "naive"
    band_limited = "band-limited"


class PitchKind(str, Enum):
    auto = "auto"
    exact = "exact"
    grid = "grid"


class Subtype(str, Enum):
    float = "float"
    pcm16 = "pcm16"
    pcm24 = "pcm24"


SUBTYPES = {Subtype.float: "FLOAT", Subtype.pcm16: "PCM_16", Subtype.pcm24: "PCM_24"}

DeviceOpt = Annotated[Device, typer.Option("--device", help="Where to compute: auto (CUDA if present), cpu or cuda.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on stderr but errors.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr; tracebacks on errors.")]


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _user_errors(verbose: bool) -> Iterator[None]:
    """Turn a user-facing problem into one line on stderr and exit 1 (130 on Ctrl-C)."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo("audiosplat: interrupted; no output was written", err=True)
        raise typer.Exit(130) from None
    except (AudiosplatError, ValueError, OSError) as exc:
        if verbose:
            raise
        typer.echo(f"audiosplat: error: {error_text(exc)}", err=True)
        raise typer.Exit(2 if isinstance(exc, UsageError) else 1) from None


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)
    configure_for_fitting()


InputsArg = Annotated[Optional[list[str]], typer.Argument(help="Files, folders (every matching file below them, recursively) or - (paths on stdin, one a line).", show_default=False)]
GlobOpt = Annotated[Optional[str], typer.Option("--glob", help="Which files to take from folders, e.g. '*.wav' (default: by suffix).")]
SkipOpt = Annotated[bool, typer.Option("--skip-existing", help="Skip inputs whose output already exists and reads back complete (resume a killed batch).")]
FailFastOpt = Annotated[bool, typer.Option("--fail-fast", help="Stop at the first input that fails (default: report it and go on).")]
ReportOpt = Annotated[Optional[Path], typer.Option("--report", help="Write one JSON line per input here (input, output, status, error, steps, final_loss, relative_l1, seconds).")]


@app.command()
def fit(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .splat file to write; a folder when there are several inputs, a folder or -.", show_default=False)] = ...,
    steps: Annotated[Optional[int], typer.Option(min=0, help="Adam steps (default 3000; with --seconds alone, as many as the time allows).", show_default=False)] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Time budget of each batch's fit in wall-clock seconds, set-up included: the fit ends when it runs out (or after --steps, whichever is first).", show_default=False)] = None,
    events: Annotated[int, typer.Option(help="Number of events, a power of two >= 2.")] = 64,
    model: Annotated[ModelName, typer.Option(help="direct: each event's physical controls fitted directly, started from an analysis of the clip; seed: the original latent-tree model (method.md).")] = ModelName.direct,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (default: 0.01 for direct, 0.001 for seed; when resuming, the stored one).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the initial parameters and the noise; stored in the file.")] = 0,
    offset: Annotated[float, typer.Option(help="Start of the clip in the source, seconds.")] = 0.0,
    duration: Annotated[Optional[float], typer.Option(min=0.0, help="Seconds to fit from --offset (default: one window of --samples). More than one window is fitted window by window into one .splat.", show_default=False)] = None,
    whole: Annotated[bool, typer.Option("--whole", help="Fit from --offset to the end of the file, window by window, into one .splat.")] = False,
    samples: Annotated[int, typer.Option(help="Clip length in samples at 22050 Hz, a power of two.")] = 2**16,
    event_samples: Annotated[Optional[int], typer.Option(help="Opt-in approximation: synthesise each event over this many samples (a power of two < --samples) instead of the whole clip; faster by about samples/event-samples, cuts event tails.")] = None,
    waves: Annotated[Optional[WaveKind], typer.Option(help="Wavetable: band-limited (no aliases; the direct model's default) or naive (method.md's; the seed model's default).", show_default=False)] = None,
    pitches: Annotated[Optional[PitchKind], typer.Option(help="exact: each direct event sounds its own pitch; grid: a mix of the wavetable's 128 pitches (the seed model's, and better for a gliding voice); auto: the direct model's default, grid for clips whose main pitch glides (speech, song), exact for the others.", show_default=False)] = None,
    loss: Annotated[Optional[LossName], typer.Option(help="multiband (method.md's; the seed model's default), multiband-balanced (each band's features weighted towards equal say; the direct model's default), multiband-log (plus the log-magnitude distance of the same features) or noise (the original's stochastic loss).", show_default=False)] = None,
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
    err = _stderr()
    with _user_errors(verbose):
        _usage_check(ray is None or (jobs == 1 and resume is None), "--ray runs each input as a task: drop --jobs and --resume")
        _usage_check(resume is None or jobs == 1, "--resume continues one fit in this process: drop --jobs")
        config = ModelConfig(n_samples=samples, n_events=events, event_samples=event_samples, model=model.value, waves=waves and waves.value, pitches=pitches.value if pitches else fit_pitches(model.value, waves and waves.value))
        steps = steps if steps is not None else (UNBOUNDED_STEPS if seconds is not None else DEFAULT_STEPS)
        fit_config = FitConfig(steps=steps, lr=lr, seed=seed, loss=loss and loss.value, seconds=seconds)
        if musicnet is not None:
            _usage_check(not sources, "give either SOURCES or --musicnet, not both")
            inputs = musicnet_inputs(musicnet, output, n_samples=samples, sample_rate=config.sample_rate, segments=segments, hop=hop, seed=seed)
            many = True
        else:
            _usage_check(bool(sources), "give the audio files to fit (or - to read their paths from stdin, or --musicnet ROOT)")
            found, outputs, many = _plan(sources, output, AUDIO_SUFFIXES, glob, ".splat")
            _usage_check(not (whole and duration is not None), "give --duration or --whole, not both")
            seconds_to_fit = math.inf if whole else duration
            inputs = [FitInput(i.path, o, offset, duration_s=seconds_to_fit) for i, o in zip(found, outputs)]
        earlier = None
        if resume is not None:
            if len(inputs) != 1:
                raise AudiosplatError("--resume takes exactly one input")
            earlier = read_splat(resume)
            config, fit_config = resume_settings(earlier, resume, inputs[0].source, steps, lr)
            fit_config = dataclasses.replace(fit_config, seconds=seconds)
            if resume.resolve() == inputs[0].output.resolve() and not quiet:
                err.print(f"{resume}: will be replaced by the continued fit once it is done")
        if many:
            make_output_folders(output, [i.output for i in inputs])
        if verbose:
            err.print(f"fitting {len(inputs)} clip(s): {config.model} model, {config.n_events} events, {config.n_samples} samples, {steps} steps, loss {fit_config.loss_for(config.model)}, seed {fit_config.seed}")
        settings = FitSettings(config, fit_config, rooms, device.value, batch_size, tuple(sys.argv))
        with (
            _reporting(err, report, many=many, quiet=quiet, describe=_describe_fit) as batch,
            _step_progress(
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
        _exit_if_failed(batch)


def _describe_fit(r: ItemReport) -> str:
    return f"{r.output}: final loss {r.final_loss:.6g}, relative spectral L1 {r.relative_l1:.4f} ({r.steps} steps, {r.seconds:.1f} s)"


def _usage_check(ok: bool, message: str) -> None:
    if not ok:
        typer.echo(f"audiosplat: error: {message}", err=True)
        raise typer.Exit(2)


def _plan(args: list[str], output: Path, suffixes: frozenset[str], glob: str | None, suffix: str) -> tuple[list[Input], list[Path], bool]:
    """The inputs named on the command line (stdin read for -), their outputs, and whether
    this is a batch (-o a folder)."""
    stdin_text = sys.stdin.read() if STDIN in args else ""
    found = expand_inputs(args, suffixes=suffixes, glob=glob, stdin_text=stdin_text)
    many = names_many(args)
    return found, output_paths(found, output, suffix=suffix, many=many), many


@dataclass
class _BatchOutput:
    """The reports of a batch as they come: each written to the report file, a failure as one
    line on stderr, each output on stdout; counted for the summary."""

    err: Console
    write_line: Callable[[ItemReport], None]
    quiet: bool
    describe: Callable[[ItemReport], str] | None
    outputs_of: Callable[[ItemReport], list[str]]
    tally: Tally = field(default_factory=Tally)

    def on_report(self, r: ItemReport) -> None:
        self.tally.add(r)
        self.write_line(r)
        if r.status == "failed":
            text = r.error if r.error.startswith(r.input) else f"{r.input}: {r.error}"
            typer.echo(f"audiosplat: error: {text}", err=True)
            return
        if not self.quiet:
            if r.status == "skipped":
                self.err.print(f"{r.output}: already complete; skipped")
            elif self.describe is not None:
                self.err.print(self.describe(r))
        for path in self.outputs_of(r):
            typer.echo(path)


@contextlib.contextmanager
def _reporting(err: Console, report: Path | None, *, many: bool, quiet: bool, describe=None, outputs_of=lambda r: [r.output]):
    """Yield the batch's `_BatchOutput`; at the end, the report file is renamed into place
    and a batch's summary printed."""
    if report is not None:
        check_output_path(report, inputs=[])
    with report_lines(report) as write_line:
        batch = _BatchOutput(err, write_line, quiet, describe, outputs_of)
        yield batch
    if many and not quiet:
        err.print(batch.tally.summary() + (f"; report in {report}" if report is not None else ""))


def _exit_if_failed(batch: _BatchOutput) -> None:
    if batch.tally.counts["failed"]:
        raise typer.Exit(1)


@contextlib.contextmanager
def _step_progress(console: Console, steps: int, enabled: bool, log_lines: bool, n_inputs: int = 1, step_bars: bool = True):
    """Progress on a terminal: with several inputs an overall bar of inputs done, and (with
    `step_bars`: fits in this process) the current batch's bar with step, loss and steps/s.
    Off a terminal, with `log_lines`, plain lines at the first step and every tenth of the
    steps instead (logs of batch jobs). Yields the (on_batch, on_step, on_input_done) callbacks."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=False,
    )
    task = None
    overall = progress.add_task("inputs", total=n_inputs, detail="") if n_inputs > 1 else None

    def on_batch(first: int, count: int) -> None:
        nonlocal task
        if task is not None:  # one bar for the batch under way, below the overall one
            progress.remove_task(task)
        name = "fit" if n_inputs == 1 else f"fit clip {first + 1}" if count == 1 else f"fit clips {first + 1}-{first + count}"
        task = progress.add_task(name, total=steps, detail="", visible=step_bars)

    def on_input_done() -> None:
        if overall is not None:
            progress.advance(overall)

    def on_step(step: int, losses: list[float]) -> None:
        current = next(t for t in progress.tasks if t.id == task)
        elapsed = current.elapsed or 0.0
        mean_loss = sum(losses) / len(losses)
        rate = (step + 1) / elapsed if elapsed else 0.0
        progress.update(task, completed=step + 1, detail=f"loss {mean_loss:.5g}  {rate:.2f} steps/s")
        if log_lines and enabled and not console.is_terminal and (step == 0 or (step + 1) % max(1, steps // 10) == 0):
            console.print(f"{current.description}: step {step + 1}/{steps} loss {mean_loss:.6g} ({elapsed:.1f} s)")

    with progress:
        yield on_batch, on_step, on_input_done


@app.command()
def render(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The wav file to write ('-': to stdout, one input only); a folder when there are several inputs.", show_default=False)] = ...,
    subtype: Annotated[Subtype, typer.Option(help="Sample format of the wav.")] = Subtype.float,
    stems: Annotated[Optional[Path], typer.Option(help="Also write one wav per event into this folder (in a batch, a subfolder per input).")] = None,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render the events of .splat files to wav files.

    Examples: audiosplat render mozart.splat -o mozart.wav --subtype pcm16;
    audiosplat render fitted/ -o renders/ --skip-existing
    """
    err = _stderr()
    with _user_errors(verbose):
        _usage_check(bool(sources), "give the .splat files to render")

        def render_one(source: Path, out: Path) -> None:
            to_stdout = str(out) == STDIN
            if not to_stdout:
                check_output_path(out, inputs=[source])
            splat = read_splat(source, optimizer=False)
            rate, fmt = splat.config.sample_rate, SUBTYPES[subtype]
            audio = render_splat(splat, device=device.value)
            if to_stdout:
                write_wav_stream(sys.stdout.buffer, audio, rate, fmt)
            else:
                write_wav(out, audio, rate, fmt)
            folder = stems if stems is None or not many else stems / out.relative_to(output).with_suffix("")
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                for e, stem in enumerate(render_splat(splat, device=device.value, stems=True)):
                    write_wav(folder / f"event-{e:03d}.wav", stem, rate, fmt)
            if not quiet:
                extra = f" and {splat.n_events} stems in {folder}" if folder is not None else ""
                err.print(f"{source}: rendered {splat.config.duration_s:.3f} s at {rate} Hz to {'stdout' if to_stdout else out}{extra}")

        if str(output) == STDIN:
            _usage_check(not names_many(sources), "-o - writes one input's wav to stdout; give a folder for several inputs")
            many = False
            render_one(Path(sources[0]), output)
            return
        found, outputs, many = _plan(sources, output, SPLAT_SUFFIXES, glob, ".wav")
        if many:
            make_output_folders(output, outputs)
        with _reporting(err, report, many=many, quiet=quiet) as batch:
            run_each([(i.path, o) for i, o in zip(found, outputs)], render_one, on_report=batch.on_report, skip_existing=skip_existing, fail_fast=fail_fast)
        _exit_if_failed(batch)


class SortKey(str, Enum):
    index = "index"
    time = "time"
    energy = "energy"


class PerturbTarget(str, Enum):
    roots = "roots"
    events = "events"
    both = "both"


@app.command()
def perturb(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .splat to write (a folder when there are several inputs); with --variants K, OUT-001.splat ... beside it.", show_default=False)] = ...,
    amount: Annotated[float, typer.Option(min=0.0, help="Half-width a of the uniform noise U(-a, a) added to the latents.")] = 0.5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the noise; variant k uses seed + k - 1.")] = 0,
    target: Annotated[Optional[PerturbTarget], typer.Option(help="roots: the two root latents of a seed-model file (32 events move together, as in the article); events: each event's latent (the only one for direct-model files, whose latents are the events' parameters in natural units); both. Default: roots for seed, events for direct.", show_default=False)] = None,
    times: Annotated[float, typer.Option(min=0.0, help="Also move each onset by U(-t, t) seconds.")] = 0.0,
    variants: Annotated[int, typer.Option(min=1, help="Number of variants to write.")] = 1,
    render_wav: Annotated[bool, typer.Option("--render", help="Also render each variant to a wav beside it.")] = False,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Perturb the latents of fitted events and decode them again, to hear variations.

    Example: audiosplat perturb mozart.splat -o variants/mozart.splat --variants 4 --render
    """
    err = _stderr()
    with _user_errors(verbose):
        _usage_check(bool(sources), "give the .splat files to perturb")
        found, outputs, many = _plan(sources, output, SPLAT_SUFFIXES, glob, ".splat")
        if many:
            make_output_folders(output, outputs)

        def perturb_one(source: Path, out: Path) -> None:
            written = perturb_splat_file(
                source, out, amount=amount, seed=seed, target=target and target.value, onset_jitter_s=times, variants=variants, argv=sys.argv,
            )
            for path, splat in written:
                if render_wav:
                    write_wav(path.with_suffix(".wav"), render_splat(splat, device=device.value), splat.config.sample_rate)
            if not quiet:
                err.print(f"{source}: wrote {len(written)} variant(s) (amount {amount}, seed {seed})")

        with _reporting(err, report, many=many, quiet=quiet, outputs_of=lambda r: [str(p) for p in perturb_outputs(Path(r.output), variants)]) as batch:
            run_each(
                [(i.path, o) for i, o in zip(found, outputs)], perturb_one, on_report=batch.on_report, skip_existing=skip_existing,
                fail_fast=fail_fast, complete=lambda o: all(is_complete_output(p) for p in perturb_outputs(o, variants)),
            )
        _exit_if_failed(batch)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def edit(
    ctx: typer.Context,
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The edited .splat to write; a folder when there are several inputs.", show_default=False)] = ...,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Edit events' controls; edits apply in the order given.

    Selections (SPEC: all | 0,3,7-12 | gain_db<-30 | quietest:8 | loudest:8): --select SPEC
    (the events the next edits act on; all at first), --keep SPEC (mute the others), --drop
    SPEC (mute them). Edits: --shift SECONDS, --stretch FACTOR (onset times), --gain DB,
    --transpose SEMITONES, --decay FACTOR (ring FACTOR times as long), --room NAME|INDEX,
    --wet SHARE (0..1), --merge OTHER.splat [--at SECONDS] (add OTHER's events, moved
    SECONDS later; all events are selected after it). Fields for conditions: onset_s, gain_db, pitch_hz, decay_s,
    noise_centre_hz, noise_width_hz, reverb_wet, resonance_mix.

    Example: audiosplat edit mozart.splat -o edited.splat --drop quietest:32 --select 5 --shift 0.25 --select all --transpose 12
    """
    err = _stderr()
    with _user_errors(verbose):
        # unknown options pass through as arguments, so the edits arrive among the inputs
        inputs, operations = _edit_words([*(sources or []), *ctx.args])
        _usage_check(bool(inputs), "give the .splat files to edit")
        found, outputs, many = _plan(inputs, output, SPLAT_SUFFIXES, glob, ".splat")
        if many:
            make_output_folders(output, outputs)

        def edit_one(source: Path, out: Path) -> None:
            edit_splat_file(source, out, operations, argv=sys.argv)
            if not quiet:
                err.print(f"{source}: {len(operations)} edit(s) written to {out}")

        with _reporting(err, report, many=many, quiet=quiet) as batch:
            run_each([(i.path, o) for i, o in zip(found, outputs)], edit_one, on_report=batch.on_report, skip_existing=skip_existing, fail_fast=fail_fast)
        _exit_if_failed(batch)


def _edit_words(words: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The inputs and the (name, value) pairs of `--name value` edits among `words`, in order."""
    inputs, operations, k = [], [], 0
    while k < len(words):
        if words[k].startswith("--"):
            if k + 1 == len(words):
                raise EditError(f"edit {words[k]} has no value; edits come as '--name value' pairs")
            operations.append((words[k][2:], words[k + 1]))
            k += 2
        else:
            inputs.append(words[k])
            k += 1
    if not operations:
        raise EditError("no edits given (e.g. --gain -6 or --drop quietest:8); see audiosplat edit --help")
    return inputs, operations


@app.command()
def inspect(
    sources: InputsArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only validate; exit 1 if any file is invalid.")] = False,
    isolated: Annotated[bool, typer.Option("--isolated", help="Read each file in a child process first, so a crafted file that crashes or hangs the HDF5 library is reported invalid instead (for files from others; costs a fresh Python process, seconds, per file).")] = False,
    against: Annotated[Optional[Path], typer.Option(help="Source audio: also report the render's quality against it (relative spectral L1 at 2048/256 and 512/128, multi-scale log-mel distance, chroma similarity; ViSQOL with audiosplat[eval]).")] = None,
    sort: Annotated[SortKey, typer.Option(help="Order of the event table: index, time or energy (loudest first).")] = SortKey.index,
    events: Annotated[Optional[str], typer.Option(help="Show only these events: 0,3,7-12 or a condition such as gain_db<-30.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Draw the timeline of events to this PNG (one input file; with --against, spectrograms too). Needs audiosplat[plot].")] = None,
    glob: GlobOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Summarise .splat files: the fit and a table of the events.

    Example: audiosplat inspect mozart.splat --json | jq .relative_spectral_l1
    """
    err = _stderr()
    _usage_check(bool(sources), "give the .splat files to inspect")
    with _user_errors(verbose):
        stdin_text = sys.stdin.read() if STDIN in sources else ""
        paths = [i.path for i in expand_inputs(sources, suffixes=SPLAT_SUFFIXES, glob=glob, stdin_text=stdin_text)]
    _usage_check(plot is None or len(paths) == 1, "--plot draws one file; give a single .splat")
    failed = 0
    for path in paths:
        try:
            with _user_errors(verbose):
                splat = read_splat_isolated(path) if isolated else read_splat(path)
                if check:
                    if not quiet:
                        err.print(f"{path}: valid .splat {splat.format_version}")
                    continue
                summary = summarise(splat, path)
                summary["event_table"] = _event_table(splat, summary["event_table"], sort, events)
                if against is not None:
                    summary["against"] = {"source": str(against), **quality_against(splat, against)}
                if plot is not None:
                    draw_splat_timeline(splat, plot, against=against)
                    summary["plot"] = str(plot)
                if as_json:
                    typer.echo(json.dumps(summary))
                else:
                    _print_summary(summary)
        except typer.Exit:
            failed += 1
    if failed:
        raise typer.Exit(1)


def _event_table(splat, rows: list[dict], sort: "SortKey", spec: str | None) -> list[dict]:
    if spec is not None:
        chosen = select(splat, spec).tolist()
        rows = [row for row, keep in zip(rows, chosen) if keep]
    if sort == SortKey.time:
        rows = sorted(rows, key=lambda row: row["onset_s"])
    elif sort == SortKey.energy:
        rows = sorted(rows, key=lambda row: -row["gain_db"])
    return rows


def _print_summary(s: dict) -> None:
    out = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 160)
    out.print(f"[bold]{s['file']}[/bold]  (.splat {s['format_version']})")
    windows = f" ({s['windows']} windows of {s['n_samples']} samples)" if s["windows"] > 1 else ""
    out.print(
        f"{s['events']} events, {s['duration_s']:.3f} s{windows} at {s['sample_rate']} Hz; "
        f"{s['steps']} steps ({s['loss']} loss, seed {s['seed']}); final loss {_fmt(s['final_loss'])}; "
        f"relative spectral L1 {_fmt(s['relative_spectral_l1'])}"
    )
    out.print(
        f"{s['model']} model, {s['pitches']} pitches; {s['stored_numbers']} stored numbers, {s['bytes']} bytes; "
        f"rooms {s['rooms']}; source {s['source']}"
    )
    if "against" in s:
        q = s["against"]
        out.print(
            f"against {q['source']}: relative spectral L1 {q['relative_spectral_l1_2048_256']:.4f} (2048/256), "
            f"{q['relative_spectral_l1_512_128']:.4f} (512/128); log-mel distance {q['log_mel_distance']:.4f}; "
            f"chroma similarity {q['chroma_similarity']:.4f}" + (f"; ViSQOL {q['visqol']:.2f}" if "visqol" in q else "")
        )
    table = Table(box=None, pad_edge=False)
    for name in ("event", "onset s", "gain dB", "pitch Hz", "wave", "resonance", "decay s", "noise Hz", "noise width Hz", "reverb wet", "room"):
        table.add_column(name, justify="left" if name in ("wave", "room") else "right")
    for row in s["event_table"]:
        table.add_row(
            str(row["event"]), f"{row['onset_s']:.4f}", f"{row['gain_db']:.1f}", _fmt(row["pitch_hz"], ".1f"),
            row["wave"] or "-", f"{row['resonance_mix']:.2f}", f"{row['decay_s']:.3f}", f"{row['noise_centre_hz']:.0f}",
            f"{row['noise_width_hz']:.0f}", f"{row['reverb_wet']:.2f}", row["room"],
        )
    out.print(table)


def _fmt(value, spec: str = ".6g") -> str:
    return "-" if value is None else format(value, spec)


if __name__ == "__main__":
    app()
