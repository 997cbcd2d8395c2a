"""Fitting many inputs: in this process (batched as `fit_clips` batches them, with progress
callbacks and Ctrl-C checkpoints), or in a pool of workers (J processes here, or Ray tasks on
a cluster) that each fit whole inputs and write them. Either way the reports come back to the
caller, one per input."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

from audiosplat.app.api import FitInput, default_batch_size
from audiosplat.app.batch import ItemReport, failed
from audiosplat.app.fit_group import FitSettings, fit_group, fit_in_worker
from audiosplat.app.outputs import is_complete_output
from audiosplat.core.errors import AudiosplatError
from audiosplat.fitting.fit import BatchStepCallback, resolve_device
from audiosplat.io.splatfile import Splat

Reporter = Callable[[ItemReport], None]


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
        from audiosplat.app.ray_runner import ray_cluster  # Ray only when asked for

        if todo:  # with every input skipped, no cluster is needed
            with ray_cluster(ray_address, settings) as pool:
                fit_in_pool(todo, pool, fail_fast=fail_fast, on_report=on_report, should_stop=should_stop)
        return
    if jobs > 1:
        with contextlib.closing(_Processes(settings, jobs)) as pool:
            fit_in_pool(todo, pool, fail_fast=fail_fast, on_report=on_report, should_stop=should_stop)
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
    """`jobs` worker processes on this machine, with cores // jobs torch threads each. A
    worker that dies (the out-of-memory killer, a signal) fails the inputs under way in the
    pool, and a fresh pool takes the rest."""

    settings: FitSettings
    jobs: int
    executor: ProcessPoolExecutor | None = None

    def slots(self) -> int:
        return self.jobs

    def submit(self, item: FitInput) -> Future:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"))
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        return self.executor.submit(fit_in_worker, item, self.settings, threads)

    def wait(self, handles: list[Future]) -> list[Future]:
        return list(wait(handles, timeout=0.2, return_when=FIRST_COMPLETED).done)

    def reports(self, handle: Future, item: FitInput) -> list[ItemReport]:
        try:
            return handle.result()
        except BrokenProcessPool:
            self.close()
            # Which worker died is not known: the survivors' inputs fail too, though one may have
            # been written just before the pool was torn down.
            died = AudiosplatError(f"{item.source}: a worker process died while it was being fitted (killed by a signal, e.g. the out-of-memory killer)")
            return [failed(item.source, item.output, died)]
        except Exception as exc:  # e.g. settings that do not travel to the worker
            return [failed(item.source, item.output, exc)]

    def interrupt(self, handles: list[Future]) -> None:
        pass  # Ctrl-C reaches the worker processes themselves (one process group)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
