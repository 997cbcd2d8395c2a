"""A report of one .splat: the data of its page (`report_page`), gathered from the file, its
renders and, given one, its source; and writing the page and a batch's index."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiosplat.app.api import quality_against, render_noise_bed, render_splat
from audiosplat.app.inputs import check_output_path
from audiosplat.app.report_layout import Envelope, energies, event_envelopes, tsne_1d
from audiosplat.app.report_media import LOWEST_DRAWN_HZ, encode_audio, palette_png, spectrogram_levels
from audiosplat.app.report_page import Lane, Mark, Player, ReportPage, Spectrogram, index_html, page_html
from audiosplat.core.errors import AudiosplatError
from audiosplat.io.atomic import atomic_path
from audiosplat.io.audio import load_clip
from audiosplat.io.splat_format import read_stored
from audiosplat.io.splatfile import Splat, splat_from_stored
from audiosplat.ops.perturb import perturb
from audiosplat.ops.summary import fit_text, summarise, track_text

PERTURB_AMOUNT, PERTURB_SEED = 0.5, 0  # the page's variation: perturb's defaults
WAVE_COLOURS = {"saw": "#ff7a5c", "square": "#45c4f5", "triangle": "#ffd23f", "sine": "#8be07a"}
NO_PITCH_COLOUR = "#b8b8b8"  # an event with no resonance: drawn at its noise centre
FAINTEST_DB = -40.0  # energy below the loudest event's at which a mark is as faint as it gets
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class WrittenReport:
    """A page written: where, its size, and the facts an index lists."""

    path: Path
    size_bytes: int
    facts: list[tuple[str, str]]


def write_report(source: Path, output: Path, *, against: Path | None = None, device: str = "cpu") -> WrittenReport:
    """Write the report page of the .splat `source` to `output` (HTML, atomically); with
    `against`, the source audio is played, drawn and scored too."""
    source, output = Path(source), Path(output)
    check_output_path(output, inputs=[source, *([] if against is None else [Path(against)])])
    stored = read_stored(source)
    summary = summarise(stored, source)
    page = report_page(splat_from_stored(stored), summary, against=against, device=device)
    data = page_html(page).encode()
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
    facts = [
        ("model", f"{summary['model']}, {summary['pitches']} pitches"), ("events", str(summary["events"])),
        ("duration", f"{summary['duration_s']:.2f} s"), ("relative spectral L1", _number(summary["relative_spectral_l1"])),
        ("source", str(summary["source"] or "-")), ("page", f"{len(data) / 1e6:.2f} MB"),
    ]
    return WrittenReport(output, len(data), facts)


def write_index(output: Path, reports: list[WrittenReport]) -> None:
    """Write an index page at `output` linking each report (paths relative to its folder)."""
    entries = [(r.path.relative_to(output.parent).as_posix(), r.path.relative_to(output.parent).as_posix(), r.facts) for r in reports]
    with atomic_path(output) as tmp:
        tmp.write_text(index_html("audiosplat reports", entries), encoding="utf-8")


def report_page(splat: Splat, summary: dict, *, against: Path | None = None, device: str = "cpu") -> ReportPage:
    """The page's data: players, spectrograms, the events' lane, summary, quality,
    provenance and history. Refuses a file longer than one window (stems are per window)."""
    cfg = splat.config
    if cfg.total_length > cfg.n_samples:
        raise AudiosplatError(f"a report draws files of one window; this one is {cfg.duration_s:.2f} s long (a long fit or a merge)")
    rate = cfg.sample_rate
    stems = render_splat(splat, device=device, stems=True)
    bed = render_noise_bed(splat, device=device)
    render = stems.sum(axis=0) + (0.0 if bed is None else bed)  # the render, without making the events twice
    source = None if against is None else load_clip(Path(against), n_samples=cfg.n_samples, sample_rate=rate, offset_s=float(splat.provenance.get("offset_s", 0.0))).samples
    variation, why_not = _perturbation(splat, device)
    clips = {"source": source, "render": render, "perturbation": variation, "noise bed": bed}
    scale = 1.0 / max([1.0, *(float(np.abs(c).max()) for c in clips.values() if c is not None)])  # one level for all: they compare
    notes = {
        "source": "the clip as fitted" if source is not None else "not given: add --against SOURCE",
        "render": "the events" + (" and the noise bed" if bed is not None else "") + ", rendered",
        "perturbation": why_not or f"latents + U(±{PERTURB_AMOUNT:g}), seed {PERTURB_SEED}, decoded again (the noise bed left as it is)",
        "noise bed": f"the unpitched part alone: seeded noise at {cfg.noise_anchors} x {cfg.noise_bands} levels (anchors x bands)",
    }
    players = [
        Player(key.replace(" ", "-"), key, None if clip is None else encode_audio(clip * scale, rate), notes[key])
        for key, clip in clips.items() if key != "noise bed" or clip is not None
    ]
    shown = [(name, clips[name]) for name in ("source", "render") if clips[name] is not None]
    spectrograms = [Spectrogram(name, palette_png(level), LOWEST_DRAWN_HZ, rate / 2) for (name, _), level in zip(shown, spectrogram_levels([c for _, c in shown], rate))]
    quality = quality_against(splat, Path(against), device=device) if against is not None else None
    return ReportPage(
        title=str(summary["file"]),
        duration_s=cfg.duration_s,
        players=players,
        spectrograms=spectrograms,
        lanes=[events_lane(splat, summary["event_table"], stems)],
        sections=[("Summary", summary_rows(summary)), ("Quality against the source", quality_rows(quality)), ("Provenance", provenance_rows(splat.provenance))],
        history=[_value_rows(step) for step in splat.provenance.get("history", [])],
    )


def _perturbation(splat: Splat, device: str) -> tuple[np.ndarray | None, str | None]:
    """The render of the file perturbed as `perturb` does by default, or why there is none."""
    generator = torch.Generator(device="cpu").manual_seed(PERTURB_SEED)
    try:
        varied = perturb(splat, amount=PERTURB_AMOUNT, generator=generator)
    except AudiosplatError as exc:
        return None, f"none: {exc}"
    return render_splat(varied, device=device), None


def events_lane(splat: Splat, rows: list[dict], stems: np.ndarray) -> Lane:
    """The events as marks: a piano roll (y = pitch in semitones, MIDI numbers) for models
    whose events sound their own pitches, else the article's layout (y = 1-D t-SNE of the
    latents). Colour: wave shape; opacity: energy; stem: the event alone, from its onset
    while audible, at full scale.

    Args:
        rows: the summary's event table, one row per event in stored order.
        stems: (E, N) the events rendered alone.
    """
    cfg = splat.config
    envelopes = event_envelopes(stems, splat.controls.onset_samples.numpy(), cfg.sample_rate)
    energy = energies(stems)
    energy_db = 10 * np.log10(np.maximum(energy, 1e-30) / max(float(energy.max()), 1e-30))
    # ModelKind says which models sound their own pitches: those are read as a piano roll
    by_pitch = cfg.kind.pitches == "exact"
    if by_pitch:
        heights = [hz_to_midi(r["pitch_hz"] if r["pitch_hz"] is not None else r["noise_centre_hz"]) for r in rows]
        low, high = min(heights) - 2.0, max(heights) + 2.0
        axis = dict(y_label="pitch", y_range=(low, high), y_ticks=pitch_ticks(low, high), envelope_half=0.7)
    else:
        heights = tsne_1d(splat.latents.numpy()).tolist()
        axis = dict(y_label="latent (1-D t-SNE)", y_range=(-0.06, 1.06), y_ticks=[], envelope_half=0.04)
    marks = [
        Mark(
            key=f"event-{r['event']}", label=f"event {r['event']}", y=height, envelope=env,
            colour=WAVE_COLOURS.get(r["wave"], NO_PITCH_COLOUR), opacity=float(np.clip(1.0 - db / FAINTEST_DB, 0.15, 1.0)),
            controls=event_controls(r, db), stem=encode_audio(_alone(stem, env, cfg.sample_rate), cfg.sample_rate),
        )
        for r, height, env, db, stem in zip(rows, heights, envelopes, energy_db, stems)
    ]
    legend = [(f"{name} wave", colour) for name, colour in WAVE_COLOURS.items()] + [("no resonance (at its noise centre)", NO_PITCH_COLOUR)]
    caption = "each drawn as its amplitude envelope from its onset (dot), as opaque as its energy is large; click one to hear it alone. Colour:"
    return Lane(title=f"{len(marks)} events", caption=caption, marks=marks, legend=legend, **axis)


def _alone(stem: np.ndarray, env: Envelope, sample_rate: int) -> np.ndarray:
    """(S,) the stem from its envelope's start to its end, divided by its peak."""
    part = stem[round(env.start_s * sample_rate) : round(env.end_s * sample_rate)]
    return part / max(float(np.abs(part).max(initial=0.0)), 1e-12)


