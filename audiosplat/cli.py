"""The `audiosplat` command line: a thin layer over `audiosplat.api`. The only module that
prints. Data goes to stdout, messages and progress to stderr."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audiosplat import __version__
from audiosplat.api import check_output_path, edit_splat_file, fit_audio_files, draw_splat_timeline, perturb_splat_file, quality_against, render_splat, resume_settings
from audiosplat.audio import write_wav, write_wav_stream
from audiosplat.config import ModelConfig
from audiosplat.edits import EditError, select
from audiosplat.errors import AudiosplatError
from audiosplat.fit import FitConfig
from audiosplat.splatfile import read_splat
from audiosplat.runtime import configure_for_fitting
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
    noise = "noise"


DEFAULT_STEPS = 3000
UNBOUNDED_STEPS = 10**7  # --seconds alone: the time budget ends the fit


class ModelName(str, Enum):
    direct = "direct"
    seed = "seed"


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
        typer.echo(f"audiosplat: error: {_one_line(exc)}", err=True)
        raise typer.Exit(2 if isinstance(exc, EditError) else 1) from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)
    configure_for_fitting()


@app.command()
def fit(
    sources: Annotated[list[Path], typer.Argument(help="Audio files to fit (wav, flac, ogg, mp3, ...).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .splat file to write; a folder when there are several inputs.", show_default=False)],
    steps: Annotated[Optional[int], typer.Option(min=0, help="Adam steps (default 3000; with --seconds alone, as many as the time allows).", show_default=False)] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Time budget of each batch's fit in wall-clock seconds, set-up included: the fit ends when it runs out (or after --steps, whichever is first).", show_default=False)] = None,
    events: Annotated[int, typer.Option(help="Number of events, a power of two >= 2.")] = 64,
    model: Annotated[ModelName, typer.Option(help="direct: each event's physical controls fitted directly, started from an analysis of the clip; seed: the original latent-tree model (method.md).")] = ModelName.direct,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (default: 0.01 for direct, 0.001 for seed; when resuming, the stored one).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the initial parameters and the noise; stored in the file.")] = 0,
    offset: Annotated[float, typer.Option(help="Start of the clip in the source, seconds.")] = 0.0,
    samples: Annotated[int, typer.Option(help="Clip length in samples at 22050 Hz, a power of two.")] = 2**16,
    event_samples: Annotated[Optional[int], typer.Option(help="Opt-in approximation: synthesise each event over this many samples (a power of two < --samples) instead of the whole clip; faster by about samples/event-samples, cuts event tails.")] = None,
    loss: Annotated[LossName, typer.Option(help="multiband (deterministic) or noise (the original's stochastic loss).")] = LossName.multiband,
    rooms: Annotated[Optional[Path], typer.Option(help="Folder of impulse-response audio files to use as rooms (default: the built-in procedural rooms).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the fit stored in this .splat (one input only) exactly: its parameters, Adam state, sizes, seed, loss and rooms are used; --steps more steps are taken.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Clips fitted together in one batch (default: 1 on the CPU, as many as fit in memory on a GPU).")] = None,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fit clips as sound events and write them to .splat files.

    Examples: audiosplat fit examples/piano_mozart_k545.wav -o mozart.splat --steps 300;
    audiosplat fit a.wav b.flac c.ogg -o fitted/ --device cuda
    """
    err = _stderr()
    with _user_errors(verbose):
        config = ModelConfig(n_samples=samples, n_events=events, event_samples=event_samples, model=model.value)
        steps = steps if steps is not None else (UNBOUNDED_STEPS if seconds is not None else DEFAULT_STEPS)
        fit_config = FitConfig(steps=steps, lr=lr, seed=seed, loss=loss.value, seconds=seconds)
        outputs = _fit_outputs(sources, output)
        earlier = None
        if resume is not None:
            if len(sources) != 1:
                raise AudiosplatError("--resume takes exactly one input")
            earlier = [read_splat(resume)]
            config, fit_config = resume_settings(earlier[0], resume, sources[0], steps, lr)
            fit_config = dataclasses.replace(fit_config, seconds=seconds)
            if resume.resolve() == outputs[0].resolve() and not quiet:
                err.print(f"{resume}: will be replaced by the continued fit once it is done")
        if verbose:
            err.print(f"fitting {len(sources)} clip(s): {config.model} model, {config.n_events} events, {config.n_samples} samples, {steps} steps, loss {fit_config.loss}, seed {fit_config.seed}")
        with _step_progress(err, steps, enabled=not quiet, log_lines=verbose) as (on_batch, on_step), _stop_on_signal() as stop_requested:
            outcomes = fit_audio_files(
                sources, outputs, config=config, fit_config=fit_config, offset_s=offset, rooms_dir=rooms,
                device=device.value, batch_size=batch_size, argv=sys.argv, on_step=on_step, on_batch=on_batch,
                resume=earlier, should_stop=stop_requested,
            )
        for path, outcome in zip(outputs, outcomes):
            r = outcome.result
            if r.partial:
                err.print(f"{path}: interrupted after {len(r.loss_history)} steps; wrote a resumable checkpoint (continue with --resume {path})")
            elif not quiet:
                skipped = f", {r.skipped_steps} skipped" if r.skipped_steps else ""
                err.print(
                    f"{path}: final loss {r.final_loss:.6g}, relative spectral L1 {r.relative_l1:.4f} "
                    f"({len(r.loss_history)} steps{skipped}, {r.seconds:.1f} s)"
                )
            typer.echo(str(path))
        if stop_requested():
            if len(outcomes) < len(sources):
                err.print(f"interrupted: {len(sources) - len(outcomes)} input(s) not fitted")
            raise typer.Exit(130)


