"""Merging the events of two .splat files into one (`edit --merge OTHER --at S`): a pure
function from two `Splat`s to a new one (formats/splat-v1.md §12, `history`)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from audiosplat.core.errors import UsageError
from audiosplat.core.fields import SILENT_DB
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.io.splatfile import Splat
from audiosplat.models.registry import build_model
from audiosplat.synth.controls import concat_controls

# What must be equal for two files' events to be rendered by one file's config.
SHARED_CONFIG = ("sample_rate", "n_samples", "event_length", "frame_size", "n_pitches", "model", "latent_dim", "waves", "pitches")


class MergeError(UsageError):
    """Two files whose events cannot live in one file."""


def merge(first: Splat, other: Splat, at_s: float) -> Splat:
    """`first`'s events and `other`'s, the latter moved `at_s` seconds (>= 0, rounded to a
    sample) later. The result renders the sum of the two renders (the other's shifted) over
    the longer of the two: T = max(T_first, shift + T_other), stored as `total_samples`.

    Its controls no longer come from one fitted model (`latents_match_controls` = False).
    `/parameters`: what the model's `joined` makes of both files' (the other's `shifted`):
    for the direct model both files' per-event rows, so they still decode to the events;
    for the seed model `first`'s (a latent tree cannot hold two fits). Fit record, provenance,
    labels and noise bed are `first`'s, except the sources' note onsets: both files' (the
    other's shifted) when both have them, else none; the optimiser state is dropped.

    Raises:
        MergeError: different sample rates, rooms or model sizes, a negative or
            non-finite `at_s`, or an audible noise bed in `other`.
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
    if other.noise_bed is not None and bool((other.noise_bed.levels_db > SILENT_DB).any()):
        raise MergeError(
            "cannot merge: the other file has a noise bed, and a merged file keeps the first file's alone; "
            "silence it first (audiosplat edit OTHER.splat -o quiet.splat --noise-gain off)"
        )
    shift = round(at_s * a.sample_rate)
    config = dataclasses.replace(a, total_samples=max(a.total_length, shift + b.total_length))
    # Onset bits are as wide as the merged length needs; the two files' may differ from it.
    controls = concat_controls([
        part.replace(onset_bits=samples_to_bits(part.onset_samples + moved, config.n_onset_bits))
        for part, moved in ((first.controls, 0), (other.controls, shift))
    ])
    model = build_model(first.config, first.rooms.n_rooms)  # its rules, not its parameters
    other_parameters, other_latents = model.shifted(other.parameters, other.latents, shift)
    return dataclasses.replace(
        first,
        config=config,
        controls=controls,
        latents=torch.cat([first.latents, other_latents]),
        noise_seeds=torch.cat([first.noise_seeds, other.noise_seeds]),
        parameters=model.joined(first.parameters, other_parameters),
        latents_match_controls=False,
        optimizer=None,
        onsets_s=_merged_onsets(first, other, shift / a.sample_rate),
        colour_db=None,  # one file's colour would be wrong for the other's events: both sound as fitted
        colour_track_db=None,
    )


def _merged_onsets(first: Splat, other: Splat, shift_s: float) -> np.ndarray | None:
    """Both files' source onsets, the other's `shift_s` later, in order; None unless both
    have them (one file's alone would keep the other's events from ever striking again)."""
    if first.onsets_s is None or other.onsets_s is None:
        return None
    return np.sort(np.concatenate([first.onsets_s, other.onsets_s + shift_s]))


__all__ = ["MergeError", "merge"]
