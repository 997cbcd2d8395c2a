"""The per-event controls that a .splat stores: their names, units and meanings
(formats/splat-v1.md). Torch-free, so files can be read and summarised without it."""

from __future__ import annotations

# name -> (unit, meaning). Units are as stored in .splat files (formats/splat-v1.md).
CONTROL_FIELDS: dict[str, tuple[str, str]] = {
    "gain": ("1", "linear amplitude |amp| of the event"),
    "envelope_centre_s": ("s", "centre of the Gaussian excitation envelope, from the event's onset"),
    "envelope_width_s": ("s", "standard deviation of the excitation envelope"),
    "excitation_mix": ("1", "softmax weights [dry excitation, resonance], sum 1"),
    "noise_centre_hz": ("Hz", "centre of the excitation noise band"),
    "noise_width_hz": ("Hz", "standard deviation of the excitation noise band (Gaussian gain over frequency)"),
    "resonance": ("1", "non-negative weight of each wavetable row (grid pitches) or of each wave shape at pitch_hz (exact pitches)"),
    "resonance_cutoff_hz": ("Hz", "standard deviation of the two Gaussian low-passes on the resonance"),
    "decay_per_frame": ("1/frame", "amplitude factor of the resonance per control frame"),
    "crossfade_per_frame": ("1/frame", "factor per frame of the crossfade from low-pass 1 to low-pass 2"),
    "room_weights": ("1", "softmax weights over the rooms of the bank, sum 1"),
    "reverb_mix": ("1", "softmax weights [dry, reverberant], sum 1"),
    "pitch_hz": ("Hz", "the resonance's own pitch (files with exact pitches only)"),
}

# The noise bed (`synth.noise_bed`): its levels' name among a fit's parameters (Adam's state
# in /optimizer), the level at or below which it is silent, and the most a file may ask for.
BED_PARAMETER = "noise_bed.levels_db"
SILENT_DB = -240.0
MAX_LEVEL_DB = 200.0
# A clip's colour (`synth.colour`): the most a file's equaliser may lift or cut a band.
COLOUR_LIMIT_DB = 24.0
