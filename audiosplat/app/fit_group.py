"""Fitting a group of inputs in this process and writing their .splat files: what the CLI
runs for a batch, and what each `--jobs` worker or Ray task runs for its one input."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from audiosplat.app.api import FitInput, FitOutcome, check_output_path, fit_clips, fit_long_input, is_long, load_input_clip
from audiosplat.app.batch import INPUT_ERRORS, ItemReport, failed
from audiosplat.app.stop import stop_on_signal
from audiosplat.core.config import ModelConfig
from audiosplat.core.runtime import configure_for_fitting
from audiosplat.fitting.fit import BatchStepCallback, FitConfig
from audiosplat.io.splatfile import Splat


@dataclass(frozen=True)
class FitSettings:
    """What every input of a batch is fitted with (it travels to worker processes)."""

    config: ModelConfig
    fit_config: FitConfig
    rooms_dir: Path | None = None
    device: str = "auto"
    batch_size: int | None = None
    argv: tuple[str, ...] = ()


def fit_group(
    items: list[FitInput],
    settings: FitSettings,
    *,
    resume: Splat | None = None,
    on_step: BatchStepCallback | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[ItemReport]:
    """Fit `items` together and write their .splat files; an input that cannot be read (or
    whose output is refused) fails alone, before the others are fitted. Inputs longer than
    one window are fitted after the others, one by one, window by window."""
    reports: list[ItemReport | None] = [None] * len(items)
    ready, clips, long = [], [], []
    for k, item in enumerate(items):
        try:
            check_output_path(item.output, inputs=[item.source])
            if is_long(item, settings.config):
                long.append(k)
                continue
            clips.append(load_input_clip(item, settings.config))
            ready.append(k)
        except INPUT_ERRORS as exc:
            reports[k] = failed(item.source, item.output, exc)
    if ready:
        start = time.perf_counter()
        try:
            outcomes = fit_clips(
                [items[k] for k in ready], clips, config=settings.config, fit_config=settings.fit_config,
                rooms_dir=settings.rooms_dir, device=settings.device, batch_size=len(ready), argv=list(settings.argv),
                on_step=on_step, on_batch=on_batch, resume=None if resume is None else [resume], should_stop=should_stop,
            )
        except INPUT_ERRORS as exc:
            outcomes = []
            for k in ready:
                reports[k] = failed(items[k].source, items[k].output, exc, time.perf_counter() - start)
        for k, outcome in zip(ready, outcomes):
            reports[k] = _fitted(items[k], outcome)
    for k in long:
        if should_stop is not None and should_stop():
            break
        start = time.perf_counter()
        try:
            outcome = fit_long_input(
                items[k], config=settings.config, fit_config=settings.fit_config, rooms_dir=settings.rooms_dir,
                device=settings.device, argv=list(settings.argv), on_step=on_step, should_stop=should_stop,
                on_window=None if on_batch is None else (lambda window, count: on_batch(0, 1)),
            )
            reports[k] = _fitted(items[k], outcome)
        except INPUT_ERRORS as exc:
            reports[k] = failed(items[k].source, items[k].output, exc, time.perf_counter() - start)
    return [r for r in reports if r is not None]  # none left only when stopped before fitting


def _fitted(item: FitInput, outcome: FitOutcome) -> ItemReport:
    fit = outcome.splat.fit
    steps, partial = len(outcome.splat.loss_history), bool(fit.get("partial", False))
    error = f"interrupted after {steps} steps; wrote a resumable checkpoint (continue with --resume {item.output})" if partial else None
    return ItemReport(
        str(item.source), str(item.output), "failed" if partial else "done", error,
        steps=steps, final_loss=float(fit["final_loss"]), relative_l1=float(fit["relative_spectral_l1"]), seconds=float(fit["seconds"]),
    )


def fit_in_worker(item: FitInput, settings: FitSettings, threads: int) -> list[ItemReport]:
    """A worker's task: fit one input with `threads` torch threads and write it; Ctrl-C (or
    SIGTERM) there checkpoints it as in the parent."""
    torch.set_num_threads(threads)
    configure_for_fitting()
    with stop_on_signal() as stop_requested:
        return fit_group([item], settings, should_stop=stop_requested)
