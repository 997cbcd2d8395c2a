"""Keyword-only library functions behind the CLI commands: files in, files out."""

from __future__ import annotations

import dataclasses
import functools
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
import torch

import audiosplat
from audiosplat.app.inputs import check_output_path
from audiosplat.core.config import MODEL_KINDS, MODELS, ModelConfig
from audiosplat.core.errors import AudioReadError, AudiosplatError
from audiosplat.eval.metrics import quality
from audiosplat.eval.visqol import visqol_if_installed
from audiosplat.fitting.fit import CONVERGE_EVERY, CONVERGE_FROM, BatchStepCallback, ClipStart, FitConfig, FitResult, StepCallback, fit_batch, resolve_device
from audiosplat.fitting.long_fit import LongFit, fit_windows
from audiosplat.fitting.loss import relative_spectral_l1
from audiosplat.io.audio import Clip, file_sha256, load_clip, samples_after
from audiosplat.io.room_folder import load_room_folder
from audiosplat.io.splatfile import Splat, read_splat, write_splat
from audiosplat.models.analysis import note_onsets_s, resolve_pitches
from audiosplat.ops.edits import apply_edits, merged_paths
from audiosplat.ops.perturb import perturb
from audiosplat.synth.colour import apply_colour, colour_levels_db, colour_track_db, track_anchors
from audiosplat.synth.long_render import render_windows
from audiosplat.synth.render import SynthAssets, render_clips, render_stems, used_waves
from audiosplat.synth.rooms import RoomBank, procedural_bank
from audiosplat.synth.threads import render_threads

# What the fitting functions fit by default: the default model, pitches as a fit chooses them
FIT_MODEL = ModelConfig(pitches=MODEL_KINDS[MODELS[0]].fit_pitches())


@dataclass(frozen=True)
class FitOutcome:
    """A written fit: its .splat, and the fit's result (a `LongFit` for a long input) and clip
    (the first window's, for a long input)."""

    splat: Splat
    result: FitResult | LongFit
    clip: Clip


def load_rooms(rooms_dir: Path | None, config: ModelConfig) -> RoomBank:
    """The shipped procedural bank, or the impulse responses in `rooms_dir`."""
    if rooms_dir is None:
        return procedural_bank(config.n_samples, config.sample_rate)
    try:
        return load_room_folder(Path(rooms_dir), config.n_samples, config.sample_rate)
    except (FileNotFoundError, ValueError) as exc:
        raise AudiosplatError(str(exc)) from None


def fit_audio_file(
    source: Path,
    output: Path,
    *,
    config: ModelConfig = FIT_MODEL,
    fit_config: FitConfig = FitConfig(),
    offset_s: float = 0.0,
    rooms_dir: Path | None = None,
    device: str = "auto",
    argv: list[str] | None = None,
    on_step: StepCallback | None = None,
) -> FitOutcome:
    """Fit `source` (any audio file) and write the events to `output` (.splat)."""
    callback = None if on_step is None else (lambda step, losses: on_step(step, losses[0]))
    return fit_audio_files(
        [source], [output], config=config, fit_config=fit_config, offset_s=offset_s,
        rooms_dir=rooms_dir, device=device, batch_size=1, argv=argv, on_step=callback,
    )[0]


@dataclass(frozen=True)
class FitInput:
    """One input to fit: its source, where in it to start, where its .splat goes, and what
    to store besides (extra provenance; note labels for the optional /labels group).
    `duration_s`: None fits one window (N samples) from `offset_s`; a number of seconds
    (math.inf: to the end of the file) fits that much, as a long file (`fit_long_input`)
    when it is more than one window."""

    source: Path
    output: Path
    offset_s: float = 0.0
    provenance: dict = dataclasses.field(default_factory=dict)
    labels: dict[str, np.ndarray] | None = None
    duration_s: float | None = None


