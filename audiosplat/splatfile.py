"""Reading, writing and validating .splat files (HDF5, specified in formats/splat-v1.md).

Strict when writing (the file is read back and validated before it is renamed into
place), careful when reading: nothing is unpickled or evaluated, every shape and dtype is
checked against the file's own config before use, and any problem becomes one
`SplatFormatError` sentence that names the file.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
from h5py import h5d, h5g, h5l, h5o, h5s
import numpy as np
import torch

from audiosplat.atomic import atomic_path
from audiosplat.config import MODELS, PITCH_KINDS, WAVE_KINDS, ModelConfig
from audiosplat.controls import CONTROL_FIELDS, EventControls
from audiosplat.errors import SplatFormatError
from audiosplat.models import Model, build_model
from audiosplat.onset import samples_to_bits
from audiosplat.rooms import PROCEDURAL_BANK, RoomBank, procedural_bank

FORMAT_NAME = "audiosplat.splat"
FORMAT_VERSION = "1.5.0"
SUPPORTED_MAJOR = 1
# Bounds on the config read from a file, so a hostile file cannot ask for huge allocations.
MAX_SAMPLES = 2**22
MAX_EVENTS = 4096
# A file with /config@total_samples (a long fit, a merge) holds any number of events up to
# this, over up to MAX_TOTAL_SAMPLES (27 hours at 22050 Hz).
MAX_EVENT_ROWS = 2**20
MAX_TOTAL_SAMPLES = 2**31
MAX_LATENT = 1024
MAX_PITCHES = 1024
MAX_ROOMS = 256
MAX_ROOM_SAMPLES = 2**26  # R * N of embedded impulses: 256 MiB of float32
CONFIG_KEYS = ("sample_rate", "n_samples", "n_events", "latent_dim", "frame_size", "n_pitches")
MAX_LABELS = 10**6
# The optional /labels group: notes known to sound in the clip (e.g. MusicNet's), one row each.
LABEL_FIELDS = {
    "onset_s": (np.floating, "s", "note start from the clip start (negative: it began before the clip)"),
    "offset_s": (np.floating, "s", "note end from the clip start"),
    "instrument": (np.integer, "1", "instrument code (MusicNet: General MIDI program number)"),
    "note": (np.integer, "1", "MIDI note number"),
    "start_beat": (np.floating, "beats", "the note's start in beats in the score"),
    "end_beat": (np.floating, "beats", "the note's end_beat as the dataset gives it (MusicNet: its length in beats)"),
    "note_value": (str, "1", "the note's written value, e.g. Quarter or Dotted Eighth"),
}


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

    @property
    def n_events(self) -> int:
        """Events stored: E for one fitted window; any number in a file with total_samples."""
        return self.controls.n_events

    def model(self) -> Model:
        """The model with the stored parameters, on the CPU."""
        model = build_model(self.config, self.rooms.n_rooms)
        model.load_state_dict(self.parameters, strict=True)
        return model

    def stored_numbers(self) -> int:
        """Learned numbers needed to decode and render: the parameters plus the noise seeds."""
        return sum(p.numel() for p in self.parameters.values()) + self.noise_seeds.numel()


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
        read_splat(tmp)


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
    """Open and validate a .splat file. With `optimizer` False, the /optimizer group (Adam's
    state, which only resuming a fit needs) is neither read nor checked, and the Splat's
    `optimizer` is None: a render reads a tenth less.

    Raises:
        SplatFormatError: the file is missing, not HDF5, not a .splat, of a newer major
            version, or any dataset is missing, mis-shaped or not finite.
    """
    path = Path(path)
    if not path.exists():
        raise SplatFormatError(f"{path}: file not found")
    if path.is_dir():
        raise SplatFormatError(f"{path}: is a directory, not a .splat file")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise SplatFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not is_hdf5:
        raise SplatFormatError(f"{path}: not a .splat file (not HDF5)")
    try:
        with h5py.File(path, "r") as f:
            return _read(f, path, optimizer)
    except SplatFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file makes HDF5 raise almost anything
        raise SplatFormatError(f"{path}: damaged or truncated .splat file ({type(exc).__name__}: {_first_line(exc)})") from None


def _read(f: h5py.File, path: Path, optimizer: bool) -> Splat:
    def fail(message: str) -> SplatFormatError:
        return SplatFormatError(f"{path}: {message}")

    if _text(f.attrs.get("format")) != FORMAT_NAME:
        raise fail("not a .splat file (no 'format' attribute naming audiosplat.splat)")
    version = _text(f.attrs.get("format_version"))
    major = _major(version)
    if major is None:
        raise fail(f"unreadable format_version '{version}'")
    if major > SUPPORTED_MAJOR:
        raise fail(f".splat format {version} is newer than this audiosplat reads (1.x); upgrade audiosplat")
    if major < SUPPORTED_MAJOR:
        raise fail(f".splat format {version} is older than any this audiosplat reads (1.x)")
    _refuse_links(f, fail)

    config = _read_config(_group(f, "config", fail), fail)
    ev = _group(f, "events", fail)
    e, total = _event_rows(ev, config, fail), config.total_length
    rooms = _read_rooms(_group(f, "rooms", fail), config, fail)
    model = build_model(config, rooms.n_rooms)
    expected_params = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if config.model == "direct":  # its parameters are per-event rows, one per stored event
        expected_params = {k: (e, *shape[1:]) for k, shape in expected_params.items()}
    params_group = _group(f, "parameters", fail)
    parameters = {
        name: torch.from_numpy(_array(params_group, name.replace(".", "/"), shape, np.floating, fail))
        for name, shape in expected_params.items()
    }

    onset = _array(ev, "onset_samples", (e,), np.integer, fail).astype(np.int64)
    if np.any(onset < 0) or np.any(onset >= total):
        raise fail(f"/events/onset_samples has values outside [0, {total})")
    shapes = _control_shapes(config, e, rooms.n_rooms)
    values = {name: torch.from_numpy(_array(ev, name, shape, np.floating, fail)) for name, shape in shapes.items()}
    controls = EventControls(onset_bits=samples_to_bits(torch.from_numpy(onset), config.n_onset_bits), **values)
    _check_controls(controls, config.sample_rate, fail)

    fit_group = _group(f, "fit", fail)
    history = _array(fit_group, "loss_history", None, np.floating, fail, finite=False).astype(np.float64)
    if history.ndim != 1:
        raise fail("/fit/loss_history must be one-dimensional")
    return Splat(
        config=config,
        controls=controls,
        latents=torch.from_numpy(_array(ev, "latent", (e, model.latent_width), np.floating, fail)),
        noise_seeds=torch.from_numpy(_array(ev, "noise_seed", (e,), np.integer, fail).astype(np.int64)),
        parameters=parameters,
        rooms=rooms,
        fit={k: _plain(v) for k, v in fit_group.attrs.items()},
        loss_history=history,
        provenance={k: _plain(v) for k, v in _group(f, "provenance", fail).attrs.items()},
        latents_match_controls=bool(f.attrs.get("latents_match_controls", True)),
        format_version=version,
        optimizer=_read_optimizer(f, expected_params, fail) if optimizer else None,
        labels=_read_labels(f, fail),
    )


def _read_labels(f: h5py.File, fail) -> dict[str, np.ndarray] | None:
    """The optional /labels group: one 1-D dataset per LABEL_FIELDS entry, all one length."""
    g = _member(f, "labels")
    if g is None:
        return None
    if not isinstance(g, h5py.Group):
        raise fail("/labels must be a group")
    labels = {}
    for name, (kind, _, _) in LABEL_FIELDS.items():
        ds = _member(g, name)
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] > MAX_LABELS:
            raise fail(f"/labels/{name} must be a one-dimensional dataset of at most {MAX_LABELS} rows")
        if kind is str:
            if h5py.check_string_dtype(ds.dtype) is None:
                raise fail(f"/labels/{name} must hold strings")
            labels[name] = np.array([_text(x) for x in ds[()]], dtype=object)
            continue
        data = _array(g, name, None, kind, fail, finite=False)
        if kind is np.floating and not np.all(np.isfinite(data)):
            raise fail(f"dataset /labels/{name} contains NaN or infinite values")
        labels[name] = data
    if len({len(v) for v in labels.values()}) != 1:
        raise fail("the datasets in /labels have different lengths")
    return labels


def _read_optimizer(f: h5py.File, shapes: dict[str, tuple[int, ...]], fail) -> dict[str, torch.Tensor] | None:
    """The optional /optimizer group: Adam's step and its two moments for every parameter."""
    g = _member(f, "optimizer")
    if g is None:
        return None
    if not isinstance(g, h5py.Group):
        raise fail("/optimizer must be a group")
    step = g.attrs.get("step")
    if step is None or not np.issubdtype(np.asarray(step).dtype, np.integer) or int(step) < 1:
        raise fail("/optimizer/step must be a positive integer")
    state = {"step": torch.tensor(float(step))}
    for moment in ("exp_avg", "exp_avg_sq"):
        for name, shape in shapes.items():
            state[f"{moment}.{name}"] = torch.from_numpy(_array(g, f"{moment}/{name.replace('.', '/')}", shape, np.floating, fail))
    return state


