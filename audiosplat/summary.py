"""A .splat as plain data: one summary dict with a per-event table, for tables and JSON."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from audiosplat.splatfile import Splat
from audiosplat.wavetable import SHAPES, wave_pitches_hz

SILENCE_DB = -120.0


def decay_time_s(decay_per_frame: torch.Tensor, frame_size: int, sample_rate: int) -> torch.Tensor:
    """Time for a per-frame factor r to fall by 60 dB: frames = ln(1e-3) / ln(r)."""
    r = decay_per_frame.to(torch.float64).clamp(1e-12, 1 - 1e-12)
    return math.log(1e-3) / torch.log(r) * frame_size / sample_rate


def gain_db(gain: torch.Tensor) -> torch.Tensor:
    return 20.0 * torch.log10(gain.to(torch.float64).clamp_min(10 ** (SILENCE_DB / 20)))


def event_rows(splat: Splat) -> list[dict]:
    """One dict per event with its main controls in readable units."""
    c, cfg = splat.controls, splat.config
    strongest = c.resonance.argmax(dim=-1)
    # exact pitches: each event's own, its strongest shape; grid: the strongest row's
    pitches = c.pitch_hz.double() if c.pitch_hz is not None else wave_pitches_hz(cfg.n_pitches)[strongest % cfg.n_pitches]
    shapes = strongest if c.pitch_hz is not None else strongest // cfg.n_pitches
    decays = decay_time_s(c.decay_per_frame, cfg.frame_size, cfg.sample_rate)
    gains = gain_db(c.gain)
    main_room = c.room_weights.argmax(dim=-1)
    rows = []
    for e in range(c.n_events):
        has_resonance = float(c.resonance[e].max()) > 0
        rows.append(
            {
                "event": e,
                "onset_s": float(c.onset_samples[e]) / cfg.sample_rate,
                "gain_db": float(gains[e]),
                "pitch_hz": float(pitches[e]) if has_resonance else None,
                "wave": SHAPES[int(shapes[e])] if has_resonance else None,
                "resonance_mix": float(c.excitation_mix[e, 1]),
                "decay_s": float(decays[e]),
                "noise_centre_hz": float(c.noise_centre_hz[e]),
                "noise_width_hz": float(c.noise_width_hz[e]),
                "reverb_wet": float(c.reverb_mix[e, 1]),
                "room": splat.rooms.room_names[int(main_room[e])],
            }
        )
    return rows


def summarise(splat: Splat, path: Path | None = None) -> dict:
    """File-level facts and the event table, JSON-ready."""
    cfg = splat.config
    fit = splat.fit
    history = splat.loss_history
    return {
        "file": str(path) if path is not None else None,
        "format_version": splat.format_version,
        "model": cfg.model,
        "pitches": cfg.pitches,
        "events": splat.n_events,
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
        "rooms": splat.rooms.name,
        "latents_match_controls": splat.latents_match_controls,
        "stored_numbers": splat.stored_numbers(),
        "bytes": path.stat().st_size if path is not None and path.exists() else None,
        "source": splat.provenance.get("source_name"),
        "source_sha256": splat.provenance.get("source_sha256"),
        "event_table": event_rows(splat),
    }


def _number(value) -> float | None:
    return None if value is None else float(value)
