"""Start-up time of the command line: what a shell loop over many files pays per call.

    python -m benchmarks.startup [--repeats 10] [--python PATH]

With --python, the commands run under another interpreter, e.g. of a virtual environment
with an older commit installed, so that two versions are compared on one machine.

Wall time of whole processes, median of `--repeats` runs each, after one untimed run:
`python -c pass` (the floor), `python -c "import torch"` (what every command paid when the
CLI loaded torch first), `audiosplat --help`, and `audiosplat inspect` on a default-size fit
of the bundled piano clip (65536 samples, 64 events, written once with --steps 0). Ratios are
against the torch import measured in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import MOZART, emit, log, summary, time_repeats

GOALS_S = {"help": 0.5, "inspect": 0.8}  # docs/design.md: commands that compute nothing start fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose audiosplat to time")
    args = parser.parse_args()
    cli = [args.python, "-m", "audiosplat"]
    with tempfile.TemporaryDirectory() as workdir:
        fitted = Path(workdir) / "piano.splat"
        # run in the temporary folder: from the project's root, `-m audiosplat` would find this
        # checkout's package before the other interpreter's own
        subprocess.run([*cli, "fit", str(MOZART), "-o", str(fitted), "--steps", "0", "-q"], check=True, cwd=workdir)
        commands = {
            "python": [args.python, "-c", "pass"],
            "import_torch": [args.python, "-c", "import torch"],
            "help": [*cli, "--help"],
            "inspect": [*cli, "inspect", str(fitted)],
        }
        medians = {}
        for name, command in commands.items():
            times = time_repeats(lambda command=command: subprocess.run(command, check=True, capture_output=True, cwd=workdir), args.repeats)
            medians[name] = summary(times)["median_s"]
            ratio = medians[name] / medians["import_torch"] if "import_torch" in medians else None
            emit({"figure": name, **summary(times), "vs_import_torch": ratio, "goal_s": GOALS_S.get(name)})
            log(f"{name:>13}: {medians[name]:.3f} s (median of {args.repeats})")


if __name__ == "__main__":
    main()
