"""The `audiosplat` command line: one module per command, each a thin layer over the
library, and the only layer that prints. Data goes to stdout, messages and progress to
stderr. Importing it loads no torch: `--help` and `inspect` start fast."""

from __future__ import annotations

from typing import Annotated

import typer

from audiosplat import __version__
from audiosplat.cli.edit import CONTEXT, edit
from audiosplat.cli.fit import fit
from audiosplat.cli.inspect import inspect
from audiosplat.cli.notes import notes
from audiosplat.cli.perturb import perturb
from audiosplat.cli.render import render
from audiosplat.cli.report import report
from audiosplat.core.runtime import configure_for_fitting

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Fit audio as a sparse set of physics-inspired sound events, and render them back.",
)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)
    configure_for_fitting()


app.command()(fit)
app.command()(render)
app.command()(perturb)
app.command(context_settings=CONTEXT)(edit)
app.command()(inspect)
app.command()(notes)
app.command()(report)
