"""`audiosplat edit`: edits of events' controls, applied in the order given."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audiosplat.app.batch import make_output_folders, run_each
from audiosplat.app.inputs import SPLAT_SUFFIXES
from audiosplat.cli.common import (
    FailFastOpt,
    GlobOpt,
    InputsArg,
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
from audiosplat.core.errors import UsageError

# unknown options pass through as arguments: the edits are `--name value` pairs among the inputs
CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
# --null without the -0 of the other commands: among unknown options the parser reads an
# amount such as -10 as short flags, and its 0 would turn on --null and leave --gain -1.
NullLongOpt = Annotated[bool, typer.Option("--null", help="Paths on stdin (with -) are NUL-separated and the output paths printed are NUL-terminated, as with find -print0 and xargs -0 (names may then hold newlines). No -0 here: it would read as part of a negative amount.")]


def edit(
    ctx: typer.Context,
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The edited .splat to write; a folder when there are several inputs.", show_default=False)] = ...,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    null: NullLongOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Edit events' controls; edits apply in the order given.

    Selections (SPEC: all | 0,3,7-12 | gain_db<-30 | quietest:8 | loudest:8 | note==C5 | note>=F#3 | notes | unpitched; parts joined with & must all hold, e.g. note==C5&onset_s>1.2): --select SPEC
    (the events the next edits act on; all at first), --keep SPEC (mute the others), --drop
    SPEC (mute them). Edits: --shift SECONDS, --stretch FACTOR (onset times), --gain DB,
    --transpose SEMITONES, --decay FACTOR (ring FACTOR times as long), --room NAME|INDEX,
    --wet SHARE (0..1), --noise-gain DB|off (the noise bed), --colour DB|off (lift every band
    of the colour over the whole render, or take it out), --merge OTHER.splat [--at SECONDS]
    (add OTHER's events, moved SECONDS later; all events are selected after it). Fields for conditions: onset_s, gain_db, energy_db, pitch_hz, decay_s,
    noise_centre_hz, noise_width_hz, reverb_wet, resonance_mix.

    Example: audiosplat edit mozart.splat -o edited.splat --drop quietest:32 --select 5 --shift 0.25 --select all --transpose 12
    """
    from audiosplat.app.api import edit_splat_file  # torch loads here: only commands that compute need it
    from audiosplat.app.outputs import is_complete_output
    from audiosplat.ops.edits import check_operations, merged_paths

    err = stderr()
    with user_errors(verbose):
        # unknown options pass through as arguments, so the edits arrive among the inputs
        inputs, operations = edit_words([*(sources or []), *ctx.args])
        usage_check(bool(inputs), "give the .splat files to edit")
        check_operations(operations)
        found, outputs, many = plan(inputs, output, SPLAT_SUFFIXES, glob, ".splat", report=report, null=null, reads=tuple(Path(p) for p in merged_paths(operations)))
        if many:
            make_output_folders(output, outputs)

        def edit_one(source: Path, out: Path) -> None:
            edit_splat_file(source, out, operations, argv=sys.argv)
            if not quiet:
                err.print(f"{source}: {len(operations)} edit(s) written to {out}")

        with reporting(err, report, many=many, quiet=quiet, null=null) as batch:
            run_each([(i.path, o) for i, o in zip(found, outputs)], edit_one, on_report=batch.on_report, skip_existing=skip_existing, fail_fast=fail_fast, complete=is_complete_output)
        exit_if_failed(batch)


def edit_words(words: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The inputs and the (name, value) pairs of `--name value` edits among `words`, in order."""
    inputs, operations, k = [], [], 0
    while k < len(words):
        if words[k].startswith("--"):
            if k + 1 == len(words):
                raise UsageError(f"edit {words[k]} has no value; edits come as '--name value' pairs")
            operations.append((words[k][2:], words[k + 1]))
            k += 2
        else:
            inputs.append(words[k])
            k += 1
    if not operations:
        raise UsageError("no edits given (e.g. --gain -6 or --drop quietest:8); see audiosplat edit --help")
    return inputs, operations
