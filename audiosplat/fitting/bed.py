"""How a fit starts and moves a clip's noise bed (`synth.noise_bed`)."""

from __future__ import annotations

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.synth.noise_bed import NoiseBed, bed_levels_of, bed_seed_for

# Adam moves a parameter by about its rate a step: at the default rate of 0.01, 1 dB (half a
# dB did as well to within a seed's noise, 0.01 less ViSQOL on average; docs/benchmarks.md).
BED_LR_SCALE = 100.0
# The bed starts this far under the clip's own band levels: the events, started on the
# clip's notes, carry most of it, and the bed rises where they do not. From 12 dB under, a
# piano's bed kept a noise floor between the partials after 300 steps; from what the clip
# holds beyond the events' first render, the bed took the glass's hum from the events
# (docs/benchmarks.md, "The noise bed").
BED_START_BELOW_DB = 30.0


def starting_bed(target: torch.Tensor, config: ModelConfig, seed: int) -> NoiseBed:
    """A fresh fit's bed for the clip `target` (N,): the clip's levels less BED_START_BELOW_DB."""
    levels = bed_levels_of(target.detach().cpu(), config.noise_anchors, config.noise_bands, config.sample_rate)
    return NoiseBed(levels - BED_START_BELOW_DB, bed_seed_for(seed))
