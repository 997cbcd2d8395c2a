"""`audiosplat inspect`: summaries of .splat files. Reading and summarising need no torch;
only --against and --plot, which render, load it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from audiosplat.app.inputs import SPLAT_SUFFIXES, check_writes
from audiosplat.cli.common import GlobOpt, InputsArg, NullOpt, QuietOpt, VerboseOpt, choices, named_inputs, stderr, usage_check, user_errors
from audiosplat.ops.notes import with_notes
from audiosplat.ops.summary import SORT_KEYS, fit_text, sorted_rows, summarise, track_text

SortKey = choices("SortKey", SORT_KEYS)


def inspect(
    sources: InputsArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only validate; exit 1 if any file is invalid.")] = False,
    isolated: Annotated[bool, typer.Option("--isolated", help="Read each file in a child process first, so a crafted file that crashes or hangs the HDF5 library is reported invalid instead (for files from others; costs a fresh Python process, seconds, per file).")] = False,
    against: Annotated[Optional[Path], typer.Option(help="Source audio: also report the render's quality against it (relative spectral L1 at 2048/256 and 512/128, multi-scale log-mel distance, chroma similarity; ViSQOL with audiosplat[eval]).")] = None,
    sort: Annotated[SortKey, typer.Option(help="Order of the event table: index, time or energy (loudest first).")] = SortKey(SORT_KEYS[0]),
    events: Annotated[Optional[str], typer.Option(help="Show only these events: 0,3,7-12, a condition such as gain_db<-30 or note==C5, notes, unpitched; join with &.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Draw the timeline of events to this PNG (one input file; with --against, spectrograms too). Needs audiosplat[plot].")] = None,
    glob: GlobOpt = None,
    null: NullOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Summarise .splat files: the fit and a table of the events.

    Example: audiosplat inspect mozart.splat --json | jq .relative_spectral_l1
    """
    from audiosplat.io.safe_open import read_stored_isolated  # h5py loads here, not for --help
    from audiosplat.io.splat_format import read_stored
    from audiosplat.ops.selection import select

    err = stderr()
    usage_check(bool(sources), "give the .splat files to inspect")
    with user_errors(verbose):
        paths = [i.path for i in named_inputs(sources, SPLAT_SUFFIXES, glob, null)]
        usage_check(plot is None or len(paths) == 1, "--plot draws one file; give a single .splat")
        check_writes([plot], [*paths, against])
    failed = 0
    for path in paths:
        try:
            with user_errors(verbose):
                stored = read_stored_isolated(path) if isolated else read_stored(path)
                if check:
                    if not quiet:
                        err.print(f"{path}: valid .splat {stored.format_version}")
                    continue
                summary = with_notes(summarise(stored, path), stored.onsets_s)
                rows = summary["event_table"]
                if events is not None:
                    rows = [row for row, keep in zip(rows, select(stored, events).tolist()) if keep]
                summary["event_table"] = sorted_rows(rows, sort.value)
                if against is not None or plot is not None:
                    summary |= _rendered(stored, against, plot)
                if as_json:
                    typer.echo(json.dumps(summary))
                else:
                    _print_summary(summary)
        except typer.Exit as stop:
            if stop.exit_code != 1:  # a closed stdout or Ctrl-C ends them all
                raise
            failed += 1
    if failed:
        raise typer.Exit(1)


def _rendered(stored, against: Path | None, plot: Path | None) -> dict:
    """The summary's parts that need the events rendered: quality against the source, the plot."""
    from audiosplat.app.api import draw_splat_timeline, quality_against  # torch loads here: only rendering needs it
    from audiosplat.io.splatfile import splat_from_stored

    splat = splat_from_stored(stored)
    extra = {}
    if against is not None:
        extra["against"] = {"source": str(against), **quality_against(splat, against)}
    if plot is not None:
        draw_splat_timeline(splat, plot, against=against)
        extra["plot"] = str(plot)
    return extra