def _refuse_links(f: h5py.File, fail) -> None:
    """Only hard links: a soft or external link could point anywhere, other files included."""
    def not_hard(name: bytes, info) -> bytes | None:
        """The link's name if it is not a hard link (that stops the visit)."""
        if info.type != h5l.TYPE_HARD:
            return name
        # its target is described too (its whole header read), as visititems_links did
        # for the groups on each path: a damaged object fails here, read or not
        h5o.get_info(f.id, name)
        return None

    # the low-level visit: visititems_links makes a Python link object of each, ten times the cost
    found = f.id.links.visit(not_hard, info=True)
    if found is not None:
        raise fail(f"/{_text(found)} is a soft or external link; .splat files may hold only plain groups and datasets")


def _read_config(g: h5py.Group, fail) -> ModelConfig:
    limits = {"n_samples": MAX_SAMPLES, "n_events": MAX_EVENTS, "latent_dim": MAX_LATENT, "n_pitches": MAX_PITCHES}
    values = {}
    for key in CONFIG_KEYS:
        value = g.attrs.get(key)
        if value is None or not np.issubdtype(np.asarray(value).dtype, np.integer) or np.asarray(value).ndim:
            raise fail(f"/config is missing the integer attribute '{key}'")
        if int(value) > limits.get(key, MAX_SAMPLES):
            raise fail(f"/config/{key} = {int(value)} is larger than this reader accepts")
        if int(value) < 1:
            raise fail(f"/config/{key} = {int(value)} must be positive")
        values[key] = int(value)
    model = _text(g.attrs.get("model", "seed"))
    if model not in MODELS:
        raise fail(f"/config/model is '{model}', a model this audiosplat does not know (it knows {', '.join(MODELS)})")
    values["model"] = model
    waves = _text(g.attrs.get("waves", "naive"))  # optional (1.3.0): files before it used naive waves
    if waves not in WAVE_KINDS:
        raise fail(f"/config/waves is '{waves}', a wavetable this audiosplat does not know (it knows {', '.join(WAVE_KINDS)})")
    values["waves"] = waves
    pitch_bump = g.attrs.get("pitch_bump", 0.5)  # optional (1.4.0): files before it used 0.5
    if np.asarray(pitch_bump).dtype.kind not in "iuf" or np.asarray(pitch_bump).ndim:
        raise fail("/config/pitch_bump must be a number")
    values["pitch_bump"] = float(pitch_bump)
    pitches = _text(g.attrs.get("pitches", "grid"))  # optional (1.5.0): files before it used the grid
    if pitches not in PITCH_KINDS:
        raise fail(f"/config/pitches is '{pitches}', not one this audiosplat knows (it knows {', '.join(PITCH_KINDS)})")
    values["pitches"] = pitches
    total_samples = g.attrs.get("total_samples")  # optional (1.2.0): absent means one window
    if total_samples is not None:
        if not np.issubdtype(np.asarray(total_samples).dtype, np.integer) or np.asarray(total_samples).ndim:
            raise fail("/config/total_samples must be an integer")
        if int(total_samples) > MAX_TOTAL_SAMPLES:
            raise fail(f"/config/total_samples = {int(total_samples)} is larger than this reader accepts")
        values["total_samples"] = int(total_samples)
    event_samples = g.attrs.get("event_samples")  # optional: absent means n_samples (exact)
    if event_samples is not None:
        if not np.issubdtype(np.asarray(event_samples).dtype, np.integer) or np.asarray(event_samples).ndim:
            raise fail("/config/event_samples must be an integer")
        if int(event_samples) != values["n_samples"]:
            values["event_samples"] = int(event_samples)
    try:
        return ModelConfig(**values)
    except ValueError as exc:
        raise fail(f"invalid /config: {exc}") from None


