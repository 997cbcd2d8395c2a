"""Opening .splat files from untrusted sources without risking the process that opens them.

`read_stored` turns every error HDF5 reports into a `SplatFormatError`, but the HDF5 C library
can also crash (segfault) or hang on a maliciously crafted file, which no Python `try` catches.
Here a child process (`python -m audiosplat.io.safe_open FILE`) reads and validates the file
first, under a time limit; a crash or a hang kills only the child and becomes a
`SplatFormatError`. Only a file the child read completely is then read here.

The child answers on its stdout: `ready` once it has imported the reader (the time limit
counts from then, so a slow start is not taken for a hang), then `ok` or `error <message>`.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from audiosplat.core.errors import SplatFormatError
from audiosplat.io.splat_format import StoredSplat, read_stored

DEFAULT_TIMEOUT_S = 30.0
START_TIMEOUT_S = 300.0  # for the child to start Python and import h5py on a busy machine


def read_stored_isolated(path: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> StoredSplat:
    """`read_stored`, but the file is first read and validated in a child process.

    Raises:
        SplatFormatError: as `read_stored`; also when the HDF5 library crashed or hung (no
            answer within `timeout_s` seconds) reading the file in the child.
    """
    validate_isolated(path, timeout_s=timeout_s)
    return read_stored(path)


def validate_isolated(path: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Read and validate `path` in a child process; return if it is a valid .splat.

    Raises:
        SplatFormatError: the reader's own one-line error, or one saying that the HDF5
            library crashed or hung reading the file.
    """
    path = Path(path)
    package_root = str(Path(__file__).resolve().parent.parent)  # the child imports this very audiosplat
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "audiosplat.io.safe_open", os.fspath(path)]
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as child:
        try:
            answer, waited_s = _answer(child, START_TIMEOUT_S, timeout_s)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    if answer is None:
        raise SplatFormatError(f"{path}: the HDF5 library hung reading it (no answer in {waited_s:g} s); not a valid .splat")
    if answer == "ok":
        return
    if answer.startswith("error "):
        raise SplatFormatError(answer[len("error "):])
    raise SplatFormatError(f"{path}: the HDF5 library crashed reading it ({_death(child.returncode)}); not a valid .splat")


def _answer(child: subprocess.Popen, start_s: float, timeout_s: float) -> tuple[str | None, float]:
    """The child's answer after `ready` ("" if it died first, None if it hung), and the
    time it was given."""
    lines = _LineReader(child.stdout.fileno())
    ready = lines.read(start_s)
    return (lines.read(timeout_s), timeout_s) if ready == "ready" else (ready, start_s)


class _LineReader:
    """Lines from a pipe, each waited for at most so long."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, b""

    def read(self, seconds: float) -> str | None:
        """The next line; "" at end of file; None if it takes more than `seconds`."""
        deadline = time.monotonic() + seconds
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return ""
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace")


def _death(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _child(path: str) -> int:
    print("ready", flush=True)
    try:
        read_stored(Path(path))
    except SplatFormatError as exc:
        message = " ".join(str(exc).split()) or f"{path}: not a valid .splat"
    except Exception as exc:  # noqa: BLE001 - anything else the reader let through is still a bad file
        message = f"{path}: not a valid .splat ({type(exc).__name__}: {' '.join(str(exc).split())})"
    else:
        print("ok", flush=True)
        return 0
    print(f"error {message}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