def _print_summary(s: dict) -> None:
    out = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 160)
    out.print(f"[bold]{s['file']}[/bold]  (.splat {s['format_version']})")
    windows = f" ({s['windows']} windows of {s['n_samples']} samples)" if s["windows"] > 1 else ""
    out.print(
        f"{s['events']} events, {s['duration_s']:.3f} s{windows} at {s['sample_rate']} Hz; "
        f"{fit_text(s)}; final loss {_fmt(s['final_loss'])}; "
        f"relative spectral L1 {_fmt(s['relative_spectral_l1'])}"
    )
    out.print(
        f"{s['model']} model, {s['pitches']} pitches; {s['stored_numbers']} stored numbers, {s['bytes']} bytes; "
        f"rooms {s['rooms']}; source {s['source']}"
    )
    onsets = "" if s.get("source_onsets") is None else f"; {s['source_onsets']} note onsets in the source"
    out.print(f"notes: {s['notes']} (in {s['note_events']} of {s['events']} events{onsets})")
    bed = s.get("noise_bed")
    if bed is not None:
        bands = " ".join("-" if level is None else f"{level:.0f}" for level in bed["band_level_db"])
        out.print(
            f"noise bed: {bed['anchors']} anchors x {bed['bands']} bands, {bed['band_hz'][0]:.0f}-{bed['band_hz'][-1]:.0f} Hz; "
            + ("silent" if bed["level_db_max"] is None else f"loudest {bed['level_db_max']:.1f} dB; mean level by band, dB: {bands}")
        )
    colour = s.get("colour")
    if colour is not None:
        lifts = " ".join(f"{level:+.1f}" for level in colour["levels_db"])
        out.print(f"colour: {len(colour['levels_db'])} bands, {colour['band_hz'][0]:.0f}-{colour['band_hz'][-1]:.0f} Hz; lift by band, dB: {lifts}")
        if colour["track"] is not None:
            out.print(f"colour's track: {track_text(colour['track'])}")
    if "against" in s:
        q = s["against"]
        out.print(
            f"against {q['source']}: relative spectral L1 {q['relative_spectral_l1_2048_256']:.4f} (2048/256), "
            f"{q['relative_spectral_l1_512_128']:.4f} (512/128); log-mel distance {q['log_mel_distance']:.4f}; "
            f"chroma similarity {q['chroma_similarity']:.4f}" + (f"; ViSQOL {q['visqol']:.2f}" if "visqol" in q else "")
        )
    columns = ("event", "onset s", "gain dB", "energy dB", "pitch Hz", "note", "wave", "resonance", "decay s", "noise Hz", "noise width Hz", "reverb wet", "room")
    rows = [
        (
            str(row["event"]), f"{row['onset_s']:.4f}", f"{row['gain_db']:.1f}", _fmt(row["energy_db"], ".1f"), _fmt(row["pitch_hz"], ".1f"),
            row["note"] or "", row["wave"] or "-", f"{row['resonance_mix']:.2f}", f"{row['decay_s']:.3f}", f"{row['noise_centre_hz']:.0f}",
            f"{row['noise_width_hz']:.0f}", f"{row['reverb_wet']:.2f}", row["room"],
        )
        for row in s["event_table"]
    ]
    sys.stdout.write("".join(line + "\n" for line in text_table(columns, rows, left=("note", "wave", "room"))))


def text_table(columns: tuple[str, ...], rows: list[tuple[str, ...]], left: tuple[str, ...] = ()) -> list[str]:
    """Lines of a plain table, columns padded to their widest cell: linear in the rows, where
    a rich Table of 100,000 events takes minutes."""
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    def line(cells) -> str:
        return "  ".join(c.ljust(w) if name in left else c.rjust(w) for c, w, name in zip(cells, widths, columns)).rstrip()
    return [line(columns), *map(line, rows)]


def _fmt(value, spec: str = ".6g") -> str:
    return "-" if value is None else format(value, spec)