def fit_audio_files(
    sources: list[Path],
    outputs: list[Path],
    *,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    **settings,
) -> list[FitOutcome]:
    """Fit each source (any audio file) and write its events to the matching output; see
    `fit_inputs` for the settings."""
    if len(sources) != len(outputs):
        raise ValueError("give one output per input")
    return fit_inputs([FitInput(Path(s), Path(o), offset_s, duration_s=duration_s) for s, o in zip(sources, outputs)], **settings)


def fit_inputs(inputs: list[FitInput], *, config: ModelConfig = FIT_MODEL, **settings) -> list[FitOutcome]:
    """Fit each input and write its .splat: inputs of one window together (`fit_clips`),
    then longer ones one by one (`fit_long_input`). Every input is read and every output
    checked before any fitting starts; see `fit_clips` for the settings."""
    for item in inputs:
        check_output_path(item.output, inputs=[i.source for i in inputs])
    long = [is_long(item, config) for item in inputs]
    short = [item for item, is_long_item in zip(inputs, long) if not is_long_item]
    clips = [load_input_clip(item, config) for item in short]
    outcomes = fit_clips(short, clips, config=config, **settings)
    long_settings = {k: v for k, v in settings.items() if k in ("fit_config", "rooms_dir", "device", "argv", "on_step", "should_stop")}
    return outcomes + [fit_long_input(item, config=config, **long_settings) for item, is_long_item in zip(inputs, long) if is_long_item]


def input_samples(item: FitInput, config: ModelConfig) -> int:
    """Samples at the config's rate to fit from the input's offset: to the end of its file,
    or to offset + duration_s when that comes first (one window when duration_s is None)."""
    if item.duration_s is None:
        return config.n_samples
    available = samples_after(item.source, sample_rate=config.sample_rate, offset_s=item.offset_s)
    return available if math.isinf(item.duration_s) else min(available, round(item.duration_s * config.sample_rate))


def is_long(item: FitInput, config: ModelConfig) -> bool:
    """Whether the input asks for more than one window (then it is fitted window by window)."""
    return input_samples(item, config) > config.n_samples


