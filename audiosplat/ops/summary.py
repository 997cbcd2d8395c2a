"""A .splat as plain data: one summary dict with a per-event table, for tables and JSON.
NumPy only: `inspect` summarises files without loading torch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiosplat.core.bed_layout import anchor_samples, band_centres_hz
from audiosplat.core.config import HIGHEST_MIDI, LOWEST_MIDI, WAVE_SHAPES
from audiosplat.core.fields import SILENT_DB

if TYPE_CHECKING:  # the reader imports h5py, which the summary itself does not need
    from audiosplat.io.splat_format import StoredSplat

SILENCE_DB = -120.0
# The convergence rule's period and first step in files that store `/fit@converge` without
# them (formats §11: fitted before 1.9.0).
CONVERGE_EVERY_BEFORE_1_9, CONVERGE_FROM_BEFORE_1_9 = 100, 300


def decay_time_s(decay_per_frame: np.ndarray, frame_size: int, sample_rate: int) -> np.ndarray:
    """Time for a per-frame factor r to fall by 60 dB: frames = ln(1e-3) / ln(r)."""
    r = np.clip(np.asarray(decay_per_frame, dtype=np.float64), 1e-12, 1 - 1e-12)
    return math.log(1e-3) / np.log(r) * frame_size / sample_rate


def gain_db(gain: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(gain, dtype=np.float64), 10 ** (SILENCE_DB / 20)))


def grid_pitches_hz(n_pitches: int) -> np.ndarray:
    """(n_pitches,) Hz of the wavetable's rows: MIDI notes evenly spaced from 21 to 106."""
    return 440.0 * 2.0 ** ((np.linspace(LOWEST_MIDI, HIGHEST_MIDI, n_pitches) - 69.0) / 12.0)


def event_rows(stored: StoredSplat) -> list[dict]:
    """One dict per event with its main controls in readable units. Each column is made
    for all events at once and turned into Python numbers in one pass (`event_row` is one
    event's row, made alone)."""
    c, cfg = stored.controls, stored.config
    strongest = c["resonance"].argmax(axis=-1)
    exact = "pitch_hz" in c
    # exact pitches: each event's own, its strongest shape; grid: the strongest row's
    pitches = c["pitch_hz"].astype(np.float64) if exact else grid_pitches_hz(cfg.n_pitches)[strongest % cfg.n_pitches]
    shapes = strongest if exact else strongest // cfg.n_pitches
    has_resonance = c["resonance"].max(axis=-1) > 0
    rooms = np.asarray(stored.rooms.room_names, dtype=object)
    columns = {
        "event": range(stored.n_events),
        "onset_s": (stored.onset_samples.astype(np.float64) / cfg.sample_rate).tolist(),
        "gain_db": gain_db(c["gain"]).tolist(),
        "energy_db": [None] * stored.n_events if stored.energies_db is None else stored.energies_db.astype(np.float64).tolist(),
        "pitch_hz": np.where(has_resonance, pitches, None).tolist(),
        "wave": np.where(has_resonance, np.asarray(WAVE_SHAPES, dtype=object)[shapes], None).tolist(),
        "resonance_mix": c["excitation_mix"][:, 1].tolist(),
        "decay_s": decay_time_s(c["decay_per_frame"], cfg.frame_size, cfg.sample_rate).tolist(),
        "noise_centre_hz": c["noise_centre_hz"].tolist(),
        "noise_width_hz": c["noise_width_hz"].tolist(),
        "reverb_wet": c["reverb_mix"][:, 1].tolist(),
        "room": rooms[c["room_weights"].argmax(axis=-1)].tolist(),
    }
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def event_row(stored: StoredSplat, e: int) -> dict:
    """Event `e`'s row of `event_rows`, computed for it alone: the plain definition that
    tests hold the table to."""
    c, cfg = stored.controls, stored.config
    resonance = c["resonance"][e]
    strongest = int(resonance.argmax())
    sounds = bool(resonance.max() > 0)
    if "pitch_hz" in c:
        pitch_hz, shape = float(c["pitch_hz"][e]), strongest
    else:
        pitch_hz, shape = float(grid_pitches_hz(cfg.n_pitches)[strongest % cfg.n_pitches]), strongest // cfg.n_pitches
    return {
        "event": e,
        "onset_s": float(stored.onset_samples[e]) / cfg.sample_rate,
        "gain_db": float(gain_db(c["gain"][e])),
        "energy_db": None if stored.energies_db is None else float(stored.energies_db[e]),
        "pitch_hz": pitch_hz if sounds else None,
        "wave": WAVE_SHAPES[shape] if sounds else None,
        "resonance_mix": float(c["excitation_mix"][e, 1]),
        "decay_s": float(decay_time_s(c["decay_per_frame"][e], cfg.frame_size, cfg.sample_rate)),
        "noise_centre_hz": float(c["noise_centre_hz"][e]),
        "noise_width_hz": float(c["noise_width_hz"][e]),
        "reverb_wet": float(c["reverb_mix"][e, 1]),
        "room": stored.rooms.room_names[int(c["room_weights"][e].argmax())],
    }


