"""Whether an output is finished: what `--skip-existing` skips."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from audiosplat.core.errors import SplatFormatError
from audiosplat.io.splat_format import read_stored


def is_complete_output(path: Path) -> bool:
    """Whether `path` already holds a finished output: a .splat that reads back valid and is
    not a partial checkpoint, a wav with audio, or (any other kind) an existing file."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix == ".splat":
        try:
            return not read_stored(path).fit.get("partial", False)
        except SplatFormatError:
            return False
    if path.suffix == ".wav":
        try:
            return sf.info(str(path)).frames > 0
        except (sf.LibsndfileError, RuntimeError):
            return False
    return True
