"""The .splat file as tensors: `Splat`, writing it and reading it (formats/splat-v1.md).

Strict when writing: the file is read back and validated before it is renamed into place.
Reading is `splat_format.read_stored` (validation, no torch), then tensors.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from audiosplat.core.bed_layout import anchor_samples, band_centres_hz
from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import SplatFormatError
from audiosplat.core.fields import CONTROL_FIELDS
from audiosplat.dsp.onset import samples_to_bits
from audiosplat.io.atomic import atomic_path
from audiosplat.io.splat_format import CONFIG_KEYS, FORMAT_NAME, FORMAT_VERSION, LABEL_FIELDS, StoredNoiseBed, StoredRooms, StoredSplat, read_stored
from audiosplat.models.base import EventModel
from audiosplat.models.registry import build_model
from audiosplat.synth.controls import EventControls
from audiosplat.synth.levels import event_energies_db
from audiosplat.synth.noise_bed import NoiseBed
from audiosplat.synth.rooms import RoomBank, procedural_bank


@dataclass
class Splat:
    """Everything a .splat file holds, as tensors and plain Python values.

    parameters: the model's state dict (name -> float32 tensor), enough to decode again and
    to continue fitting. controls/latents/noise_seeds: the decoded events that render.
    fit: the fit's settings and outcome (plain values); loss_history (steps,) float64.
    provenance: where the clip came from and what made the file (plain values).
    """

    config: ModelConfig
    controls: EventControls
    latents: torch.Tensor
    noise_seeds: torch.Tensor
    parameters: dict[str, torch.Tensor]
    rooms: RoomBank
    fit: dict = field(default_factory=dict)
    loss_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    provenance: dict = field(default_factory=dict)
    latents_match_controls: bool = True
    format_version: str = FORMAT_VERSION
    optimizer: dict[str, torch.Tensor] | None = None
    labels: dict[str, np.ndarray] | None = None  # LABEL_FIELDS -> (rows,) arrays
    noise_bed: NoiseBed | None = None  # the unpitched part, when the config has one
    onsets_s: np.ndarray | None = None  # (K,) float64 s: where the source's notes start (`fit`)
    colour_db: torch.Tensor | None = None  # (B,) dB: the equaliser over the render (`synth.colour`)
    colour_track_db: torch.Tensor | None = None  # (F, K) dB: its course over time, only with colour_db

    @property
    def n_events(self) -> int:
        """Events stored: E for one fitted window; any number in a file with total_samples."""
        return self.controls.n_events

    def model(self) -> EventModel:
        """The model with the stored parameters, on the CPU."""
        model = build_model(self.config, self.rooms.n_rooms)
        model.load_state_dict(self.parameters, strict=True)
        return model

    def to_stored(self) -> StoredSplat:
        """The same file as arrays (what `read_stored` gives for it once written)."""
        rooms = StoredRooms(self.rooms.name, self.rooms.room_names, self.rooms.impulses.numpy() if self.rooms.embedded else None)
        return StoredSplat(
            config=self.config,
            onset_samples=self.controls.onset_samples.cpu().numpy(),
            controls={name: value.detach().cpu().numpy() for name, value in self.controls.named_fields().items()},
            latents=self.latents.detach().cpu().numpy(),
            noise_seeds=self.noise_seeds.cpu().numpy(),
            parameters={name: value.detach().cpu().numpy() for name, value in self.parameters.items()},
            rooms=rooms,
            fit=self.fit,
            loss_history=self.loss_history,
            provenance=self.provenance,
            latents_match_controls=self.latents_match_controls,
            format_version=self.format_version,
            labels=self.labels,
            onsets_s=self.onsets_s,
            noise_bed=None if self.noise_bed is None else StoredNoiseBed(self.noise_bed.levels_db.detach().cpu().numpy(), self.noise_bed.seed),
            colour_db=None if self.colour_db is None else _f32(self.colour_db),
            colour_track_db=None if self.colour_track_db is None else _f32(self.colour_track_db),
        )

    def stored_numbers(self) -> int:
        """Learned numbers needed to decode and render (`StoredSplat.stored_numbers`)."""
        return self.to_stored().stored_numbers()


# ---------------------------------------------------------------- writing


def write_splat(path: Path, splat: Splat) -> None:
    """Write `splat` to `path` atomically: a temporary file in the same folder is written,
    read back and validated, then renamed over `path`."""
    path = Path(path)
    # HDF5 builds the file in memory; only Python writes to disk, so a full disk is one
    # clean OSError rather than HDF5 errors from half-closed objects.
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _write(f, splat)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
        try:
            read_splat(tmp)
        except SplatFormatError as exc:  # name the user's file, not our temporary one
            reason = str(exc).replace(f"{tmp}: ", "").replace(str(tmp), str(path))
            raise SplatFormatError(f"{path}: not written, as it would not read back: {reason}") from None


# What /events/energy_db holds (`synth.levels.event_energies_db`): made from the controls
# whenever a file is written, so that a reader judges which events are heard without a render.
ENERGY_MEANING = "energy of the event's sound, reverb and its whole tail included: 10 log10 of its summed squared samples"


def _write(f: h5py.File, s: Splat) -> None:
    cfg = s.config
    f.attrs["format"] = FORMAT_NAME
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["latents_match_controls"] = bool(s.latents_match_controls)

    g = f.create_group("config")
    for key in CONFIG_KEYS:
        g.attrs[key] = int(getattr(cfg, key))
    g.attrs["event_samples"] = int(cfg.event_length)
    g.attrs["model"] = cfg.model
    g.attrs["waves"] = cfg.waves
    g.attrs["pitch_bump"] = float(cfg.pitch_bump)
    g.attrs["pitches"] = cfg.pitches
    if cfg.total_samples is not None:
        g.attrs["total_samples"] = int(cfg.total_samples)
    g.attrs["noise_anchors"] = int(cfg.noise_anchors)
    g.attrs["noise_bands"] = int(cfg.noise_bands)
    if s.noise_bed is not None:
        bed = f.create_group("noise_bed")
        bed.attrs["seed"] = int(s.noise_bed.seed)
        _dataset(bed, "levels_db", _f32(s.noise_bed.levels_db), "dB", "level of the noise bed at each anchor (row) in each band (column), re white noise of RMS 1")
        _dataset(bed, "anchor_s", anchor_samples(cfg.noise_anchors, cfg.n_samples) / cfg.sample_rate, "s", "time of each anchor")
        _dataset(bed, "band_hz", band_centres_hz(cfg.noise_bands, cfg.sample_rate), "Hz", "centre of each band")
    if s.colour_db is not None:
        colour = f.create_group("colour")
        _dataset(colour, "levels_db", _f32(s.colour_db), "dB", "lift of the whole render at each band centre, linear in dB between them")
        _dataset(colour, "band_hz", band_centres_hz(len(s.colour_db), cfg.sample_rate), "Hz", "centre of each band")
        if s.colour_track_db is not None:
            n_anchors, n_bands = s.colour_track_db.shape
            _dataset(colour, "track_db", _f32(s.colour_track_db), "dB", "lift of the whole render at each anchor (row) and band centre (column), added to levels_db")
            _dataset(colour, "track_anchor_s", anchor_samples(n_anchors, cfg.n_samples) / cfg.sample_rate, "s", "time of each anchor")
            _dataset(colour, "track_band_hz", band_centres_hz(n_bands, cfg.sample_rate), "Hz", "centre of each band")

    params = f.create_group("parameters")
    for name, tensor in s.parameters.items():
        params.create_dataset(name.replace(".", "/"), data=_f32(tensor))

    ev = f.create_group("events")
    onset = s.controls.onset_samples.cpu().numpy().astype(np.int64)
    _dataset(ev, "onset_samples", onset, "samples", "onset of the event in samples from the clip start")
    _dataset(ev, "onset_s", onset / cfg.sample_rate, "s", "onset of the event from the clip start")
    _dataset(ev, "noise_seed", s.noise_seeds.cpu().numpy().astype(np.int64), "1", "seed of the event's excitation noise")
    _dataset(ev, "latent", _f32(s.latents), "1", "the event's latent vector (decoder input)")
    for name, tensor in s.controls.named_fields().items():
        unit, meaning = CONTROL_FIELDS[name]
        _dataset(ev, name, _f32(tensor), unit, meaning)
    energies = event_energies_db(s.controls, s.noise_seeds, s.controls.onset_samples, cfg, s.rooms)
    _dataset(ev, "energy_db", _f32(energies), "dB", ENERGY_MEANING)

    rooms = f.create_group("rooms")
    rooms.attrs["bank"] = s.rooms.name
    rooms.attrs["sha256"] = s.rooms.sha256
    rooms.create_dataset("names", data=np.array(s.rooms.room_names, dtype=h5py.string_dtype()))
    if s.rooms.embedded:
        rooms.create_dataset("impulses", data=_f32(s.rooms.impulses))

    if s.optimizer:
        opt = f.create_group("optimizer")
        opt.attrs["step"] = int(s.optimizer["step"])
        for key, tensor in s.optimizer.items():
            if key != "step":
                moment, name = key.split(".", 1)
                opt.create_dataset(f"{moment}/{name.replace('.', '/')}", data=_f32(tensor))

    fit = f.create_group("fit")
    for key, value in s.fit.items():
        fit.attrs[key] = value
    _dataset(fit, "loss_history", np.asarray(s.loss_history, dtype=np.float64), "1", "loss before each step (NaN: skipped)")
    if s.onsets_s is not None:
        _dataset(fit, "onsets_s", np.asarray(s.onsets_s, dtype=np.float64), "s", "where the source's notes start, from the clip's start")

    prov = f.create_group("provenance")
    for key, value in s.provenance.items():
        prov.attrs[key] = json.dumps(value) if isinstance(value, (list, dict)) else value

    if s.labels is not None:
        labels = f.create_group("labels")
        for name, (kind, unit, meaning) in LABEL_FIELDS.items():
            values = np.asarray(s.labels[name])
            data = values.astype(h5py.string_dtype()) if kind is str else values.astype(np.float64 if kind is np.floating else np.int64)
            _dataset(labels, name, data, unit, meaning)


def _dataset(group: h5py.Group, name: str, data: np.ndarray, unit: str, meaning: str) -> None:
    ds = group.create_dataset(name, data=data)
    ds.attrs["units"] = unit
    ds.attrs["description"] = meaning


def _f32(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().to(torch.float32).numpy()


# ---------------------------------------------------------------- reading


def read_splat(path: Path, *, optimizer: bool = True) -> Splat:
    """Open and validate a .splat file (`splat_format.read_stored`, which says what
    `optimizer` skips and what it raises) as tensors."""
    return splat_from_stored(read_stored(path, optimizer=optimizer))


def splat_from_stored(stored: StoredSplat) -> Splat:
    """The tensors of a validated file."""
    config = stored.config
    rooms = stored.rooms
    if rooms.impulses is None:
        bank = procedural_bank(config.n_samples, config.sample_rate)
    else:
        bank = RoomBank(rooms.name, rooms.room_names, torch.from_numpy(rooms.impulses), embedded=True)
    onset_bits = samples_to_bits(torch.from_numpy(stored.onset_samples), config.n_onset_bits)
    controls = EventControls(onset_bits=onset_bits, **{name: torch.from_numpy(v) for name, v in stored.controls.items()})
    optimizer = None
    if stored.optimizer is not None:
        optimizer = {k: torch.tensor(float(v)) if k == "step" else torch.from_numpy(v) for k, v in stored.optimizer.items()}
    return Splat(
        config=config,
        controls=controls,
        latents=torch.from_numpy(stored.latents),
        noise_seeds=torch.from_numpy(stored.noise_seeds),
        parameters={name: torch.from_numpy(v) for name, v in stored.parameters.items()},
        rooms=bank,
        fit=stored.fit,
        loss_history=stored.loss_history,
        provenance=stored.provenance,
        latents_match_controls=stored.latents_match_controls,
        format_version=stored.format_version,
        optimizer=optimizer,
        labels=stored.labels,
        onsets_s=stored.onsets_s,
        noise_bed=None if stored.noise_bed is None else NoiseBed(torch.from_numpy(stored.noise_bed.levels_db), stored.noise_bed.seed),
        colour_db=None if stored.colour_db is None else torch.from_numpy(stored.colour_db),
        colour_track_db=None if stored.colour_track_db is None else torch.from_numpy(stored.colour_track_db),
    )
