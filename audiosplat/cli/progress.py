"""Progress of fits on stderr: bars on a terminal, plain lines in logs, nothing when quiet."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextlib.contextmanager
def step_progress(console: Console, steps: int, enabled: bool, log_lines: bool, n_inputs: int = 1, step_bars: bool = True):
    """Progress on a terminal: with several inputs an overall bar of inputs done, and (with
    `step_bars`: fits in this process) the current batch's bar with step, loss and steps/s.
    Off a terminal, with `log_lines`, plain lines at the first step and every tenth of the
    steps instead (logs of batch jobs). Yields the (on_batch, on_step, on_input_done) callbacks."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=False,
    )
    task = None
    overall = progress.add_task("inputs", total=n_inputs, detail="") if n_inputs > 1 else None

    def on_batch(first: int, count: int) -> None:
        nonlocal task
        if task is not None:  # one bar for the batch under way, below the overall one
            progress.remove_task(task)
        name = "fit" if n_inputs == 1 else f"fit clip {first + 1}" if count == 1 else f"fit clips {first + 1}-{first + count}"
        task = progress.add_task(name, total=steps, detail="", visible=step_bars)

    def on_input_done() -> None:
        if overall is not None:
            progress.advance(overall)

    def on_step(step: int, losses: list[float]) -> None:
        current = next(t for t in progress.tasks if t.id == task)
        elapsed = current.elapsed or 0.0
        mean_loss = sum(losses) / len(losses)
        rate = (step + 1) / elapsed if elapsed else 0.0
        progress.update(task, completed=step + 1, detail=f"loss {mean_loss:.5g}  {rate:.2f} steps/s")
        if log_lines and enabled and not console.is_terminal and (step == 0 or (step + 1) % max(1, steps // 10) == 0):
            console.print(f"{current.description}: step {step + 1}/{steps} loss {mean_loss:.6g} ({elapsed:.1f} s)")

    with progress:
        yield on_batch, on_step, on_input_done
