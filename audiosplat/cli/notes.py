"""`audiosplat notes`: the notes of a .splat as MIDI, CSV or JSON. Reading and writing them
need no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from audiosplat.app.inputs import STDIN, check_output_path, check_writes
from audiosplat.cli.common import QuietOpt, VerboseOpt, stderr, usage_check, user_errors


def notes(
    source: Annotated[Path, typer.Argument(help="The .splat file whose notes to write.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The file to write: .mid or .midi (MIDI), .csv or .json; - or none: CSV or JSON on stdout.", show_default=False)] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", metavar="midi|csv|json", help="midi, csv or json (default: from -o's suffix; csv on stdout).", show_default=False)] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write the notes of a .splat, each one or more events that are pitched, mostly
    resonance and heard (energy within 15 dB of the most energetic; the same pitch renewed
    while it sounds, or a weak partial beside it, is one note): onset, offset, nearest MIDI pitch, cents, name,
    velocity, level and its events. MIDI: one track at 120 bpm, 480 ticks a beat.

    Examples: audiosplat notes mozart.splat -o mozart.mid;
    audiosplat notes mozart.splat --format json | jq '.[].note'
    """
    from audiosplat.app.notes import export_notes, read_notes  # h5py loads here, not for --help
    from audiosplat.io.midi import in_midi_range
    from audiosplat.io.note_files import note_format, notes_bytes

    err = stderr()
    with user_errors(verbose):
        to_stdout = output is None or str(output) == STDIN
        if not to_stdout:
            check_writes([output], [source])
            check_output_path(output, inputs=[source])
        chosen = note_format(None if to_stdout else output, fmt)
        if to_stdout:
            usage_check(chosen != "midi", "MIDI is binary and is not written to stdout; give -o FILE.mid")
            rows = read_notes(source)
            typer.echo(notes_bytes(rows, chosen).decode("utf-8"), nl=False)
            return
        rows = export_notes(source, output, chosen)
        left_out = len(rows) - len(in_midi_range(rows)) if chosen == "midi" else 0
        if not quiet:
            skipped = f"; {left_out} outside MIDI's pitches 0-127 left out" if left_out else ""
            err.print(f"{source}: {len(rows) - left_out} notes written to {output} ({chosen}){skipped}")
        typer.echo(str(output))
