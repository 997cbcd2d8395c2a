"""What every command shares: option types whose choices come from the library's registries,
one-line errors, the inputs named on the command line, and a batch's reports as they come.
Nothing here loads torch."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from audiosplat.app.batch import ItemReport, Tally, error_text, report_lines
from audiosplat.app.inputs import STDIN, Input, check_output_path, check_writes, expand_inputs, names_many, output_paths
from audiosplat.core.errors import UsageError
from audiosplat.core.runtime import DEVICES


def choices(name: str, values: tuple[str, ...] | list[str]) -> type[Enum]:
    """A Typer choice type of `values` (spelt as the library spells them)."""
    return Enum(name, {value.replace("-", "_"): value for value in values}, type=str)


Device = choices("Device", DEVICES)

DeviceOpt = Annotated[Device, typer.Option("--device", help="Where to compute: auto (CUDA if present), cpu or cuda.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on stderr but errors.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr; tracebacks on errors.")]
InputsArg = Annotated[Optional[list[str]], typer.Argument(help="Files, folders (every matching file below them, recursively) or - (paths on stdin, one a line).", show_default=False)]
GlobOpt = Annotated[Optional[str], typer.Option("--glob", help="Which files to take from folders, e.g. '*.wav' (default: by suffix).")]
SkipOpt = Annotated[bool, typer.Option("--skip-existing", help="Skip inputs whose output already exists and reads back complete (resume a killed batch).")]
FailFastOpt = Annotated[bool, typer.Option("--fail-fast", help="Stop at the first input that fails (default: report it and go on).")]
NullOpt = Annotated[bool, typer.Option("--null", "-0", help="Paths on stdin (with -) are NUL-separated and the output paths printed are NUL-terminated, as with find -print0 and xargs -0 (names may then hold newlines).")]
ReportOpt = Annotated[Optional[Path], typer.Option("--report", help="Write one JSON line per input here (input, output, status, error, steps, final_loss, relative_l1, seconds).")]


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def user_errors(verbose: bool) -> Iterator[None]:
    """Turn any problem into one `audiosplat: error:` line on stderr and an exit code: 2 for
    a usage error, 1 for anything else, 130 on Ctrl-C; a closed stdout (`| head -1`) ends
    quietly with 141, as a Unix tool killed by SIGPIPE. With `verbose`, the traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.echo("audiosplat: interrupted; the output under way was not written", err=True)
        raise typer.Exit(130) from None
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(141) from None
    except Exception as exc:
        if verbose:
            raise
        typer.echo(f"audiosplat: error: {error_text(exc)}", err=True)
        raise typer.Exit(2 if isinstance(exc, UsageError) else 1) from None


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush into a closed pipe
    raises nothing more."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def usage_check(ok: bool, message: str) -> None:
    if not ok:
        typer.echo(f"audiosplat: error: {message}", err=True)
        raise typer.Exit(2)


def named_inputs(args: list[str], suffixes: frozenset[str], glob: str | None, null: bool = False) -> list[Input]:
    """The inputs named on the command line, stdin read for -."""
    stdin_text = sys.stdin.read() if STDIN in args else ""
    return expand_inputs(args, suffixes=suffixes, glob=glob, stdin_text=stdin_text, null=null)


def plan(
    args: list[str], output: Path, suffixes: frozenset[str], glob: str | None, suffix: str, *, report: Path | None, null: bool = False,
    reads: tuple[Path, ...] = (), writes: Callable[[list[Path], bool], list[Path]] | None = None,
) -> tuple[list[Input], list[Path], bool]:
    """The inputs named on the command line (stdin read for -), their outputs, and whether
    this is a batch (-o a folder). Refuses files written (and the report) that name an
    input, another file the command `reads`, or each other. `writes(outputs, many)` says
    which files the command writes for its outputs when that is not the outputs alone."""
    found = named_inputs(args, suffixes, glob, null)
    many = names_many(args)
    outputs = output_paths(found, output, suffix=suffix, many=many)
    written = outputs if writes is None else writes(outputs, many)
    check_writes([*written, report], [*(i.path for i in found), *reads])
    return found, outputs, many


@dataclass
class BatchOutput:
    """The reports of a batch as they come: each written to the report file, a failure as one
    line on stderr, each output on stdout; counted for the summary."""

    err: Console
    write_line: Callable[[ItemReport], None]
    quiet: bool
    describe: Callable[[ItemReport], str] | None
    outputs_of: Callable[[ItemReport], list[str]]
    null: bool = False
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
            typer.echo(f"{path}\0" if self.null else path, nl=not self.null)


@contextlib.contextmanager
def reporting(err: Console, report: Path | None, *, many: bool, quiet: bool, describe=None, outputs_of=lambda r: [r.output], null: bool = False):
    """Yield the batch's `BatchOutput`; at the end, the report file is renamed into place
    (after Ctrl-C too: it holds the inputs finished) and a batch's summary printed."""
    if report is not None:
        check_output_path(report, inputs=[])
    with report_lines(report) as write_line:
        batch = BatchOutput(err, write_line, quiet, describe, outputs_of, null)
        try:
            yield batch
        except KeyboardInterrupt:
            if not many:
                raise
            typer.echo(f"audiosplat: interrupted after {batch.tally.summary()}; the input under way was not written", err=True)
            raise typer.Exit(130) from None
    if many and not quiet:
        err.print(batch.tally.summary() + (f"; report in {report}" if report is not None else ""))


def exit_if_failed(batch: BatchOutput) -> None:
    if batch.tally.counts["failed"]:
        raise typer.Exit(1)
