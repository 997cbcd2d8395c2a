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


# Bounds that keep a render's float32 arithmetic finite. No fit comes near them, so every
# fitted render keeps its bytes. Amplitudes (gain, resonance weights): 120 dB. Centres and
# widths of the Gaussian windows (noise band, low-passes, envelope), in their windows'
# units (0 to 1 is DC to Nyquist, or the window's first to last sample): within 1e6 units
# a window's squared distance stays finite down to its narrowest width
# (`dsp.core.EPS_WIDTH`, 1e-12), and a width converted from seconds does not overflow.
MAX_AMPLITUDE = 1e6
MAX_UNITS = 1e6


def within_render_range(controls: EventControls, sample_rate: int, n_samples: int) -> EventControls:
    """The controls clamped to where the synth's float32 arithmetic stays finite: gain and
    resonance weights within +-MAX_AMPLITUDE, the softmax weights (excitation_mix,
    room_weights, reverb_mix) within +-1, the windows' centres within MAX_UNITS of their
    unit intervals and their widths at most MAX_UNITS (Hz over Nyquist; seconds over the
    envelope grid of `n_samples`). Values inside the bounds are unchanged, to the bit; NaN
    stays NaN."""
    nyquist_hz = sample_rate / 2.0
    window_s = (n_samples - 1) / sample_rate  # the envelope grid's unit interval, in seconds
    return controls.replace(
        gain=controls.gain.clamp(-MAX_AMPLITUDE, MAX_AMPLITUDE),
        resonance=controls.resonance.clamp(-MAX_AMPLITUDE, MAX_AMPLITUDE),
        excitation_mix=controls.excitation_mix.clamp(-1.0, 1.0),
        room_weights=controls.room_weights.clamp(-1.0, 1.0),
        reverb_mix=controls.reverb_mix.clamp(-1.0, 1.0),
        noise_centre_hz=controls.noise_centre_hz.clamp(-MAX_UNITS * nyquist_hz, (1.0 + MAX_UNITS) * nyquist_hz),
        noise_width_hz=controls.noise_width_hz.clamp(max=MAX_UNITS * nyquist_hz),
        resonance_cutoff_hz=controls.resonance_cutoff_hz.clamp(max=MAX_UNITS * nyquist_hz),
        envelope_centre_s=controls.envelope_centre_s.clamp(-MAX_UNITS * window_s, (1.0 + MAX_UNITS) * window_s),
        envelope_width_s=controls.envelope_width_s.clamp(max=MAX_UNITS * window_s),
    )


def concat_controls(parts: list[EventControls]) -> EventControls:
    """The events of several clips (or files) as one set, one part after the other."""
    if len(parts) == 1:
        return parts[0]
    columns = {f.name: [getattr(p, f.name) for p in parts] for f in fields(EventControls)}
    return EventControls(**{name: None if v[0] is None else torch.cat(v) for name, v in columns.items()})