@contextlib.contextmanager
def _stop_on_signal():
    """The first Ctrl-C or SIGTERM asks the fit to stop after its current step (and write
    resumable checkpoints); a second one interrupts at once. Yields the 'stop asked' test."""
    requested: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def ask_to_stop(signum, frame) -> None:
        requested.append(signum)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in previous:
        signal.signal(sig, ask_to_stop)
    try:
        yield lambda: bool(requested)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _fit_outputs(sources: list[Path], output: Path) -> list[Path]:
    """One input: `output` is the file (or a folder to put <stem>.splat in). Several inputs:
    `output` is a folder (made if missing) and each gets <stem>.splat in it."""
    if len(sources) == 1 and not output.is_dir():
        return [output]
    if output.exists() and not output.is_dir():
        raise AudiosplatError(f"{output}: with several inputs, -o must be a folder")
    names = [Path(s).stem + ".splat" for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AudiosplatError(f"{output}: several inputs would write {duplicates[0]}; fit them into different folders")
    if not output.exists():
        if not output.parent.is_dir():
            raise AudiosplatError(f"{output}: the output folder {output.parent} does not exist")
        output.mkdir()
    return [output / n for n in names]


@contextlib.contextmanager
def _step_progress(console: Console, steps: int, enabled: bool, log_lines: bool):
    """A progress bar with step, loss and steps/s per batch; off a terminal, with `log_lines`,
    plain lines at the first step and every tenth of the steps instead (logs of batch jobs).
    Yields the (on_batch, on_step) callbacks of `fit_audio_files`."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.5g}"),
        TextColumn("{task.fields[rate]:.2f} steps/s"),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=False,
    )
    task = None

    def on_batch(first: int, count: int) -> None:
        nonlocal task
        name = "fit" if count == 1 and first == 0 else f"fit clips {first + 1}-{first + count}"
        task = progress.add_task(name, total=steps, loss=float("nan"), rate=0.0)

    def on_step(step: int, losses: list[float]) -> None:
        elapsed = progress.tasks[task].elapsed or 0.0
        mean_loss = sum(losses) / len(losses)
        progress.update(task, completed=step + 1, loss=mean_loss, rate=(step + 1) / elapsed if elapsed else 0.0)
        if log_lines and enabled and not console.is_terminal and (step == 0 or (step + 1) % max(1, steps // 10) == 0):
            console.print(f"{progress.tasks[task].description}: step {step + 1}/{steps} loss {mean_loss:.6g} ({elapsed:.1f} s)")

    with progress:
        yield on_batch, on_step


@app.command()
def render(
    source: Annotated[Path, typer.Argument(help="The .splat file to render.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The wav file to write; '-' writes it to stdout.", show_default=False)],
    subtype: Annotated[Subtype, typer.Option(help="Sample format of the wav.")] = Subtype.float,
    stems: Annotated[Optional[Path], typer.Option(help="Also write one wav per event into this folder.")] = None,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render the events of a .splat file to a wav file.

    Example: audiosplat render mozart.splat -o mozart.wav --subtype pcm16
    """
    err = _stderr()
    with _user_errors(verbose):
        to_stdout = str(output) == "-"
        if not to_stdout:
            check_output_path(output, inputs=[source])
        splat = read_splat(source)
        rate, fmt = splat.config.sample_rate, SUBTYPES[subtype]
        audio = render_splat(splat, device=device.value)
        if to_stdout:
            write_wav_stream(sys.stdout.buffer, audio, rate, fmt)
        else:
            write_wav(output, audio, rate, fmt)
        if stems is not None:
            stems.mkdir(parents=True, exist_ok=True)
            for e, stem in enumerate(render_splat(splat, device=device.value, stems=True)):
                write_wav(stems / f"event-{e:03d}.wav", stem, rate, fmt)
        if not quiet:
            extra = f" and {splat.n_events} stems in {stems}" if stems is not None else ""
            err.print(f"{source}: rendered {splat.config.duration_s:.3f} s at {rate} Hz to {'stdout' if to_stdout else output}{extra}")


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
    source: Annotated[Path, typer.Argument(help="The .splat file to perturb (never modified).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .splat to write; with --variants K, OUT-001.splat ... beside it.", show_default=False)],
    amount: Annotated[float, typer.Option(min=0.0, help="Half-width a of the uniform noise U(-a, a) added to the latents.")] = 0.5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the noise; variant k uses seed + k - 1.")] = 0,
    target: Annotated[Optional[PerturbTarget], typer.Option(help="roots: the two root latents of a seed-model file (32 events move together, as in the article); events: each event's latent (the only one for direct-model files, whose latents are the events' parameters in natural units); both. Default: roots for seed, events for direct.", show_default=False)] = None,
    times: Annotated[float, typer.Option(min=0.0, help="Also move each onset by U(-t, t) seconds.")] = 0.0,
    variants: Annotated[int, typer.Option(min=1, help="Number of variants to write.")] = 1,
    render_wav: Annotated[bool, typer.Option("--render", help="Also render each variant to a wav beside it.")] = False,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Perturb the latents of fitted events and decode them again, to hear variations.

    Example: audiosplat perturb mozart.splat -o variants/mozart.splat --variants 4 --render
    """
    err = _stderr()
    with _user_errors(verbose):
        written = perturb_splat_file(
            source, output, amount=amount, seed=seed, target=target and target.value, onset_jitter_s=times,
            variants=variants, argv=sys.argv,
        )
        for path, splat in written:
            if render_wav:
                wav = path.with_suffix(".wav")
                write_wav(wav, render_splat(splat, device=device.value), splat.config.sample_rate)
            typer.echo(str(path))
        if not quiet:
            err.print(f"{source}: wrote {len(written)} variant(s) (amount {amount}, seed {seed})")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def edit(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="The .splat file to edit (never modified).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The edited .splat to write.", show_default=False)],
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Edit events' controls; edits apply in the order given.

    Selections (SPEC: all | 0,3,7-12 | gain_db<-30 | quietest:8 | loudest:8): --select SPEC
    (the events the next edits act on; all at first), --keep SPEC (mute the others), --drop
    SPEC (mute them). Edits: --shift SECONDS, --stretch FACTOR (onset times), --gain DB,
    --transpose SEMITONES, --decay FACTOR (ring FACTOR times as long), --room NAME|INDEX,
    --wet SHARE (0..1). Fields for conditions: onset_s, gain_db, pitch_hz, decay_s,
    noise_centre_hz, noise_width_hz, reverb_wet, resonance_mix.

    Example: audiosplat edit mozart.splat -o edited.splat --drop quietest:32 --select 5 --shift 0.25 --select all --transpose 12
    """
    err = _stderr()
    with _user_errors(verbose):
        operations = _edit_operations(ctx.args)
        edit_splat_file(source, output, operations, argv=sys.argv)
        typer.echo(str(output))
        if not quiet:
            err.print(f"{source}: {len(operations)} edit(s) written to {output}")


def _edit_operations(args: list[str]) -> list[tuple[str, str]]:
    """The (name, value) pairs of `--name value` words, in order."""
    if not args:
        raise EditError("no edits given (e.g. --gain -6 or --drop quietest:8); see audiosplat edit --help")
    if len(args) % 2 or not all(a.startswith("--") for a in args[::2]):
        raise EditError(f"edits come as '--name value' pairs, got: {' '.join(args)}")
    return [(name[2:], value) for name, value in zip(args[::2], args[1::2])]


@app.command()
def inspect(
    sources: Annotated[list[Path], typer.Argument(help="One or more .splat files.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only validate; exit 1 if any file is invalid.")] = False,
    against: Annotated[Optional[Path], typer.Option(help="Source audio: also report the render's quality against it (relative spectral L1 at 2048/256 and 512/128, multi-scale log-mel distance, chroma similarity; ViSQOL with audiosplat[eval]).")] = None,
    sort: Annotated[SortKey, typer.Option(help="Order of the event table: index, time or energy (loudest first).")] = SortKey.index,
    events: Annotated[Optional[str], typer.Option(help="Show only these events: 0,3,7-12 or a condition such as gain_db<-30.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Draw the timeline of events to this PNG (one input file; with --against, spectrograms too). Needs audiosplat[plot].")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Summarise .splat files: the fit and a table of the events.

    Example: audiosplat inspect mozart.splat --json | jq .relative_spectral_l1
    """
    err = _stderr()
    if plot is not None and len(sources) != 1:
        typer.echo("audiosplat: error: --plot draws one file; give a single .splat", err=True)
        raise typer.Exit(2)
    failed = 0
    for path in sources:
        try:
            with _user_errors(verbose):
                splat = read_splat(path)
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
    out.print(
        f"{s['events']} events, {s['duration_s']:.3f} s at {s['sample_rate']} Hz; "
        f"{s['steps']} steps ({s['loss']} loss, seed {s['seed']}); final loss {_fmt(s['final_loss'])}; "
        f"relative spectral L1 {_fmt(s['relative_spectral_l1'])}"
    )
    out.print(f"{s['stored_numbers']} stored numbers, {s['bytes']} bytes; rooms {s['rooms']}; source {s['source']}")
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
