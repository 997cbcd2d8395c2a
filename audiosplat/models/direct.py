"""The direct model: each event's physical controls are its own free parameters, in
natural coordinates (seconds, MIDI pitch, log Hz), with no decoder and no event tree.

The resonance is one pitch and a mix of the four wave shapes, so an event is a note: a
handful of numbers instead of the seed model's 512 resonance weights per event, and an
event is free to take any pitch whatever the others do. With exact pitches (what a fit
chooses for held notes) the note sounds its pitch in Hz; with grid pitches, a Gaussian bump over the wavetable's
nearest rows.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.dsp.wavetable import HIGHEST_MIDI, LOWEST_MIDI, SHAPES, midi_to_hz
from audiosplat.models.analysis import Note, find_notes, finite_on_cpu
from audiosplat.models.layouts import GROUPS, ONSET_PARAMETER, direct_parameter_shapes, group_widths  # noqa: F401 - GROUPS documents the rows
from audiosplat.models.relocate import RELOCATION
from audiosplat.synth.controls import EventControls

LN_THOUSANDTH = math.log(1e-3)
# Adam moves a parameter by about its learning rate per step, so each group gets a rate in
# its own units: a fiftieth of a frame, a fiftieth of a semitone, ... Gains, envelopes, cutoffs
# and decays are logs, and at the base rate a decay took hundreds of steps to find a short note
# (docs/benchmarks.md, "Group rates").
LR_SCALE = {
    "onset_frames": 2.0, "pitch": 2.0, "noise": 2.0, "mix": 5.0, "shape": 5.0, "room": 5.0, "reverb": 5.0,
    "log_gain": 5.0, "envelope": 5.0, "cutoff": 5.0, "decay": 5.0,
}
# Exact pitches start from the analysis' refined pitches and need only fine tuning: at the
# grid's rate, events on one partial drift apart and, no longer on shared rows, beat
# (docs/benchmarks.md, "Exact against grid pitches").
EXACT_PITCH_LR_SCALE = 0.25
ENVELOPE_UNIT_S = 0.01  # envelope centres are stored in units of 10 ms

def pitch_weights(pitch_midi: torch.Tensor, n_pitches: int, bump_steps: float) -> torch.Tensor:
    """Weights over the wavetable's pitch grid that sound `pitch_midi`: a Gaussian bump of
    standard deviation `bump_steps` grid steps around it, summing to 1, so that the pitch
    moves smoothly between rows. (E,) MIDI -> (E, n_pitches)."""
    grid = torch.linspace(LOWEST_MIDI, HIGHEST_MIDI, n_pitches, device=pitch_midi.device)
    spacing = (HIGHEST_MIDI - LOWEST_MIDI) / max(n_pitches - 1, 1)
    bump = torch.exp(-0.5 * ((grid - pitch_midi[:, None]) / (bump_steps * spacing)) ** 2)
    return bump / bump.sum(dim=-1, keepdim=True).clamp_min(1e-12)


def per_frame_factor(seconds_to_60db: torch.Tensor, frame_s: float) -> torch.Tensor:
    """Amplitude factor per control frame of a decay that falls 60 dB in the given time."""
    return torch.exp(LN_THOUSANDTH * frame_s / seconds_to_60db)


class DirectModel(nn.Module):
    """E events, each a row of free parameters (one `nn.Parameter` per group of `GROUPS`,
    shape (E, width)), decoded into `EventControls` by fixed formulas."""

    default_lr = 1e-2
    default_loss = "multiband-balanced"  # fits the quiet bands too
    fits_long_audio = True
    coarse_steps = True
    strategy = RELOCATION

    def __init__(self, config: ModelConfig, n_rooms: int):
        super().__init__()
        self.config = config
        self.exact_pitches = config.chosen_pitches() == "exact"
        self.widths = group_widths(n_rooms)
        self.groups = nn.ParameterDict({k: nn.Parameter(torch.zeros(config.n_events, w)) for k, w in self.widths.items()})

    @property
    def latent_width(self) -> int:
        """Columns of the (E, K) latents `forward` returns: every group's, side by side."""
        return sum(self.widths.values())

    def initialise(self, clip: torch.Tensor, generator: torch.Generator) -> None:
        """Start from the notes found in `clip` (N,) (`initial_groups`); nothing is drawn."""
        self.initialise_from(initial_groups(find_notes(finite_on_cpu(clip), self.config), self.config, self.widths["room"]))

    def initialise_from(self, values: dict[str, torch.Tensor]) -> None:
        """Set every group from `values` (name -> (E, width))."""
        with torch.no_grad():
            for name, p in self.groups.items():
                p.copy_(values[name].reshape(p.shape))

    def state_for(self, latents: torch.Tensor, onset_samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """The state dict whose parameters are `latents` (E, K), onsets set to `onset_samples`."""
        groups = dict(zip(self.widths, torch.split(latents, list(self.widths.values()), dim=-1)))
        groups["onset_frames"] = onset_samples.to(latents.dtype)[:, None] / self.config.frame_size
        return {f"groups.{name}": value.clone() for name, value in groups.items()}

    def parameter_groups(self, lr: float) -> list[dict]:
        """One group per control group, each at `lr` scaled to its units (`LR_SCALE`;
        `EXACT_PITCH_LR_SCALE` for exact pitches)."""
        return [
            {"params": [p], "lr": lr * (EXACT_PITCH_LR_SCALE if self.exact_pitches and name == "pitch" else LR_SCALE.get(name, 1.0))}
            for name, p in self.groups.items()
        ]

    def parameter_shapes(self, n_rows: int) -> dict[str, tuple[int, ...]]:
        """One row per stored event in every group."""
        return direct_parameter_shapes(self.config, self.widths["room"], n_rows)

    def perturb_latents(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, *, target: str, amount: float, generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Every event's parameters moved in their natural units (semitones of pitch, log
        gain, ...: `GROUPS`); the state dict follows once the events are placed (`described`)."""
        return parameters, latents + (torch.rand(latents.shape, generator=generator, dtype=torch.float32) * 2.0 - 1.0) * amount

    def described(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, onset_samples: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Its parameters are its latents, onsets included."""
        state = self.state_for(latents, onset_samples)
        return state, torch.cat(list(state.values()), dim=-1)

    def shifted(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, shift_samples: int
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The onset column (the rows' first, `GROUPS`) moved by the shift in frames."""
        frames = shift_samples / self.config.frame_size
        moved = dict(parameters)
        moved[ONSET_PARAMETER] = moved[ONSET_PARAMETER] + frames
        latents = latents.clone()
        latents[:, 0] += frames
        return moved, latents

    def joined(self, first: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Both files' rows, one after the other."""
        return {name: torch.cat([value, other[name]]) for name, value in first.items()}

    def kept(self, keep: torch.Tensor) -> DirectModel:
        """A model holding only the events `keep` (E,) bool, its config's `n_events` their count."""
        smaller = DirectModel(dataclasses.replace(self.config, n_events=int(keep.sum())), self.widths["room"])
        smaller.load_state_dict({name: value[keep.to(value.device)] for name, value in self.state_dict().items()})
        return smaller.to(self.groups["log_gain"].device)

    def rows_for_notes(self, onset_frames: torch.Tensor, pitch_midi: torch.Tensor, gain: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameter rows of new notes (`note_rows`) for this model's rooms."""
        return note_rows(onset_frames, pitch_midi, gain, self.widths["room"])

    def forward(self) -> tuple[EventControls, torch.Tensor]:
        """Decode the current parameters. Returns (controls, latents (E, K)): the latents are
        the parameter rows side by side, in the order of `GROUPS`."""
        cfg = self.config
        latents = torch.cat([self.groups[name] for name in self.widths], dim=-1)
        onset = (self.groups["onset_frames"][:, 0] * cfg.frame_size).clamp(0.0, cfg.n_samples - 1.0)
        controls = self.decode(latents, samples_to_bits(onset.detach().round().long(), cfg.n_time_bits))
        return controls.replace(onset_continuous=onset), latents

    def decode(self, latents: torch.Tensor, onset_bits: torch.Tensor) -> EventControls:
        """Latents (E, K) (see `forward`) and one-hot onset bits (E, B, 2) -> controls."""
        cfg = self.config
        g = dict(zip(self.widths, torch.split(latents, list(self.widths.values()), dim=-1)))
        frame_s = cfg.frame_size / cfg.sample_rate
        shape = torch.softmax(g["shape"], dim=-1)
        if self.exact_pitches:
            resonance, pitch_hz = shape, midi_to_hz(g["pitch"][:, 0].clamp(LOWEST_MIDI, HIGHEST_MIDI))
        else:
            resonance = (shape[:, :, None] * pitch_weights(g["pitch"][:, 0], cfg.n_pitches, cfg.pitch_bump)[:, None, :]).flatten(1)
            pitch_hz = None
        decays = per_frame_factor(g["decay"].exp(), frame_s)
        return EventControls(
            onset_bits=onset_bits,
            gain=g["log_gain"][:, 0].exp(),
            envelope_centre_s=g["envelope"][:, 0] * ENVELOPE_UNIT_S,
            envelope_width_s=g["envelope"][:, 1].exp(),
            excitation_mix=torch.softmax(g["mix"], dim=-1),
            noise_centre_hz=midi_to_hz(g["noise"][:, 0]),
            noise_width_hz=g["noise"][:, 1].exp(),
            resonance=resonance,
            resonance_cutoff_hz=g["cutoff"].exp(),
            decay_per_frame=decays[:, 0],
            crossfade_per_frame=decays[:, 1],
            room_weights=torch.softmax(g["room"], dim=-1),
            reverb_mix=torch.softmax(g["reverb"], dim=-1),
            pitch_hz=pitch_hz,
        )


def initial_groups(notes: list[Note], config: ModelConfig, n_rooms: int) -> dict[str, torch.Tensor]:
    """Starting parameters from the notes found in the clip (`analysis.find_notes`): the
    E most salient notes become events, in onset order, with gains relative to the
    strongest; events left over start near-silent, spread over the clip, free to move."""
    e = config.n_events
    chosen = sorted(notes[:e], key=lambda n: n.onset_frame)
    spare = e - len(chosen)
    loudest = max((n.salience for n in chosen), default=1.0)
    onsets = [n.onset_frame - 0.5 for n in chosen] + [(i + 0.5) * config.n_frames / max(spare, 1) for i in range(spare)]
    pitches = [n.pitch_midi for n in chosen] + [60.0 + 12.0 * (i % 3) for i in range(spare)]
    gains = [n.salience / loudest for n in chosen] + [1e-3] * spare
    return note_rows(torch.tensor(onsets), torch.tensor(pitches), torch.tensor(gains), n_rooms)


def note_rows(onset_frames: torch.Tensor, pitch_midi: torch.Tensor, gain: torch.Tensor, n_rooms: int) -> dict[str, torch.Tensor]:
    """Parameter rows of notes at the given onsets (frames), pitches (MIDI) and gains, all
    (n,); everything else starts at a plain struck-string setting."""
    n = onset_frames.shape[0]

    def constant(*values: float) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32).expand(n, len(values)).clone()

    pitch = pitch_midi.float()
    return {
        "onset_frames": onset_frames.float().clamp_min(0.0)[:, None],
        "log_gain": gain.float().log()[:, None],
        "envelope": constant(0.5, math.log(0.005)),
        "mix": constant(-2.0, 2.0),
        "noise": torch.stack([pitch + 24.0, torch.full_like(pitch, math.log(2000.0))], dim=-1),
        "pitch": pitch[:, None],
        "shape": constant(*[0.0] * len(SHAPES)),
        "cutoff": constant(math.log(8000.0), math.log(2000.0)),
        "decay": constant(math.log(1.5), math.log(0.5)),
        "room": constant(*[0.0] * n_rooms),
        "reverb": constant(1.0, -1.0),
    }
