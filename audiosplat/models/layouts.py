"""The shapes of each model's parameters, known without building it (no torch): what a
.splat's /parameters must hold, checked by the reader before anything is loaded. Tests hold
each to the shapes of the model's own state dict."""

from __future__ import annotations

from collections.abc import Callable

from audiosplat.core.config import WAVE_SHAPES, ModelConfig

ROOM_CONTROLS = 4


def decoder_sizes(n_waves: int) -> dict[str, int]:
    """Output size of each control group's linear layer (method.md §3)."""
    return {
        "env": 2,
        "mix": 2,
        "filter_decay": 1,
        "decay": 1,
        "resonance": n_waves,
        "noise_filter": 2,
        "resonance_filter_1": 1,
        "resonance_filter_2": 1,
        "amp": 1,
        "room": ROOM_CONTROLS,
    }


def seed_parameter_shapes(config: ModelConfig, n_rooms: int) -> dict[str, tuple[int, ...]]:
    """The seed model's state dict, in its order: the latent tree, the time tree, the
    decoder and the two room heads (each two residual blocks, then a linear layer)."""
    depth, d, b = config.tree_depth, config.latent_dim, config.n_time_bits
    shapes: dict[str, tuple[int, ...]] = {"latent_roots": (2, d), "latent_offsets": (depth - 1, 2, d)}
    shapes |= {f"time_tables.{lvl}": (2 ** (lvl + 1), b, 2) for lvl in range(depth)}
    for group, size in decoder_sizes(config.n_waves).items():
        shapes |= {f"decoder.{group}.weight": (size, d), f"decoder.{group}.bias": (size,)}
    for head, n_out in (("room_weights_head", n_rooms), ("reverb_mix_head", 2)):
        for block in range(2):
            prefix = f"{head}.blocks.{block}"
            shapes |= {f"{prefix}.linear.weight": (ROOM_CONTROLS, ROOM_CONTROLS), f"{prefix}.linear.bias": (ROOM_CONTROLS,)}
            shapes |= {f"{prefix}.norm.weight": (ROOM_CONTROLS,), f"{prefix}.norm.bias": (ROOM_CONTROLS,)}
        shapes |= {f"{head}.out.weight": (n_out, ROOM_CONTROLS), f"{head}.out.bias": (n_out,)}
    return shapes


ONSET_PARAMETER = "groups.onset_frames"  # the direct model's onsets, in its state dict
# Columns of each event's parameters, in the order of the (E, K) latent matrix.
GROUPS: dict[str, tuple[int | None, str]] = {
    "onset_frames": (1, "onset in control frames (frame_size samples), continuous"),
    "log_gain": (1, "natural log of the linear gain"),
    "envelope": (2, "excitation envelope: centre in units of 10 ms, log of its width in s"),
    "mix": (2, "logits of [dry excitation, resonance]"),
    "noise": (2, "excitation band: centre as a MIDI pitch, log of its width in Hz"),
    "pitch": (1, "resonance pitch, MIDI note number (continuous)"),
    "shape": (len(WAVE_SHAPES), "logits of the wave shapes saw, square, triangle, sine"),
    "cutoff": (2, "log Hz of the two low-passes on the resonance"),
    "decay": (2, "log seconds to -60 dB of the resonance and of the low-pass crossfade"),
    "room": (None, "logits over the rooms of the bank (one column per room)"),
    "reverb": (2, "logits of [dry, reverberant]"),
}


def group_widths(n_rooms: int) -> dict[str, int]:
    """Columns of each parameter group for a bank of `n_rooms` rooms."""
    return {name: n_rooms if width is None else width for name, (width, _) in GROUPS.items()}


def direct_parameter_shapes(config: ModelConfig, n_rooms: int, n_rows: int) -> dict[str, tuple[int, ...]]:
    """The direct model's state dict: one row per stored event in every group."""
    return {f"groups.{name}": (n_rows, width) for name, width in group_widths(n_rooms).items()}


def direct_latent_width(config: ModelConfig, n_rooms: int) -> int:
    """Columns of the direct model's latents: every group's, side by side."""
    return sum(group_widths(n_rooms).values())


# By model name: (state-dict shapes for a file of n_rows events, latent columns)
LAYOUTS: dict[str, tuple[Callable[[ModelConfig, int, int], dict[str, tuple[int, ...]]], Callable[[ModelConfig, int], int]]] = {
    "seed": (lambda config, n_rooms, n_rows: seed_parameter_shapes(config, n_rooms), lambda config, n_rooms: config.latent_dim),
    "direct": (direct_parameter_shapes, direct_latent_width),
}


def parameter_shapes(config: ModelConfig, n_rooms: int, n_rows: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the stored parameters of a file of `n_rows` events of `config.model`."""
    return LAYOUTS[config.model][0](config, n_rooms, n_rows)


def latent_width(config: ModelConfig, n_rooms: int) -> int:
    """Columns K of the stored (E, K) latents of `config.model`."""
    return LAYOUTS[config.model][1](config, n_rooms)
