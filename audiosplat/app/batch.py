"""Running a command over many inputs: skip finished outputs, go on past failures (or stop
at the first), and keep one report line per input (JSON lines, written as it goes and
renamed into place at the end)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from audiosplat.core.errors import AudiosplatError, UsageError
from audiosplat.io.atomic import atomic_path

# Whatever goes wrong with one input fails that input and the batch goes on; only a UsageError
# (the command itself is wrong) or Ctrl-C stops it.
INPUT_ERRORS = (Exception,)


@dataclass(frozen=True)
class ItemReport:
    """What happened to one input; None where a field does not apply."""

    input: str
    output: str | None
    status: str  # done | skipped | failed
    error: str | None = None
    steps: int | None = None
    final_loss: float | None = None
    relative_l1: float | None = None
    seconds: float | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def failed(source: Path, output: Path | None, exc: BaseException, seconds: float | None = None) -> ItemReport:
    return ItemReport(str(source), None if output is None else str(output), "failed", error_text(exc), seconds=seconds)


def error_text(exc: BaseException) -> str:
    """One line for an error: OSErrors as '<file>: <reason>', ours and ValueErrors their
    message, anything else (a library's or a bug) its type and message."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = " ".join(str(exc).split())[:500]
    if isinstance(exc, MemoryError):
        return f"out of memory{': ' + text if text else ''}"
    if isinstance(exc, (AudiosplatError, ValueError, OSError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_each(
    jobs: list[tuple[Path, Path]],
    work: Callable[[Path, Path], None],
    *,
    on_report: Callable[[ItemReport], None],
    skip_existing: bool = False,
    fail_fast: bool = False,
    complete: Callable[[Path], bool],
) -> None:
    """Call `work(source, output)` for each job in turn. With `skip_existing`, a job whose
    output is `complete` already (e.g. `outputs.is_complete_output`) is skipped. A job
    raising one of INPUT_ERRORS is reported failed; with `fail_fast` no job after it runs."""
    for source, output in jobs:
        if skip_existing and complete(output):
            on_report(ItemReport(str(source), str(output), "skipped"))
            continue
        start = time.perf_counter()
        try:
            work(source, output)
        except (UsageError, BrokenPipeError):  # the command's, not the input's: stdout closed
            raise
        except INPUT_ERRORS as exc:
            on_report(failed(source, output, exc, time.perf_counter() - start))
            if fail_fast:
                return
        else:
            on_report(ItemReport(str(source), str(output), "done", seconds=time.perf_counter() - start))


def make_output_folders(root: Path, outputs: list[Path]) -> None:
    """Make the batch's output folder `root` (its parent must exist) and the folders below
    it that the outputs go in."""
    if not root.exists() and not root.parent.is_dir():
        raise AudiosplatError(f"{root}: the output folder {root.parent} does not exist")
    root.mkdir(exist_ok=True)
    for folder in sorted({o.parent for o in outputs}):
        folder.mkdir(parents=True, exist_ok=True)


@dataclass
class Tally:
    """Counts of the reports seen so far, and the batch's wall time."""

    started: float = dataclasses.field(default_factory=time.perf_counter)
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: {"done": 0, "skipped": 0, "failed": 0})

    def add(self, report: ItemReport) -> None:
        self.counts[report.status] += 1

    @property
    def seen(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        c = self.counts
        return f"{c['done']} done, {c['skipped']} skipped, {c['failed']} failed in {time.perf_counter() - self.started:.1f} s"


@contextlib.contextmanager
def report_lines(path: Path | None) -> Iterator[Callable[[ItemReport], None]]:
    """Yield a function that appends one report as a JSON line to `path` (a temporary file
    beside it, flushed per line, renamed onto `path` at the end); with no path, it does
    nothing."""
    if path is None:
        yield lambda report: None
        return
    stopped = None
    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        try:
            yield lambda report: _write_line(stream, report.to_json())
        except BaseException as exc:  # Ctrl-C, a closed pipe: the lines so far still land
            stopped = exc
    if stopped is not None:
        raise stopped


def _write_line(stream: IO[str], line: str) -> None:
    stream.write(line + "\n")
    stream.flush()
