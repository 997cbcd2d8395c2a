"""Perturbation of fitted events (method.md §8): noise on the latents, decoded again.

Pure functions from a `Splat` to a new `Splat`; the input is never changed.
"""

from __future__ import annotations

import dataclasses

import torch

from audiosplat.core.config import MODEL_KINDS
from audiosplat.core.errors import AudiosplatError
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.io.splatfile import Splat

TARGETS = tuple(dict.fromkeys(t for kind in MODEL_KINDS.values() for t in kind.perturb_targets))


def perturb(
    splat: Splat, *, amount: float, generator: torch.Generator, target: str | None = None, onset_jitter_s: float = 0.0
) -> Splat:
    """Add U(-amount, amount) to latents and decode them again through the stored model.

    What `target` moves is the model's (`perturb_latents`; the first of its kind's
    `perturb_targets` by default): for the direct model, "events", each event's own parameters in their natural
    units (semitones of pitch, log gain, ...); for the seed model "roots" (the default: the
    two root latents of the tree, so all the events under a root move together, as the
    article did), "events" (each event's own latent; the tree stays as fitted) or "both".
    Onsets are kept, unless `onset_jitter_s` > 0 moves each by U(-j, j) seconds (clamped to
    the clip). Noise is drawn from `generator` (CPU), roots first, then events, then onsets.

    Raises:
        AudiosplatError: the file's controls were edited (decoding would undo the edit), or
            a setting is out of range.
    """
    targets = splat.config.kind.perturb_targets
    target = target or targets[0]
    if target not in TARGETS:
        raise AudiosplatError(f"unknown perturbation target '{target}' (choose {', '.join(TARGETS)})")
    if target not in targets:
        raise AudiosplatError(f"target '{target}' is not for the {splat.config.model} model of this file (use {' or '.join(targets)})")
    if not amount >= 0 or not onset_jitter_s >= 0:
        raise AudiosplatError("perturbation amount and onset jitter must be >= 0")
    if splat.config.total_samples is not None:
        raise AudiosplatError("perturb decodes the model of one fitted window; this file holds the events of a long fit or a merge")
    if not splat.latents_match_controls:
        raise AudiosplatError(
            "its events were edited after fitting, so decoding its latents again would undo the edit; perturb the unedited file"
        )
    model = splat.model()
    parameters, latents = model.perturb_latents(dict(splat.parameters), splat.latents, target=target, amount=amount, generator=generator)
    onset_bits = splat.controls.onset_bits
    if onset_jitter_s > 0:
        cfg = splat.config
        jitter = _uniform(latents.shape[:1], onset_jitter_s, generator) * cfg.sample_rate
        onsets = (splat.controls.onset_samples + jitter.round().long()).clamp(0, cfg.n_samples - 1)
        onset_bits = samples_to_bits(onsets, cfg.n_time_bits)
    with torch.no_grad():
        controls = model.decode(latents, onset_bits)
    parameters, latents = model.described(parameters, latents, controls.onset_samples)
    return dataclasses.replace(splat, controls=controls, latents=latents, parameters=parameters)


def _uniform(shape: torch.Size, bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, dtype=torch.float32) * 2.0 - 1.0) * bound