def event_controls(row: dict, energy_db: float) -> dict[str, str]:
    """An event's controls as readable text, by name."""
    pitch = "-" if row["pitch_hz"] is None else f"{row['pitch_hz']:.1f} Hz ({note_name(hz_to_midi(row['pitch_hz']))})"
    return {
        "onset": f"{row['onset_s']:.3f} s", "gain": f"{row['gain_db']:.1f} dB", "energy": f"{energy_db:.1f} dB",
        "pitch": pitch, "wave": row["wave"] or "-", "resonance": f"{row['resonance_mix']:.2f}", "decay": f"{row['decay_s']:.3f} s",
        "noise": f"{row['noise_centre_hz']:.0f} Hz, {row['noise_width_hz']:.0f} Hz wide", "reverb wet": f"{row['reverb_wet']:.2f}", "room": str(row["room"]),
    }


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(max(hz, 1e-3) / 440.0)


def note_name(midi: float) -> str:
    n = round(midi)
    return f"{NOTE_NAMES[n % 12]}{n // 12 - 1}"


def pitch_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks at each C (every semitone's natural notes when the span is under an octave)."""
    step = 12 if high - low > 14 else 1
    first = math.ceil(low / step) * step
    return [(float(m), f"{note_name(m)} {440 * 2 ** ((m - 69) / 12):.0f} Hz") for m in range(first, math.floor(high) + 1, step) if step == 12 or NOTE_NAMES[m % 12][-1] != "#"]


def summary_rows(s: dict) -> list[tuple[str, str]]:
    return [
        ("file", s["file"]), ("format", f".splat {s['format_version']}"), ("model", f"{s['model']}, {s['pitches']} pitches"),
        ("events", str(s["events"])), ("duration", f"{s['duration_s']:.3f} s at {s['sample_rate']} Hz"),
        ("fit", fit_text(s)), ("final loss", _number(s["final_loss"])),
        ("relative spectral L1", _number(s["relative_spectral_l1"])), ("stored numbers", str(s["stored_numbers"])),
        ("file size", f"{s['bytes']} bytes"), ("rooms", str(s["rooms"])),
        ("edited", "no" if s["latents_match_controls"] else "yes: its controls no longer match its latents"),
        ("noise bed", noise_bed_text(s["noise_bed"])),
        ("colour", colour_text(s["colour"])),
    ]


def noise_bed_text(bed: dict | None) -> str:
    """The noise bed in a line: its size, and its loudest level (or that it is silent)."""
    if bed is None:
        return "none"
    level = "silent" if bed["level_db_max"] is None else f"loudest {bed['level_db_max']:.1f} dB"
    return f"{bed['anchors']} anchors x {bed['bands']} bands ({bed['band_hz'][0]:.0f}-{bed['band_hz'][-1]:.0f} Hz), {level}"


def colour_text(colour: dict | None) -> str:
    """The colour in a line: its bands and how far it lifts and cuts (formats §9.3)."""
    if colour is None:
        return "none"
    levels = colour["levels_db"]
    static = f"{len(levels)} bands ({colour['band_hz'][0]:.0f}-{colour['band_hz'][-1]:.0f} Hz), {min(levels):+.1f} to {max(levels):+.1f} dB by band"
    return static if colour["track"] is None else f"{static}; over time, {track_text(colour['track'])}"


QUALITY_NAMES = {
    "relative_spectral_l1_2048_256": "relative spectral L1 (2048/256)", "relative_spectral_l1_512_128": "relative spectral L1 (512/128)",
    "log_mel_distance": "log-mel distance", "chroma_similarity": "chroma similarity", "visqol": "ViSQOL MOS-LQO",
}


def quality_rows(quality: dict | None) -> list[tuple[str, str]]:
    """`inspect --against`'s figures, or a row saying how to get them."""
    if quality is None:
        return [("not scored", "give --against SOURCE")]
    return [(QUALITY_NAMES.get(k, k), _number(v)) for k, v in quality.items()]


def provenance_rows(provenance: dict) -> list[tuple[str, str]]:
    return _value_rows({k: v for k, v in provenance.items() if k != "history"})


def _value_rows(values: dict) -> list[tuple[str, str]]:
    """Rows of any stored values: argv as a shell line, dicts as k=v, lists joined, numbers short."""
    def text(name: str, value) -> str:
        if name == "argv" and isinstance(value, list):
            return shlex.join(str(a) for a in value)
        if isinstance(value, dict):
            return ", ".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, list):  # e.g. an edit's operations: [["gain", "-3"], ...]
            return "; ".join(" ".join(map(str, item)) if isinstance(item, list) else str(item) for item in value)
        if isinstance(value, float):
            return _number(value)
        return str(value)
    return [(str(k), text(str(k), v)) for k, v in values.items()]


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"
