"""Fitting many inputs: in this process (batched as `fit_clips` batches them, with progress
callbacks and Ctrl-C checkpoints), or in J worker processes that each fit whole inputs and
write them. Either way the reports come back to the caller, one per input."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import torch

from audiosplat.api import FitInput, FitOutcome, check_output_path, default_batch_size, fit_clips, fit_long_input, is_long, load_input_clip
from audiosplat.batch import INPUT_ERRORS, ItemReport, failed, is_complete_output
from audiosplat.config import ModelConfig
from audiosplat.fit import BatchStepCallback, FitConfig, resolve_device
from audiosplat.runtime import configure_for_fitting
from audiosplat.splatfile import Splat
from audiosplat.stop import stop_on_signal

Reporter = Callable[[ItemReport], None]


@dataclass(frozen=True)
class FitSettings:
    """What every input of a batch is fitted with (it travels to worker processes)."""

    config: ModelConfig
    fit_config: FitConfig
    rooms_dir: Path | None = None
    device: str = "auto"
    batch_size: int | None = None
    argv: tuple[str, ...] = ()


def run_fits(
    inputs: list[FitInput],
    settings: FitSettings,
    *,
    on_report: Reporter,
    jobs: int = 1,
    skip_existing: bool = False,
    fail_fast: bool = False,
    resume: Splat | None = None,
    on_step: BatchStepCallback | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Fit every input whose output is not already complete (with `skip_existing`) and
    report each. With `jobs` > 1, `jobs` processes fit one input at a time each, with
    cores // jobs torch threads. With `fail_fast`, no input is started after a failure;
    once `should_stop()` is true, none is started either (those under way stop at their
    next step and write checkpoints). `resume` continues the fit of a single input."""
    todo = []
    for item in inputs:
        if skip_existing and is_complete_output(item.output):
            on_report(ItemReport(str(item.source), str(item.output), "skipped"))
        else:
            todo.append(item)
    if jobs > 1:
        _fit_in_workers(todo, settings, jobs, fail_fast=fail_fast, on_report=on_report, should_stop=should_stop)
        return
    size = settings.batch_size or default_batch_size(settings.config, resolve_device(settings.device))
    for first in range(0, len(todo), size):
        if should_stop():
            return
        offset_batch = None if on_batch is None else (lambda k, n, first=first: on_batch(first + k, n))
        reports = fit_group(
            todo[first : first + size], settings, resume=resume, on_step=on_step, on_batch=offset_batch, should_stop=should_stop,
        )
        for report in reports:
            on_report(report)
        if fail_fast and any(r.status == "failed" for r in reports):
            return


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


def _fit_in_workers(
    items: list[FitInput], settings: FitSettings, jobs: int, *, fail_fast: bool, on_report: Reporter, should_stop: Callable[[], bool],
) -> None:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(_fit_in_worker, item, settings, threads) for item in items}
        stopping = False
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                for report in future.result():
                    on_report(report)
                    stopping |= fail_fast and report.status == "failed"
            if stopping or should_stop():
                # inputs not started yet are dropped; those under way finish (or checkpoint)
                pending = {f for f in pending if not f.cancel()}


def _fit_in_worker(item: FitInput, settings: FitSettings, threads: int) -> list[ItemReport]:
    """A worker process's task: fit one input with `threads` torch threads; Ctrl-C there
    checkpoints it as in the parent."""
    torch.set_num_threads(threads)
    configure_for_fitting()
    with stop_on_signal() as stop_requested:
        return fit_group([item], settings, should_stop=stop_requested)