def _read_rooms(g: h5py.Group, config: ModelConfig, fail) -> RoomBank:
    bank = _text(g.attrs.get("bank"))
    sha = _text(g.attrs.get("sha256"))
    names_ds = _member(g, "names")
    if not isinstance(names_ds, h5py.Dataset) or names_ds.ndim != 1 or not 1 <= names_ds.shape[0] <= MAX_ROOMS:
        raise fail("/rooms/names is missing or has a bad shape")
    names = tuple(_text(x) for x in names_ds[()])
    if "impulses" in g:
        if len(names) * config.n_samples > MAX_ROOM_SAMPLES:
            raise fail(f"/rooms/impulses would hold {len(names)} x {config.n_samples} samples, more than this reader accepts")
        impulses = _array(g, "impulses", (len(names), config.n_samples), np.floating, fail)
        rooms = RoomBank(bank or "user", names, torch.from_numpy(impulses), embedded=True)
    elif bank == PROCEDURAL_BANK:
        rooms = procedural_bank(config.n_samples, config.sample_rate)
        if rooms.room_names != names:
            raise fail(f"/rooms/names do not match the '{bank}' bank")
    else:
        raise fail(f"room bank '{bank}' is not embedded and not one this audiosplat can regenerate")
    if rooms.sha256 != sha:
        raise fail(f"room bank '{bank}' does not match its stored SHA-256 (the file or the bank changed)")
    return rooms


