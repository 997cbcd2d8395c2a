"""Decoded per-event controls in physical units: what the synth renders and .splat stores."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from audiosplat.onset import bits_to_samples

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


@dataclass(frozen=True)
class EventControls:
    """Controls of E events. Tensors may carry gradients (during a fit) or not (from a file).

    Shapes: onset_bits (E, B, 2) one-hot rows, most significant first; excitation_mix,
    resonance_cutoff_hz and reverb_mix (E, 2); resonance (E, W) over the wavetable's rows,
    or, when pitch_hz is set (exact pitches), (E, 4) over the wave shapes at that pitch;
    room_weights (E, R); every other field (E,). Units in CONTROL_FIELDS.
    """

    onset_bits: torch.Tensor
    gain: torch.Tensor
    envelope_centre_s: torch.Tensor
    envelope_width_s: torch.Tensor
    excitation_mix: torch.Tensor
    noise_centre_hz: torch.Tensor
    noise_width_hz: torch.Tensor
    resonance: torch.Tensor
    resonance_cutoff_hz: torch.Tensor
    decay_per_frame: torch.Tensor
    crossfade_per_frame: torch.Tensor
    room_weights: torch.Tensor
    reverb_mix: torch.Tensor
    # (E,) Hz: each event's own resonance pitch, for exact pitches; None for grid pitches
    pitch_hz: torch.Tensor | None = None
    # (E,) float onsets in samples that round to onset_bits' onsets and carry a gradient:
    # set by models with continuous onsets during a fit, never stored.
    onset_continuous: torch.Tensor | None = None

    @property
    def n_events(self) -> int:
        return self.gain.shape[0]

    @property
    def onset_samples(self) -> torch.Tensor:
        """(E,) int64 onset of each event in samples."""
        return bits_to_samples(self.onset_bits)

    def named_fields(self) -> dict[str, torch.Tensor]:
        """The physical fields (everything but onset_bits, and pitch_hz only if set) by name."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("onset_bits", "onset_continuous")}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def requires_grad(self) -> bool:
        """Whether any of the tensors needs a gradient."""
        return any(value is not None and value.requires_grad for value in (getattr(self, f.name) for f in fields(self)))

    def map(self, fn) -> "EventControls":
        """Apply `fn` to every tensor (e.g. detach, move to a device)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return EventControls(**{name: None if v is None else fn(v) for name, v in values.items()})

    def select(self, index: torch.Tensor) -> "EventControls":
        """Controls of the events in `index` (int64 indices or a boolean mask)."""
        return self.map(lambda t: t[index])

    def replace(self, **changes: torch.Tensor) -> "EventControls":
        return replace(self, **changes)
