"""Fitting inputs as Ray tasks (`fit --ray`): one input per task, written by the node that
fits it exactly as a `--jobs` worker writes it, so inputs and outputs must be at the same
paths on every node (shared storage). Ray is optional (audiosplat[ray]) and imported only
here, only when asked for."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from audiosplat.app.api import FitInput
from audiosplat.app.batch import ItemReport, failed
from audiosplat.app.fit_group import FitSettings, fit_in_worker
from audiosplat.core.errors import AudiosplatError


@contextlib.contextmanager
def ray_cluster(address: str, settings: FitSettings) -> Iterator[RayTasks]:
    """Connect to the Ray cluster at `address` and yield it as a worker pool: `auto` joins
    the one running on this machine (RAY_ADDRESS, else the latest started here) or starts a
    local one, `local` always starts a local one, HOST:PORT joins that head node. A Ray
    already initialised in this process is used as it is; otherwise this process
    disconnects at the end (stopping a cluster it started)."""
    try:
        import ray
    except ImportError:
        raise AudiosplatError("--ray needs Ray, which is not installed: pip install 'audiosplat[ray]'") from None
    connect = not ray.is_initialized()
    if connect:
        try:
            # the tasks' output and Ray's own start-up messages stay off the CLI's stderr
            ray.init(address=None if address == "auto" else address, log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
        except ConnectionError as exc:
            raise AudiosplatError(f"--ray {address}: no Ray cluster could be reached ({exc})") from None
        # the driver prints raylet errors ("a worker died ...") to stdout, where the outputs'
        # paths go; our reports say it in one line. A private switch (ray.util.rpdb uses it).
        ray._private.worker._worker_logs_enabled = False
    try:
        yield RayTasks(ray, settings)
    finally:
        if connect:
            ray.shutdown()


@dataclass
class RayTasks:
    """A `WorkerPool` of Ray tasks with one GPU each when this machine has CUDA and the device
    is not cpu, else one CPU each (one torch thread). A task whose worker or node is lost is
    not retried: its input is reported failed, for a later run with --skip-existing."""

    ray: Any
    settings: FitSettings

    def __post_init__(self) -> None:
        gpu = self.settings.device != "cpu" and torch.cuda.is_available()
        self.resource = "GPU" if gpu else "CPU"
        self.task = self.ray.remote(max_retries=0, **({"num_gpus": 1} if gpu else {"num_cpus": 1}))(fit_in_worker)

    def slots(self) -> int:
        # asked before each submission, so nodes that join or leave change it as the run goes
        return max(1, int(self.ray.cluster_resources().get(self.resource, 0)))

    def submit(self, item: FitInput) -> Any:
        return self.task.remote(item, self.settings, 1)

    def wait(self, handles: list) -> list:
        return self.ray.wait(handles, num_returns=1, timeout=0.2)[0]

    def reports(self, handle: Any, item: FitInput) -> list[ItemReport]:
        errors = self.ray.exceptions
        try:
            return self.ray.get(handle)
        except errors.TaskCancelledError:
            return []  # stopped before it started: not fitted, as with --jobs
        except errors.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # a bug in the task stops the batch, as with --jobs
        except errors.RayError as exc:  # its worker process or node was lost
            lost = AudiosplatError(f"{item.source}: lost on the Ray cluster ({type(exc).__name__}); fit it again with --skip-existing")
            return [failed(item.source, item.output, lost)]

    def interrupt(self, handles: list) -> None:
        for handle in handles:
            self.ray.cancel(handle)  # not forced: the task's SIGINT handler checkpoints its fit
