"""Keyword-only library functions behind the CLI commands: files in, files out."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
import torch

import audiosplat
from audiosplat.audio import Clip, file_sha256, load_clip
from audiosplat.config import ModelConfig
from audiosplat.errors import AudiosplatError
from audiosplat.fit import FitConfig, FitResult, StepCallback, fit, resolve_device
from audiosplat.rooms import RoomBank, load_room_folder, procedural_bank
from audiosplat.splatfile import Splat, read_splat, write_splat
from audiosplat.synth import SynthAssets, render_clip, render_stems


@dataclass(frozen=True)
class FitOutcome:
    splat: Splat
    result: FitResult
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
    config: ModelConfig = ModelConfig(),
    fit_config: FitConfig = FitConfig(),
    offset_s: float = 0.0,
    rooms_dir: Path | None = None,
    device: str = "auto",
    argv: list[str] | None = None,
    on_step: StepCallback | None = None,
) -> FitOutcome:
    """Fit `source` (any audio file) and write the events to `output` (.splat)."""
    source, output = Path(source), Path(output)
    check_output_path(output, inputs=[source])
    torch_device = resolve_device(device)
    clip = load_clip(source, n_samples=config.n_samples, sample_rate=config.sample_rate, offset_s=offset_s)
    rooms = load_rooms(rooms_dir, config)
    result = fit(torch.from_numpy(clip.samples), config, fit_config, rooms, torch_device, on_step=on_step)
    splat = Splat(
        config=config,
        controls=result.controls.map(lambda t: t.cpu()),
        latents=result.latents.cpu(),
        noise_seeds=result.noise_seeds,
        parameters={k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        rooms=rooms,
        fit={
            **fit_config.to_dict(),
            "final_loss": result.final_loss,
            "relative_spectral_l1": result.relative_l1,
            "skipped_steps": result.skipped_steps,
            "seconds": result.seconds,
            "device": str(torch_device),
        },
        loss_history=result.loss_history,
        provenance={
            "source_name": source.name,
            "source_sha256": file_sha256(source),
            "source_sample_rate": clip.source_rate,
            "source_frames": clip.source_frames,
            "source_channels": clip.source_channels,
            "offset_s": clip.offset_s,
            "source_peak": clip.peak,
            "argv": list(argv or []),
            "versions": library_versions(),
            "device": device_name(torch_device),
            "seed": fit_config.seed,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    write_splat(output, splat)
    return FitOutcome(splat=splat, result=result, clip=clip)


def render_splat(splat: Splat, *, device: str = "cpu", stems: bool = False) -> np.ndarray:
    """Audio of the stored events: (N,) float32, or (E, N) with `stems`."""
    torch_device = resolve_device(device)
    assets = SynthAssets.build(splat.config, splat.noise_seeds, splat.rooms, torch_device)
    controls = splat.controls.map(lambda t: t.to(torch_device))
    with torch.no_grad():
        audio = render_stems(controls, assets) if stems else render_clip(controls, assets)
    return audio.cpu().numpy().astype(np.float32)


def check_output_path(output: Path, *, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite an input or whose folder does not exist."""
    output = Path(output)
    for source in inputs:
        if Path(source).exists() and output.exists() and output.resolve() == Path(source).resolve():
            raise AudiosplatError(f"{output}: output is the same file as the input; choose another path")
    if output.is_dir():
        raise AudiosplatError(f"{output}: is a directory; give a file path for the output")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise AudiosplatError(f"{output}: the output folder {parent} does not exist")


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


def open_splat(path: Path) -> Splat:
    return read_splat(Path(path))


__all__ = ["FitOutcome", "fit_audio_file", "render_splat", "open_splat", "check_output_path", "load_rooms"]