def fit_long_input(
    item: FitInput,
    *,
    config: ModelConfig = FIT_MODEL,
    fit_config: FitConfig = FitConfig(),
    rooms_dir: Path | None = None,
    device: str = "auto",
    argv: list[str] | None = None,
    on_step: BatchStepCallback | None = None,
    on_window: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FitOutcome:
    """Fit an input longer than one window as consecutive windows against the carried tail
    of the earlier ones (`long_fit.fit_windows`) and write one .splat whose events have onsets
    from the input's offset and whose `total_samples` is the length fitted. The audio is
    divided by its peak over all windows (read twice, a window at a time, never whole)."""
    total = input_samples(item, config)
    long_config = dataclasses.replace(config, total_samples=total, noise_anchors=0, noise_bands=0)  # no bed yet: one per window is to come
    n, rate = config.n_samples, config.sample_rate

    def raw_window(k: int) -> tuple[np.ndarray, Clip]:
        clip = load_clip(item.source, n_samples=n, sample_rate=rate, offset_s=item.offset_s + k * n / rate, normalise=False)
        samples = clip.samples.copy()
        samples[max(0, total - k * n) :] = 0.0  # past the duration asked for
        return samples, clip

    peak = max(float(np.max(np.abs(raw_window(k)[0]))) for k in range(long_config.n_windows))
    if peak == 0.0:
        raise AudioReadError(f"{item.source}: the audio from {item.offset_s:g} s is silent; there is nothing to fit")
    torch_device = resolve_device(device)
    rooms = load_rooms(rooms_dir, config)
    result = fit_windows(
        lambda k: raw_window(k)[0] / peak, long_config, fit_config, rooms, torch_device,
        on_window=on_window, on_step=on_step, should_stop=should_stop,
    )
    clip = dataclasses.replace(raw_window(0)[1], offset_s=float(item.offset_s), peak=peak)
    windows = result.windows
    splat = Splat(
        config=result.config,
        controls=result.controls,
        latents=result.latents,
        noise_seeds=result.noise_seeds,
        parameters=result.parameters,
        rooms=rooms,
        fit={
            **_fit_attributes(fit_config, config, torch_device),
            "final_loss": float(np.mean([w.final_loss for w in windows])),
            "relative_spectral_l1": float(np.mean([w.relative_l1 for w in windows])),
            "skipped_steps": int(np.isnan(result.loss_history).sum()),
            "seconds": result.seconds,
            "steps": len(result.loss_history),
            "partial": False,
            "windows": len(windows),
            "window_first_loss": [w.first_loss for w in windows],
            "window_final_loss": [w.final_loss for w in windows],
            "window_relative_spectral_l1": [w.relative_l1 for w in windows],
            **_coarse_attributes(fit_config, config, result.coarse_steps),
        },
        loss_history=result.loss_history,
        onsets_s=np.asarray([
            k * n / rate + t
            for k in range(long_config.n_windows)
            for t in note_onsets_s(torch.from_numpy(raw_window(k)[0] / peak), config)
            if k == 0 or t > 0  # a later window's frame 0 is where it was cut, not an onset
        ]),
        labels=item.labels,
        provenance=_provenance(item, clip, fit_config, torch_device, argv),
    )
    write_splat(item.output, splat)
    return FitOutcome(splat=splat, result=result, clip=clip)


def load_input_clip(item: FitInput, config: ModelConfig) -> Clip:
    return load_clip(item.source, n_samples=config.n_samples, sample_rate=config.sample_rate, offset_s=item.offset_s)


def fit_clips(
    inputs: list[FitInput],
    clips: list[Clip],
    *,
    config: ModelConfig = FIT_MODEL,
    fit_config: FitConfig = FitConfig(),
    rooms_dir: Path | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    argv: list[str] | None = None,
    on_step: BatchStepCallback | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    resume: list[Splat] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[FitOutcome]:
    """Fit the clips already read for `inputs` and write each input's .splat.

    Clips are fitted `batch_size` at a time in one batched fit (default: `default_batch_size`
    for the device); each result is what fitting the clip alone gives. `on_batch(first,
    count)` is called before each batch, `on_step(step, losses)` after each of its steps.

    `resume` continues earlier fits, one .splat per input (see `resume_settings`): their
    parameters, noise seeds and Adam state are the start, `fit_config.steps` more steps are taken, and
    the written file's loss history and step count include the earlier ones.

    When `should_stop()` turns true, the batch in progress stops between steps and its
    clips are written as resumable checkpoints (`/fit@partial`, `/fit@steps` = steps done);
    later batches are not started.
    """
    if resume is not None and len(resume) != len(inputs):
        raise ValueError("give one .splat to resume per input")
    torch_device = resolve_device(device)
    rooms = load_rooms(rooms_dir, config) if resume is None else _shared_rooms(resume)
    size = batch_size or default_batch_size(config, torch_device)
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    outcomes = []
    for first in range(0, len(clips), size):
        if should_stop is not None and should_stop():
            break
        batch = clips[first : first + size]
        if on_batch is not None:
            on_batch(first, len(batch))
        earlier = None if resume is None else resume[first : first + size]
        # "auto" pitches may choose differently per clip: each kind is its own batch
        configs = [resolve_pitches(config, [torch.from_numpy(clip.samples)]) for clip in batch]
        for kind in dict.fromkeys(configs):
            ks = [k for k, c in enumerate(configs) if c == kind]
            targets = torch.from_numpy(np.stack([batch[k].samples for k in ks]))
            start = None if earlier is None else [ClipStart(earlier[k].parameters, earlier[k].noise_seeds, earlier[k].optimizer, earlier[k].noise_bed) for k in ks]
            results = fit_batch(targets, kind, fit_config, rooms, torch_device, on_step=on_step, start=start, should_stop=should_stop)
            for k, result in zip(ks, results):
                outcomes.append(_write_fit(inputs[first + k], batch[k], kind, result, None if earlier is None else earlier[k], fit_config, rooms, torch_device, argv))
    return outcomes


def _write_fit(
    item: FitInput, clip: Clip, config: ModelConfig, result: FitResult, earlier: Splat | None, fit_config: FitConfig,
    rooms: RoomBank, device: torch.device, argv: list[str] | None,
) -> FitOutcome:
    """Write one clip's fit (continuing `earlier`'s, if resumed) to its .splat."""
    if earlier is not None:
        result = _continued(earlier, result)
    splat = _splat_from_fit(result, clip, item, config, fit_config, rooms, device, argv)
    splat.fit["steps"] = len(result.loss_history)
    splat.fit["partial"] = result.partial
    write_splat(item.output, splat)
    return FitOutcome(splat=splat, result=result, clip=clip)


def resume_settings(splat: Splat, path: Path, source: Path, steps: int, lr: float | None, converge: float | None = None) -> tuple[ModelConfig, FitConfig]:
    """The sizes, model, seed, loss and (unless `lr` is given) learning rate of a fit to
    continue, from its .splat; refuses a file that was fitted to another source or whose
    controls were edited since."""
    stored_sha = splat.provenance.get("source_sha256")
    if stored_sha is not None and Path(source).exists() and stored_sha != file_sha256(Path(source)):
        raise AudiosplatError(f"{path}: was fitted to another file than {source}; give the same source to resume")
    if not splat.latents_match_controls:
        raise AudiosplatError(f"{path}: its events were edited, so its parameters no longer describe them; cannot resume")
    if splat.config.total_samples is not None:
        raise AudiosplatError(f"{path}: holds {splat.config.n_windows} windows of a long fit, which cannot be resumed; fit it again")
    stored_lr = splat.fit.get("lr")
    lr = lr if lr is not None else (float(stored_lr) if isinstance(stored_lr, (int, float)) and stored_lr > 0 else None)
    fit_config = FitConfig(steps=steps, lr=lr, seed=int(splat.fit.get("seed", 0)), loss=str(splat.fit.get("loss", "multiband")), converge=converge)
    return splat.config, fit_config


def _shared_rooms(splats: list[Splat]) -> RoomBank:
    """The room bank of the fits to resume, which must all use the same one."""
    if len({s.rooms.sha256 for s in splats}) > 1:
        raise AudiosplatError("the .splat files to resume use different rooms; resume them separately")
    return splats[0].rooms


def _continued(earlier: Splat, result: FitResult) -> FitResult:
    """A continued fit's result with the earlier steps' losses and skips in front."""
    return dataclasses.replace(
        result,
        loss_history=np.concatenate([np.asarray(earlier.loss_history, dtype=np.float64), result.loss_history]),
        skipped_steps=int(earlier.fit.get("skipped_steps", 0)) + result.skipped_steps,
    )


def default_batch_size(config: ModelConfig, device: torch.device) -> int:
    """Clips per batched fit: 1 on the CPU (batching saves nothing there); on a GPU, as
    many as fit in 60% of its free memory at about 1.3 GiB per clip of N = 65536 samples
    and 64 events (scaled by the event buffer and the events)."""
    if device.type != "cuda":
        return 1
    free_bytes, _ = torch.cuda.mem_get_info(device)
    per_clip = 1.3 * 2**30 * (config.n_events / 64) * (config.event_length / 2**16)
    return max(1, int(0.6 * free_bytes / per_clip))


def _splat_from_fit(
    result: FitResult, clip: Clip, item: FitInput, config: ModelConfig, fit_config: FitConfig,
    rooms: RoomBank, device: torch.device, argv: list[str] | None,
) -> Splat:
    target, render = torch.from_numpy(clip.samples), result.render.detach().cpu()
    # what the fit leaves too quiet (`synth.colour`); a fit without a bed keeps method.md's render
    colour = colour_levels_db(target, render, config.sample_rate) if result.noise_bed is not None else None
    splat = Splat(
        config=result.model.config,  # its event count is the events the fit kept
        controls=result.controls.map(lambda t: t.detach().cpu()),
        latents=result.latents.detach().cpu(),
        noise_seeds=result.noise_seeds,
        parameters={k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        rooms=rooms,
        fit={
            **_fit_attributes(fit_config, config, device),
            "final_loss": result.final_loss,
            "skipped_steps": result.skipped_steps,
            "seconds": result.seconds,
            "converged": result.converged,
            **_coarse_attributes(fit_config, config, result.coarse_steps),
        },
        loss_history=result.loss_history,
        onsets_s=np.asarray(note_onsets_s(target, config)),
        optimizer=result.optimizer_state or None,
        labels=item.labels,
        provenance=_provenance(item, clip, fit_config, device, argv),
        noise_bed=result.noise_bed,
        colour_db=colour,
    )
    track = None
    if colour is not None:  # the colour's course over time, as fine as the file's other numbers leave room for
        anchors = track_anchors(splat.stored_numbers(), config.n_samples)
        track = colour_track_db(target, apply_colour(render, colour, config.sample_rate), config.sample_rate, n_anchors=anchors)
        render = apply_colour(render, colour, config.sample_rate, track)
    # the quality of the file's render, its colour and track included
    return dataclasses.replace(splat, colour_track_db=track, fit={**splat.fit, "relative_spectral_l1": relative_spectral_l1(target, render)})


def _fit_attributes(fit_config: FitConfig, config: ModelConfig, device: torch.device) -> dict:
    """The /fit attributes that say how a fit was set up."""
    return {
        **{k: v for k, v in fit_config.to_dict().items() if k not in ("seconds", "converge", "coarse_samples", "fine_steps")},
        "lr": fit_config.learning_rate(config.model),
        "loss": fit_config.loss_for(config.model),
        **({} if fit_config.seconds is None else {"seconds_budget": fit_config.seconds}),
        **({} if fit_config.converge is None else {"converge": fit_config.converge, "converge_every": CONVERGE_EVERY, "converge_from": CONVERGE_FROM}),
        "device": str(device),
    }


def _coarse_attributes(fit_config: FitConfig, config: ModelConfig, coarse_steps: int) -> dict:
    """The /fit attributes of a fit's coarse phase (formats §11): none without one."""
    if fit_config.coarse_for(config) is None:
        return {}
    return {"coarse_samples": fit_config.coarse_samples, "fine_steps": fit_config.fine_steps, "coarse_steps": coarse_steps}


def _provenance(item: FitInput, clip: Clip, fit_config: FitConfig, device: torch.device, argv: list[str] | None) -> dict:
    return {
        "source_name": item.source.name,
        "source_sha256": _source_sha256(item.source.absolute(), item.source.stat().st_mtime_ns),
        "source_sample_rate": clip.source_rate,
        "source_frames": clip.source_frames,
        "source_channels": clip.source_channels,
        "offset_s": clip.offset_s,
        "source_peak": clip.peak,
        "argv": list(argv or []),
        "versions": library_versions(),
        "device": device_name(device),
        "seed": fit_config.seed,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **item.provenance,
    }


def perturb_splat_file(
    source: Path,
    output: Path,
    *,
    amount: float = 0.5,
    seed: int = 0,
    target: str | None = None,
    onset_jitter_s: float = 0.0,
    variants: int = 1,
    argv: list[str] | None = None,
) -> list[tuple[Path, Splat]]:
    """Write `variants` perturbations of a .splat (seeds seed, seed+1, ...): to `output`
    itself for one variant, else to <output stem>-001.splat, -002, ... beside it. Each
    records its parent's SHA-256 and the operation in its provenance's `history`."""
    source, output = Path(source), Path(output)
    if variants < 1:
        raise ValueError(f"variants must be >= 1, got {variants}")
    splat = read_splat(source)
    parent_sha = file_sha256(source)
    outputs = perturb_outputs(output, variants)
    for path in outputs:
        check_output_path(path, inputs=[source])
    written = []
    for k, path in enumerate(outputs):
        generator = torch.Generator(device="cpu").manual_seed(seed + k)
        try:
            varied = perturb(splat, amount=amount, generator=generator, target=target, onset_jitter_s=onset_jitter_s)
        except AudiosplatError as exc:
            raise AudiosplatError(f"{source}: {exc}") from None
        step = {
            "op": "perturb", "parent_sha256": parent_sha, "amount": amount, "target": target, "seed": seed + k,
            "onset_jitter_s": onset_jitter_s, "argv": list(argv or []),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        varied.provenance = _with_history(splat.provenance, step)
        write_splat(path, varied)
        written.append((path, varied))
    return written


@functools.lru_cache(maxsize=64)
def _source_sha256(path: Path, mtime_ns: int) -> str:
    """A source's SHA-256, hashed once per process (a recording cut into many segments is
    fitted many times); the modification time keys out a file changed since."""
    return file_sha256(path)


def perturb_outputs(output: Path, variants: int) -> list[Path]:
    """Where `perturb_splat_file` writes: `output` for one variant, else <stem>-001.splat, ..."""
    if variants == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{k + 1:03d}{output.suffix or '.splat'}") for k in range(variants)]


def edit_splat_file(source: Path, output: Path, operations: list[tuple[str, str]], *, argv: list[str] | None = None) -> Splat:
    """Apply edits (see `edits.apply_edits`) to a .splat and write the result; the input is
    never modified. The output records its parent's SHA-256 and the edits in `history`, and
    with "merge" edits the SHA-256 of each merged file (`merged_sha256`, in order)."""
    source, output = Path(source), Path(output)
    others = {name: Path(name) for name in merged_paths(operations)}
    check_output_path(output, inputs=[source, *others.values()])
    splat = read_splat(source)
    edited = apply_edits(splat, operations, {name: read_splat(path) for name, path in others.items()})
    step = {
        "op": "edit", "parent_sha256": file_sha256(source), "operations": [list(o) for o in operations],
        "argv": list(argv or []), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **({"merged_sha256": [file_sha256(path) for path in others.values()]} if others else {}),
    }
    edited.provenance = _with_history(splat.provenance, step)
    write_splat(output, edited)
    return edited


def render_splat(splat: Splat, *, device: str = "cpu", stems: bool = False) -> np.ndarray:
    """Audio of the stored events and bed, through the file's colour: (T,) float32, T = N
    unless the file has total_samples; or (E, N) with `stems` (files of one window only;
    each stem coloured, so that they and `render_noise_bed` sum to the render). A file with
    total_samples is rendered a window at a time (`long_render`), in memory bounded by the
    window besides the output. Only the waves the events use are made (`synth.used_waves`)."""
    cfg = splat.config
    torch_device = resolve_device(device)
    if stems and cfg.total_length > cfg.n_samples:
        raise AudiosplatError(f"stems are rendered for files of one window; this one is {cfg.duration_s:.2f} s long")
    with torch.inference_mode():
        controls, wave_rows = used_waves(splat.controls)
        if cfg.total_samples is not None and not stems:
            assets = SynthAssets.build(cfg, torch.zeros(0, dtype=torch.int64), splat.rooms, torch_device, wave_rows)
            audio = torch.cat([w.cpu() for w in render_windows(controls, splat.noise_seeds, assets)])
        else:
            assets = SynthAssets.build(cfg, splat.noise_seeds, splat.rooms, torch_device, wave_rows)
            controls = controls.map(lambda t: t.to(torch_device))
            audio = render_stems(controls, assets) if stems else render_clips(controls, assets)[0]
        bed = None if stems or splat.noise_bed is None else _bed_audio(splat, torch_device)
        if bed is not None:  # the bed spans the first window (a merge keeps the first file's)
            audio[..., : bed.shape[-1]] += bed.to(audio.device)
        return _coloured(splat, audio).cpu().numpy().astype(np.float32)


def render_noise_bed(splat: Splat, *, device: str = "cpu") -> np.ndarray | None:
    """Audio of the file's noise bed through its colour, (N,) float32, or None for a file
    without a bed."""
    if splat.noise_bed is None:
        return None
    return _coloured(splat, _bed_audio(splat, resolve_device(device))).cpu().numpy().astype(np.float32)


def _bed_audio(splat: Splat, device: torch.device) -> torch.Tensor:
    """The bed as it sounds before the colour: (N,) float32 on `device`."""
    cfg = splat.config
    with torch.inference_mode(), render_threads():
        return splat.noise_bed.render(cfg.n_samples, cfg.sample_rate, device)


def _coloured(splat: Splat, audio: torch.Tensor) -> torch.Tensor:
    """`audio` (..., T) through the file's colour (`synth.colour`) over its first N samples,
    as the bed spans them (formats §13.8; merges and long fits write none); as it is without one."""
    if splat.colour_db is None:
        return audio
    n = splat.config.n_samples
    with torch.inference_mode(), render_threads():
        track = None if splat.colour_track_db is None else splat.colour_track_db.to(audio.device)
        first = apply_colour(audio[..., :n], splat.colour_db.to(audio.device), splat.config.sample_rate, track)
        return first if audio.shape[-1] == n else torch.cat([first, audio[..., n:]], dim=-1)


def quality_against(splat: Splat, source: Path, *, device: str = "cpu") -> dict[str, float]:
    """Quality of the file's render against a source clip, cut as the fit cut it (the
    stored offset, length and rate; peak-normalised): `metrics.quality`'s figures, and
    ViSQOL's MOS-LQO as "visqol" when the eval extra is installed."""
    cfg = splat.config
    target = torch.from_numpy(_source_clip(splat, Path(source)).samples)
    render = torch.from_numpy(render_splat(splat, device=device))
    return {**quality(target, render, cfg.sample_rate), **visqol_if_installed(target, render, cfg.sample_rate)}


def draw_splat_timeline(splat: Splat, output: Path, *, against: Path | None = None, device: str = "cpu") -> None:
    """Draw the timeline PNG of a .splat; with `against`, the source's and the render's
    spectrograms above it."""
    from audiosplat.eval.plot import draw_timeline

    check_output_path(Path(output), inputs=[] if against is None else [Path(against)])
    stems = render_splat(splat, device=device, stems=True)
    render = source = None
    if against is not None:
        source = _source_clip(splat, Path(against)).samples
        render = stems.sum(axis=0) + (render_noise_bed(splat, device=device) if splat.noise_bed is not None else 0.0)
    draw_timeline(Path(output), splat, stems, render=render, source=source)


def library_versions() -> dict[str, str]:
    return {
        "audiosplat": audiosplat.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "h5py": h5py.__version__,
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def _source_clip(splat: Splat, source: Path) -> Clip:
    """The source's clip cut as the fit cut it: the stored offset, length (the whole length
    of a long file) and rate."""
    cfg = splat.config
    offset_s = float(splat.provenance.get("offset_s", 0.0))
    return load_clip(source, n_samples=cfg.total_length, sample_rate=cfg.sample_rate, offset_s=offset_s)


def _with_history(provenance: dict, step: dict) -> dict:
    """Provenance of a derived file: its parent's, with one more step in `history`."""
    return {**provenance, "history": [*provenance.get("history", []), step]}


__all__ = [
    "FitOutcome",
    "FitInput",
    "fit_audio_file",
    "fit_audio_files",
    "fit_inputs",
    "fit_clips",
    "fit_long_input",
    "is_long",
    "load_input_clip",
    "perturb_outputs",
    "perturb_splat_file",
    "edit_splat_file",
    "render_splat",
    "quality_against",
    "draw_splat_timeline",
    "check_output_path",
    "load_rooms",
]
