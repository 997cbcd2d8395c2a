"""Fitting many inputs: in this process (batched as `fit_clips` batches them, with progress
callbacks and Ctrl-C checkpoints), or in a pool of workers (J processes here, or Ray tasks on
a cluster) that each fit whole inputs and write them. Either way the reports come back to the
caller, one per input."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
    ray_address: str | None = None,
    skip_existing: bool = False,
    fail_fast: bool = False,
    resume: Splat | None = None,
    on_step: BatchStepCallback | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Fit every input whose output is not already complete (with `skip_existing`) and
    report each. With `jobs` > 1, `jobs` processes fit one input at a time each, with
    cores // jobs torch threads; with `ray_address`, Ray tasks on that cluster do (see
    `ray_runner`). With `fail_fast`, no input is started after a failure; once
    `should_stop()` is true, none is started either (those under way stop at their next
    step and write checkpoints). `resume` continues the fit of a single input."""
    todo = []
    for item in inputs:
        if skip_existing and is_complete_output(item.output):
            on_report(ItemReport(str(item.source), str(item.output), "skipped"))
        else:
            todo.append(item)
    if ray_address is not None:
        from audiosplat.ray_runner import ray_cluster  # here: it imports this module, and Ray only when asked for

        if todo:  # with every input skipped, no cluster is needed
            with ray_cluster(ray_address, settings) as pool:
                fit_in_pool(todo, pool, fail_fast=fail_fast, on_report=on_report, should_stop=should_stop)
        return
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as executor:
            fit_in_pool(todo, _Processes(executor, settings, jobs), fail_fast=fail_fast, on_report=on_report, should_stop=should_stop)
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


class WorkerPool(Protocol):
    """Workers that each fit one input per task and write its output (`fit_in_worker`)."""

    def slots(self) -> int:
        """How many tasks to keep under way (asked again before each submission)."""

    def submit(self, item: FitInput) -> Hashable:
        """Start fitting `item`; returns the task's handle."""

    def wait(self, handles: list[Hashable]) -> list[Hashable]:
        """Those of `handles` that have finished, after waiting a fraction of a second for one."""

    def reports(self, handle: Hashable, item: FitInput) -> list[ItemReport]:
        """The reports of a finished task."""

    def interrupt(self, handles: list[Hashable]) -> None:
        """Ask the tasks under way to stop at their next step (they write checkpoints)."""


def fit_in_pool(
    items: list[FitInput], pool: WorkerPool, *, fail_fast: bool, on_report: Reporter, should_stop: Callable[[], bool],
) -> None:
    """Fit `items` in `pool`, reporting each as it finishes. Tasks are submitted only as slots
    free up, so stopping (a failure with `fail_fast`, or `should_stop()`) just submits no more;
    the tasks under way finish, or on `should_stop()` are interrupted and checkpoint."""
    queue, pending, interrupted = list(reversed(items)), {}, False
    while queue or pending:
        while queue and len(pending) < pool.slots():
            item = queue.pop()
            pending[pool.submit(item)] = item
        for handle in pool.wait(list(pending)):
            for report in pool.reports(handle, pending.pop(handle)):
                on_report(report)
                if fail_fast and report.status == "failed":
                    queue = []
        if should_stop() and not interrupted:
            queue, interrupted = [], True
            pool.interrupt(list(pending))


@dataclass
class _Processes:
    """`jobs` worker processes on this machine, with cores // jobs torch threads each."""

    executor: ProcessPoolExecutor
    settings: FitSettings
    jobs: int

    def slots(self) -> int:
        return self.jobs

    def submit(self, item: FitInput) -> Future:
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        return self.executor.submit(fit_in_worker, item, self.settings, threads)

    def wait(self, handles: list[Future]) -> list[Future]:
        return list(wait(handles, timeout=0.2, return_when=FIRST_COMPLETED).done)

    def reports(self, handle: Future, item: FitInput) -> list[ItemReport]:
        return handle.result()

    def interrupt(self, handles: list[Future]) -> None:
        pass  # Ctrl-C reaches the worker processes themselves (one process group)


def fit_in_worker(item: FitInput, settings: FitSettings, threads: int) -> list[ItemReport]:
    """A worker's task: fit one input with `threads` torch threads and write it; Ctrl-C (or
    SIGTERM) there checkpoints it as in the parent."""
    torch.set_num_threads(threads)
    configure_for_fitting()
    with stop_on_signal() as stop_requested:
        return fit_group([item], settings, should_stop=stop_requested)
