"""Decoded per-event controls in physical units: what the synth renders and .splat stores."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from audiosplat.dsp.onset import bits_to_samples


@dataclass(frozen=True)
class EventControls:
    """Controls of E events. Tensors may carry gradients (during a fit) or not (from a file).

    Shapes: onset_bits (E, B, 2) one-hot rows, most significant first; excitation_mix,
    resonance_cutoff_hz and reverb_mix (E, 2); resonance (E, W) over the wavetable's rows,
    or, when pitch_hz is set (exact pitches), (E, 4) over the wave shapes at that pitch;
    room_weights (E, R); every other field (E,). Units in `core.fields.CONTROL_FIELDS`.
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

    def map(self, fn) -> EventControls:
        """Apply `fn` to every tensor (e.g. detach, move to a device)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return EventControls(**{name: None if v is None else fn(v) for name, v in values.items()})

    def select(self, index: torch.Tensor) -> EventControls:
        """Controls of the events in `index` (int64 indices or a boolean mask)."""
        return self.map(lambda t: t[index])

    def replace(self, **changes: torch.Tensor) -> EventControls:
        return replace(self, **changes)


def concat_controls(parts: list[EventControls]) -> EventControls:
    """The events of several clips (or files) as one set, one part after the other."""
    if len(parts) == 1:
        return parts[0]
    columns = {f.name: [getattr(p, f.name) for p in parts] for f in fields(EventControls)}
    return EventControls(**{name: None if v[0] is None else torch.cat(v) for name, v in columns.items()})
