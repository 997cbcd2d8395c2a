"""Merging the events of two .splat files into one (`edit --merge OTHER --at S`): a pure
function from two `Splat`s to a new one (formats/splat-v1.md §12, `history`)."""

from __future__ import annotations

import dataclasses
import math

import torch

from audiosplat.errors import UsageError
from audiosplat.fit import concat_controls
from audiosplat.long_fit import ONSET_GROUP
from audiosplat.onset import samples_to_bits
from audiosplat.splatfile import Splat

# What must be equal for two files' events to be rendered by one file's config.
SHARED_CONFIG = ("sample_rate", "n_samples", "event_length", "frame_size", "n_pitches", "model", "latent_dim", "waves", "pitches")


class MergeError(UsageError):
    """Two files whose events cannot live in one file."""


def merge(first: Splat, other: Splat, at_s: float) -> Splat:
    """`first`'s events and `other`'s, the latter moved `at_s` seconds (>= 0, rounded to a
    sample) later. The result renders the sum of the two renders (the other's shifted) over
    the longer of the two: T = max(T_first, shift + T_other), stored as `total_samples`.

    Its controls no longer come from one fitted model (`latents_match_controls` = False).
    `/parameters`: for the direct model, both files' per-event rows, concatenated (the
    other's onsets moved too), so they still decode to the events; for the seed model,
    `first`'s (a latent tree cannot hold two fits). Fit record, provenance and labels are
    `first`'s; the optimiser state is dropped.

    Raises:
        MergeError: different sample rates, rooms or model sizes, or a negative or
            non-finite `at_s`.
    """
    a, b = first.config, other.config
    if not (math.isfinite(at_s) and at_s >= 0):
        raise MergeError(f"--at must be a number of seconds >= 0, got {at_s}")
    for key in SHARED_CONFIG:
        if getattr(a, key) != getattr(b, key):
            raise MergeError(f"cannot merge: {key} is {getattr(a, key)} in one file and {getattr(b, key)} in the other")
    if first.rooms.sha256 != other.rooms.sha256:
        raise MergeError(
            f"cannot merge: the files use different rooms ({first.rooms.name} {first.rooms.sha256[:12]}, "
            f"{other.rooms.name} {other.rooms.sha256[:12]}); merge files fitted with the same room bank"
        )
    shift = round(at_s * a.sample_rate)
    config = dataclasses.replace(a, total_samples=max(a.total_length, shift + b.total_length))
    onsets = torch.cat([first.controls.onset_samples, other.controls.onset_samples + shift])
    controls = concat_controls([first.controls, other.controls])
    controls = controls.replace(onset_bits=samples_to_bits(onsets, config.n_onset_bits))
    return dataclasses.replace(
        first,
        config=config,
        controls=controls,
        latents=torch.cat([first.latents, _moved_latents(other, shift)]),
        noise_seeds=torch.cat([first.noise_seeds, other.noise_seeds]),
        parameters=_merged_parameters(first, other, shift),
        latents_match_controls=False,
        optimizer=None,
    )


def _moved_latents(splat: Splat, shift: int) -> torch.Tensor:
    """The latents of `splat` with the onset column of direct-model rows moved by `shift` samples."""
    if splat.config.model != "direct":
        return splat.latents
    latents = splat.latents.clone()
    latents[:, 0] += shift / splat.config.frame_size  # the onset is the rows' first column (direct.GROUPS)
    return latents


def _merged_parameters(first: Splat, other: Splat, shift: int) -> dict[str, torch.Tensor]:
    if first.config.model != "direct":
        return dict(first.parameters)
    moved = dict(other.parameters)
    moved[ONSET_GROUP] = moved[ONSET_GROUP] + shift / other.config.frame_size
    return {name: torch.cat([value, moved[name]]) for name, value in first.parameters.items()}


__all__ = ["MergeError", "merge"]
