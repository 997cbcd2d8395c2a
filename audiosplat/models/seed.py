"""The seed model's learned parameters (method.md §2, §3, §6): the latent and time trees,
the linear decoder and the reverb controller, and their decoding into `EventControls`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.core import EPS_WIDTH, decay_factor
from audiosplat.dsp.onset import straight_through_bits
from audiosplat.models.layouts import ROOM_CONTROLS, decoder_sizes, seed_parameter_shapes
from audiosplat.synth.controls import EventControls

DECAY_BASE = 0.02

class ResidualBlock(nn.Module):
    """x + leaky_relu(LayerNorm(Linear(x)), 0.2), each block with its own LayerNorm."""

    def __init__(self, width: int):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.leaky_relu(self.norm(self.linear(x)), 0.2)


class RoomHead(nn.Module):
    """Two residual blocks of width 4, then a linear layer to `n_out` logits."""

    def __init__(self, n_out: int):
        super().__init__()
        self.blocks = nn.Sequential(ResidualBlock(ROOM_CONTROLS), ResidualBlock(ROOM_CONTROLS))
        self.out = nn.Linear(ROOM_CONTROLS, n_out)

    def forward(self, room: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(room))


class SeedModel(nn.Module):
    """method.md's model: learned parameters of E events and their decoding into physical controls.

    Parameters (all float32):
        latent_roots (2, D), latent_offsets (log2(E) - 1, 2, D): the latent tree.
        time_tables.{l} (2^(l+1), B, 2) for l = 0 .. log2(E) - 1: the time tree.
        decoder.{group}.weight/bias: one linear layer per control group.
        room_weights_head, reverb_mix_head: the reverb controller (§6).
    """

    default_lr = 1e-3
    default_loss = "multiband"  # method.md's
    fits_long_audio = False  # its parameters describe one window's event tree
    coarse_steps = False  # method.md's fit, step for step
    strategy = None

    def __init__(self, config: ModelConfig, n_rooms: int):
        super().__init__()
        self.config = config
        depth, d, b = config.tree_depth, config.latent_dim, config.n_time_bits
        self.latent_roots = nn.Parameter(torch.zeros(2, d))
        self.latent_offsets = nn.Parameter(torch.zeros(depth - 1, 2, d))
        self.time_tables = nn.ParameterList([nn.Parameter(torch.zeros(2 ** (lvl + 1), b, 2)) for lvl in range(depth)])
        self.decoder = nn.ModuleDict({k: nn.Linear(d, n) for k, n in decoder_sizes(config.n_waves).items()})
        self.room_weights_head = RoomHead(n_rooms)
        self.reverb_mix_head = RoomHead(2)
        event = torch.arange(config.n_events)
        # Path bits of each leaf, most significant first: column 0 picks the root.
        shifts = torch.arange(depth - 1, -1, -1)
        self.register_buffer("leaf_path_bits", (event[:, None] >> shifts) & 1, persistent=False)
        self.register_buffer("leaf_node_index", event[:, None] >> shifts, persistent=False)

    @property
    def latent_width(self) -> int:
        """Columns of the (E, D) latents `forward` returns."""
        return self.config.latent_dim

    def initialise(self, clip: torch.Tensor, generator: torch.Generator) -> None:
        """Free tensors U(-0.1, 0.1); linear weights U(-0.05, 0.05), biases 0; LayerNorm 1, 0,
        drawn from `generator` (the clip plays no part: method.md starts at random)."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith(("latent_", "time_tables")):
                    p.copy_(_uniform(p.shape, 0.1, generator))
                elif name.endswith("norm.weight"):
                    p.fill_(1.0)
                elif name.endswith("weight"):
                    p.copy_(_uniform(p.shape, 0.05, generator))
                else:
                    p.zero_()

    def leaf_latents(self) -> torch.Tensor:
        """(E, D): root[r] + sum over levels of offset_l[c_l] along each leaf's path."""
        bits = self.leaf_path_bits
        latents = self.latent_roots[bits[:, 0]]
        for lvl in range(self.latent_offsets.shape[0]):
            latents = latents + self.latent_offsets[lvl, bits[:, lvl + 1]]
        return latents

    def leaf_time_logits(self) -> torch.Tensor:
        """(E, B, 2): each leaf's time table summed along its path (the last level is private)."""
        logits = None
        for lvl, table in enumerate(self.time_tables):
            node = table[self.leaf_node_index[:, lvl]]
            logits = node if logits is None else logits + node
        return logits

    def forward(self) -> tuple[EventControls, torch.Tensor]:
        """Decode the current parameters. Returns (controls, latents (E, D))."""
        latents = self.leaf_latents()
        return self.decode(latents, straight_through_bits(self.leaf_time_logits())), latents

    def decode(self, latents: torch.Tensor, onset_bits: torch.Tensor) -> EventControls:
        """Latents (E, D) and one-hot onset bits (E, B, 2) -> physical controls."""
        cfg = self.config
        raw = {k: layer(latents) for k, layer in self.decoder.items()}
        nyquist_hz = cfg.sample_rate / 2.0
        seconds_per_unit = (cfg.n_samples - 1) / cfg.sample_rate  # envelope grid spans [0, 1]
        room = raw["room"]
        return EventControls(
            onset_bits=onset_bits,
            gain=raw["amp"][:, 0].abs(),
            envelope_centre_s=raw["env"][:, 0] * seconds_per_unit,
            envelope_width_s=0.5 * (raw["env"][:, 1].abs() + EPS_WIDTH) * seconds_per_unit,
            excitation_mix=torch.softmax(raw["mix"], dim=-1),
            noise_centre_hz=raw["noise_filter"][:, 0] * nyquist_hz,
            noise_width_hz=(raw["noise_filter"][:, 1].abs() + EPS_WIDTH) * nyquist_hz,
            resonance=torch.relu(raw["resonance"]),
            resonance_cutoff_hz=torch.cat(
                [raw["resonance_filter_1"], raw["resonance_filter_2"]], dim=-1
            ).abs().add(EPS_WIDTH).mul(nyquist_hz),
            decay_per_frame=decay_factor(raw["decay"][:, 0], DECAY_BASE),
            crossfade_per_frame=decay_factor(raw["filter_decay"][:, 0], DECAY_BASE),
            room_weights=torch.softmax(self.room_weights_head(room), dim=-1),
            reverb_mix=torch.softmax(self.reverb_mix_head(room), dim=-1),
        )


    def parameter_groups(self, lr: float) -> list[dict]:
        """One group, every parameter at `lr` (method.md)."""
        return [{"params": list(self.parameters()), "lr": lr}]

    def parameter_shapes(self, n_rows: int) -> dict[str, tuple[int, ...]]:
        """The state dict's shapes: fixed by the config, whatever the events stored."""
        return seed_parameter_shapes(self.config, self.room_weights_head.out.out_features)

    def perturb_latents(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, *, target: str, amount: float, generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Roots first, then the events' latents (the order the noise is drawn in)."""
        parameters = dict(parameters)
        if target in ("roots", "both"):
            roots = parameters["latent_roots"] + _uniform(parameters["latent_roots"].shape, amount, generator)
            latents = latents + (roots - parameters["latent_roots"])[self.leaf_path_bits[:, 0]]
            parameters["latent_roots"] = roots
        if target in ("events", "both"):
            latents = latents + _uniform(latents.shape, amount, generator)
        return parameters, latents

    def described(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, onset_samples: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The tree stays as stored (the latents and onsets are the events' own)."""
        return parameters, latents

    def shifted(
        self, parameters: dict[str, torch.Tensor], latents: torch.Tensor, shift_samples: int
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Latents hold no time: they stay; the tree describes the events before the shift."""
        return parameters, latents

    def kept(self, keep: torch.Tensor) -> SeedModel:
        """Its events are the leaves of one tree: it keeps them all, or refuses."""
        if not bool(keep.all()):
            raise ValueError("the seed model's events are the leaves of its tree: it cannot keep some of them")
        return self

    def joined(self, first: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A latent tree cannot hold two fits: `first`'s."""
        return dict(first)


def _uniform(shape: torch.Size, bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound
