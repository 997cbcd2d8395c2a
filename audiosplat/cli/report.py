"""`audiosplat report`: .splat files in, one self-contained HTML page each out (and an index
of them for a batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from audiosplat.app.batch import make_output_folders, run_each
from audiosplat.app.inputs import SPLAT_SUFFIXES, names_many
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
    exit_if_failed,
    plan,
    reporting,
    stderr,
    usage_check,
    user_errors,
)

INDEX_NAME = "index.html"


def report(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML page to write; a folder when there are several inputs (with index.html listing the pages).", show_default=False)] = ...,
    against: Annotated[Optional[Path], typer.Option(help="Source audio (one input): play it, draw its spectrogram and score the render against it, as inspect --against does.")] = None,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    batch_report: ReportOpt = None,
    null: NullOpt = False,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a page to open in a browser, offline: players for the source, the render, a
    perturbation and every event alone; a timeline of the events (click one to hear it)
    under spectrograms; the summary, quality, provenance and history.

    Examples: audiosplat report mozart.splat --against mozart.wav -o mozart.html;
    audiosplat report fitted/ -o pages/
    """
    from audiosplat.app.outputs import is_complete_output
    from audiosplat.app.report import WrittenReport, write_index, write_report  # torch loads here: only commands that compute need it

    err = stderr()
    listed = []  # the pages an index lists: written now, or complete already and skipped
    with user_errors(verbose):
        usage_check(bool(sources), "give the .splat files to report on")
        usage_check(against is None or not names_many(sources), "--against is the source of one .splat; give a single file")
        found, outputs, many = plan(
            sources, output, SPLAT_SUFFIXES, glob, ".html", report=batch_report, null=null, reads=(against,) if against else (),
            writes=lambda pages, many: [*pages, *([output / INDEX_NAME] if many else [])],
        )
        index = output / INDEX_NAME if many else None

        def report_one(source: Path, out: Path) -> None:
            page = write_report(source, out, against=against, device=device.value)
            listed.append(page)
            if not quiet:
                err.print(f"{source}: wrote {out} ({page.size_bytes / 1e6:.2f} MB)")

        if many:
            make_output_folders(output, outputs)
        with reporting(err, batch_report, many=many, quiet=quiet, null=null) as batch:
            def on_report(r) -> None:
                batch.on_report(r)
                if r.status == "skipped":
                    listed.append(WrittenReport(Path(r.output), Path(r.output).stat().st_size, []))

            run_each([(i.path, o) for i, o in zip(found, outputs)], report_one, on_report=on_report, skip_existing=skip_existing, fail_fast=fail_fast, complete=is_complete_output)
        if index is not None and listed:
            write_index(index, sorted(listed, key=lambda page: page.path))
            typer.echo(f"{index}\0" if null else index, nl=not null)
        exit_if_failed(batch)
