"""`audiosplat render`: .splat files in, wav files out."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from audiosplat.app.batch import make_output_folders, run_each
from audiosplat.app.inputs import SPLAT_SUFFIXES, STDIN, check_output_path, names_many
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
from audiosplat.io.kinds import WAV_SUBTYPES

Subtype = choices("Subtype", tuple(WAV_SUBTYPES))


def render(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The wav file to write ('-': to stdout, one input only); a folder when there are several inputs.", show_default=False)] = ...,
    subtype: Annotated[Subtype, typer.Option(help="Sample format of the wav.")] = Subtype("float"),
    stems: Annotated[Optional[Path], typer.Option(help="Also write one wav per event (event-NNN.wav) and the noise bed (noise-bed.wav) into this folder (in a batch, a subfolder per input).")] = None,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    null: NullOpt = False,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render the events of .splat files to wav files.

    Examples: audiosplat render mozart.splat -o mozart.wav --subtype pcm16;
    audiosplat render fitted/ -o renders/ --skip-existing
    """
    from audiosplat.app.api import render_noise_bed, render_splat  # torch loads here: only commands that compute need it
    from audiosplat.app.outputs import is_complete_output
    from audiosplat.io.audio import write_wav, write_wav_stream
    from audiosplat.io.splatfile import read_splat

    err = stderr()
    with user_errors(verbose):
        usage_check(bool(sources), "give the .splat files to render")

        def render_one(source: Path, out: Path) -> None:
            to_stdout = str(out) == STDIN
            if not to_stdout:
                check_output_path(out, inputs=[source])
            splat = read_splat(source, optimizer=False)
            rate, fmt = splat.config.sample_rate, WAV_SUBTYPES[subtype.value]
            audio = render_splat(splat, device=device.value)
            peak = float(abs(audio).max(initial=0.0))
            if fmt != "FLOAT" and peak >= 1.0:  # the colour can lift a render past the clip's peak
                err.print(f"{source}: warning: the render peaks at {peak:.3f}, which {subtype.value} clips; --subtype float keeps it")
            folder = stems if stems is None or not many else stems / out.relative_to(output).with_suffix("")
            if folder is not None:  # before the main wav: its presence says the input is done
                folder.mkdir(parents=True, exist_ok=True)
                for e, stem in enumerate(render_splat(splat, device=device.value, stems=True)):
                    write_wav(folder / f"event-{e:03d}.wav", stem, rate, fmt)
                if splat.noise_bed is not None:
                    write_wav(folder / "noise-bed.wav", render_noise_bed(splat, device=device.value), rate, fmt)
            if to_stdout:
                write_wav_stream(sys.stdout.buffer, audio, rate, fmt)
            else:
                write_wav(out, audio, rate, fmt)
            if not quiet:
                parts = f"{splat.n_events} stems" + (" and the noise bed" if splat.noise_bed is not None else "")
                extra = f" and {parts} in {folder}" if folder is not None else ""
                err.print(f"{source}: rendered {splat.config.duration_s:.3f} s at {rate} Hz to {'stdout' if to_stdout else out}{extra}")

        if str(output) == STDIN:
            usage_check(not names_many(sources), "-o - writes one input's wav to stdout; give a folder for several inputs")
            many = False
            render_one(Path(sources[0]), output)
            return
        found, outputs, many = plan(sources, output, SPLAT_SUFFIXES, glob, ".wav", report=report, null=null)
        if many:
            make_output_folders(output, outputs)
        # a batch stops between inputs on the first Ctrl-C (a second one interrupts at once)
        with (stop_on_signal() if many else contextlib.nullcontext(lambda: False)) as stop_asked, reporting(err, report, many=many, quiet=quiet, null=null) as batch:

            def render_unless_stopped(source: Path, out: Path) -> None:
                # Ctrl-C takes effect between inputs: raised anywhere, a C library may
                # swallow it or turn it into an input's error
                if stop_asked():
                    raise KeyboardInterrupt
                render_one(source, out)

            run_each([(i.path, o) for i, o in zip(found, outputs)], render_unless_stopped, on_report=batch.on_report, skip_existing=skip_existing, fail_fast=fail_fast, complete=is_complete_output)
        exit_if_failed(batch)
