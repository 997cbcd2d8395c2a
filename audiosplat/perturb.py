"""Perturbation of fitted events (method.md §8): noise on the latents, decoded again.

Pure functions from a `Splat` to a new `Splat`; the input is never changed.
"""

from __future__ import annotations

import dataclasses

import torch

from audiosplat.errors import AudiosplatError
from audiosplat.onset import samples_to_bits
from audiosplat.splatfile import Splat

TARGETS = ("roots", "events", "both")


def perturb(
    splat: Splat, *, amount: float, generator: torch.Generator, target: str | None = None, onset_jitter_s: float = 0.0
) -> Splat:
    """Add U(-amount, amount) to latents and decode them again through the stored model.

    For the direct model the latents are the events' own parameters in their natural units
    (semitones of pitch, log gain, ...: `direct.GROUPS`), and only target "events" applies
    (the default there). For the seed model (default target "roots"), "roots" moves the two root latents of the tree, so all the events under a root
    move together (as the article did; the stored parameters change with them); "events"
    moves each event's own latent (the tree parameters stay as fitted); "both" does both.
    Onsets are kept, unless `onset_jitter_s` > 0 moves each by U(-j, j) seconds (clamped to
    the clip). Noise is drawn from `generator` (CPU), roots first, then events, then onsets.

    Raises:
        AudiosplatError: the file's controls were edited (decoding would undo the edit), or
            a setting is out of range.
    """
    direct = splat.config.model == "direct"
    target = target or ("events" if direct else "roots")
    if direct and target != "events":
        raise AudiosplatError(f"target '{target}' needs the seed model's latent tree; this file holds a direct model (use target events)")
    if target not in TARGETS:
        raise AudiosplatError(f"unknown perturbation target '{target}' (choose {', '.join(TARGETS)})")
    if not amount >= 0 or not onset_jitter_s >= 0:
        raise AudiosplatError("perturbation amount and onset jitter must be >= 0")
    if splat.config.total_samples is not None:
        raise AudiosplatError("perturb decodes the model of one fitted window; this file holds the events of a long fit or a merge")
    if not splat.latents_match_controls:
        raise AudiosplatError(
            "its events were edited after fitting, so decoding its latents again would undo the edit; perturb the unedited file"
        )
    model = splat.model()
    parameters = dict(splat.parameters)
    latents = splat.latents
    if target in ("roots", "both"):
        roots = parameters["latent_roots"] + _uniform(parameters["latent_roots"].shape, amount, generator)
        parameters["latent_roots"] = roots
        latents = latents + (roots - splat.parameters["latent_roots"])[model.leaf_path_bits[:, 0]]
    if target in ("events", "both"):
        latents = latents + _uniform(latents.shape, amount, generator)
    onset_bits = splat.controls.onset_bits
    if onset_jitter_s > 0:
        cfg = splat.config
        jitter = _uniform(latents.shape[:1], onset_jitter_s, generator) * cfg.sample_rate
        onsets = (splat.controls.onset_samples + jitter.round().long()).clamp(0, cfg.n_samples - 1)
        onset_bits = samples_to_bits(onsets, cfg.n_time_bits)
    with torch.no_grad():
        controls = model.decode(latents, onset_bits)
    if direct:  # its parameters are its latents, onsets included
        parameters = model.state_for(latents, controls.onset_samples)
        latents = torch.cat(list(parameters.values()), dim=-1)
    return dataclasses.replace(splat, controls=controls, latents=latents, parameters=parameters)


def _uniform(shape: torch.Size, bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, dtype=torch.float32) * 2.0 - 1.0) * bound