def summarise(stored: StoredSplat, path: Path | None = None) -> dict:
    """File-level facts and the event table, JSON-ready."""
    cfg = stored.config
    fit = stored.fit
    history = stored.loss_history
    return {
        "file": str(path) if path is not None else None,
        "format_version": stored.format_version,
        "model": cfg.model,
        "pitches": cfg.pitches,
        "events": stored.n_events,
        "sample_rate": cfg.sample_rate,
        "n_samples": cfg.n_samples,
        "total_samples": cfg.total_length,
        "windows": cfg.n_windows,
        "duration_s": cfg.duration_s,
        "steps": int(fit.get("steps", len(history))),
        "skipped_steps": int(fit.get("skipped_steps", 0)),
        "final_loss": _number(fit.get("final_loss")),
        "relative_spectral_l1": _number(fit.get("relative_spectral_l1")),
        "loss": fit.get("loss"),
        "seed": fit.get("seed"),
        "convergence": convergence(fit),
        "coarse": coarse_phase(fit),
        "rooms": stored.rooms.name,
        "latents_match_controls": stored.latents_match_controls,
        "stored_numbers": stored.stored_numbers(),
        "bytes": path.stat().st_size if path is not None and path.exists() else None,
        "source": stored.provenance.get("source_name"),
        "source_sha256": stored.provenance.get("source_sha256"),
        "noise_bed": noise_bed_summary(stored),
        "colour": colour_summary(stored),
        "event_table": event_rows(stored),
    }


def convergence(fit: dict) -> dict | None:
    """The rule a fit without a budget stopped by, and whether it did (formats §11), or None
    for a fit given its steps or seconds."""
    if "converge" not in fit:
        return None
    return {
        "below": float(fit["converge"]),
        "every": int(fit.get("converge_every", CONVERGE_EVERY_BEFORE_1_9)),
        "from": int(fit.get("converge_from", CONVERGE_FROM_BEFORE_1_9)),
        "converged": bool(fit.get("converged", False)),
    }


def fit_text(summary: dict) -> str:
    """How a file was fitted, in words, from its `summarise`: its steps, their rule and
    coarse phase, loss and seed."""
    s = summary
    return f"{s['steps']} steps ({convergence_text(s['convergence'])}{coarse_text(s['coarse'])}{s['loss']} loss, seed {s['seed']})"


def coarse_phase(fit: dict) -> dict | None:
    """A fit's coarse steps (formats §11): its event buffer over them (`samples`), how many
    it took (`steps`) and the exact steps that were to follow (`fine_steps`); None for a
    fit without them."""
    if "coarse_samples" not in fit:
        return None
    return {"samples": int(fit["coarse_samples"]), "steps": int(fit.get("coarse_steps", 0)), "fine_steps": int(fit.get("fine_steps", 0))}


def coarse_text(phase: dict | None) -> str:
    """`coarse_phase` in words, ending in '; ' ('' for a fit without one)."""
    return "" if phase is None else f"the first {phase['steps']} coarse, events over {phase['samples']} samples; "


def convergence_text(rule: dict | None) -> str:
    """`convergence` in words, ending in '; ' ('' for a fit given its budget)."""
    if rule is None:
        return ""
    ended = "converged" if rule["converged"] else "not converged"
    return f"{ended}: under {rule['below']:.0%} in {rule['every']} steps, from step {rule['from']}; "


def noise_bed_summary(stored: StoredSplat) -> dict | None:
    """The noise bed's size, layout and levels (dB; None where silent), or None without one."""
    bed, cfg = stored.noise_bed, stored.config
    if bed is None:
        return None
    levels = bed.levels_db.astype(np.float64)
    audible = levels > SILENT_DB
    return {
        "anchors": cfg.noise_anchors,
        "bands": cfg.noise_bands,
        "seed": bed.seed,
        "band_hz": band_centres_hz(cfg.noise_bands, cfg.sample_rate).tolist(),
        "anchor_s": (anchor_samples(cfg.noise_anchors, cfg.n_samples) / cfg.sample_rate).tolist(),
        "level_db_max": float(levels[audible].max()) if audible.any() else None,
        "band_level_db": [float(20.0 * np.log10(np.mean(10.0 ** (column[column > SILENT_DB] / 20.0)))) if (column > SILENT_DB).any() else None for column in levels.T],
        "levels_db": np.where(audible, levels, np.nan).tolist(),
    }


def colour_summary(stored: StoredSplat) -> dict | None:
    """The colour's band centres (Hz) and lifts (dB), or None for a file without one."""
    if stored.colour_db is None:
        return None
    return {
        "band_hz": band_centres_hz(len(stored.colour_db), stored.config.sample_rate).tolist(),
        "levels_db": stored.colour_db.astype(np.float64).tolist(),
        "track": None if stored.colour_track_db is None else {
            "anchors": int(stored.colour_track_db.shape[0]),
            "band_hz": band_centres_hz(stored.colour_track_db.shape[1], stored.config.sample_rate).tolist(),
            "min_db": float(stored.colour_track_db.min()),
            "max_db": float(stored.colour_track_db.max()),
        },
    }


def track_text(track: dict) -> str:
    """The colour's track (`colour_summary`) in words: its grid and how far it lifts and cuts."""
    return f"{track['anchors']} anchors x {len(track['band_hz'])} bands, {track['min_db']:+.1f} to {track['max_db']:+.1f} dB"


def _number(value) -> float | None:
    return None if value is None else float(value)


SORT_KEYS = ("index", "time", "energy")  # orders of the event table: as stored, by onset, loudest first


def sorted_rows(rows: list[dict], key: str) -> list[dict]:
    """The event table's rows in the order `key` (one of SORT_KEYS) names."""
    if key == "time":
        return sorted(rows, key=lambda row: row["onset_s"])
    if key == "energy":  # by the energy of the sound, or by gain in a file that stores none
        return sorted(rows, key=lambda row: -(row["gain_db"] if row["energy_db"] is None else row["energy_db"]))
    return rows