def _event_rows(ev: h5py.Group, config: ModelConfig, fail) -> int:
    """Rows of /events: E, or for a file with total_samples as many as it holds (1 ... MAX_EVENT_ROWS)."""
    if config.total_samples is None:
        return config.n_events
    ds = _member(ev, "onset_samples")
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or not 1 <= ds.shape[0] <= MAX_EVENT_ROWS:
        raise fail(f"/events/onset_samples must be a one-dimensional dataset of 1 to {MAX_EVENT_ROWS} rows")
    return int(ds.shape[0])


def _control_shapes(config: ModelConfig, e: int, n_rooms: int) -> dict[str, tuple[int, ...]]:
    wide = {"excitation_mix": 2, "resonance_cutoff_hz": 2, "reverb_mix": 2, "resonance": config.n_resonance_weights, "room_weights": n_rooms}
    names = [name for name in CONTROL_FIELDS if name != "pitch_hz" or config.pitches == "exact"]
    return {name: (e, wide[name]) if name in wide else (e,) for name in names}


def _check_controls(c: EventControls, sample_rate: int, fail) -> None:
    for name in ("gain", "envelope_width_s", "noise_width_hz", "resonance", "resonance_cutoff_hz", "room_weights", "reverb_mix", "excitation_mix"):
        if bool((getattr(c, name) < 0).any()):
            raise fail(f"/events/{name} has negative values")
    for name in ("decay_per_frame", "crossfade_per_frame"):
        value = getattr(c, name)
        if bool(((value <= 0) | (value > 1)).any()):
            raise fail(f"/events/{name} must lie in (0, 1]")
    if c.pitch_hz is not None and bool(((c.pitch_hz <= 0) | (c.pitch_hz >= sample_rate / 2)).any()):
        raise fail(f"/events/pitch_hz must lie between 0 and Nyquist ({sample_rate / 2:g} Hz)")


def _open(parent: h5py.Group, name: str) -> h5py.h5o.ObjectID | None:
    """h5py's low-level object at `name` under `parent`, or None. `parent.get` would do,
    but it asks the file for its mode on every call, which is most of what it costs."""
    try:
        return h5o.open(parent.id, name.encode("utf-8"))
    except KeyError:
        return None


def _member(parent: h5py.Group, name: str) -> h5py.Group | h5py.Dataset | None:
    """The group or dataset at `name` under `parent`, or None."""
    member = _open(parent, name)
    if isinstance(member, h5g.GroupID):
        return h5py.Group(member)
    return h5py.Dataset(member, readonly=True) if isinstance(member, h5d.DatasetID) else None


def _group(parent: h5py.Group, name: str, fail) -> h5py.Group:
    g = _member(parent, name)
    if not isinstance(g, h5py.Group):
        raise fail(f"missing group /{name}")
    return g


def _array(group: h5py.Group, name: str, shape, kind, fail, finite: bool = True) -> np.ndarray:
    where = f"{group.name.rstrip('/')}/{name}"
    # h5py's low-level calls: its Dataset object costs more than the reading (every
    # dataset of a .splat is small)
    ds = _open(group, name)
    if not isinstance(ds, h5d.DatasetID):
        raise fail(f"missing dataset {where}")
    creation = ds.get_create_plist()
    if creation.get_layout() == h5d.VIRTUAL or creation.get_external_count() > 0:
        raise fail(f"dataset {where} is a virtual dataset or stored in external files; .splat data must be in the file itself")
    dtype = ds.dtype
    if not np.issubdtype(dtype, kind):
        raise fail(f"dataset {where} has dtype {dtype}, expected {'integers' if kind is np.integer else 'floats'}")
    space = ds.get_space()
    if space.get_simple_extent_type() == h5s.NULL:
        raise fail(f"dataset {where} holds no data")
    stored = tuple(space.shape)
    if shape is not None and stored != tuple(shape):
        raise fail(f"dataset {where} has shape {stored}, expected {tuple(shape)}")
    if shape is None and np.prod(stored, dtype=np.float64) > 10**8:
        raise fail(f"dataset {where} is too large")
    data = np.empty(stored, dtype=dtype)
    ds.read(h5s.ALL, h5s.ALL, data)
    if kind is np.floating:
        data = np.asarray(data, dtype=np.float32 if dtype.itemsize <= 4 else np.float64)
        if finite and not np.all(np.isfinite(data)):
            raise fail(f"dataset {where} contains NaN or infinite values")
        if data.dtype != np.float32 and finite:
            data = data.astype(np.float32)
    return np.ascontiguousarray(data)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _plain(value):
    """An HDF5 attribute as a plain Python value (JSON strings decoded)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if value[:1] in "[{":
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _major(version: str) -> int | None:
    try:
        return int(version.split(".")[0])
    except (ValueError, IndexError):
        return None


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
