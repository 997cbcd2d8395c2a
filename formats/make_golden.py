"""Make the tiny golden files that tests must load forever: golden-v1.splat (format 1.0.0,
the seed model), golden-v1.1-direct.splat (1.1.0, the direct model) and
golden-v1.5-exact.splat (1.5.0, the direct model with exact pitches).

Files that exist are never replaced; add a new one when the format gains something:
.venv/bin/python formats/make_golden.py
"""

from pathlib import Path

from audiosplat.app.api import fit_audio_file
from audiosplat.core.config import ModelConfig
from audiosplat.fitting.fit import FitConfig

HERE = Path(__file__).parent
GOLDEN = {
    "golden-v1.splat": {"model": "seed"},
    "golden-v1.1-direct.splat": {"model": "direct"},
    "golden-v1.5-exact.splat": {"model": "direct", "pitches": "exact"},
}

if __name__ == "__main__":
    for name, fields in GOLDEN.items():  # the ModelConfig fields that differ from the defaults
        if (HERE / name).exists():
            continue
        fit_audio_file(
            HERE.parent / "tests" / "data" / "guitar_em9.wav",
            HERE / name,
            config=ModelConfig(n_samples=1024, n_events=2, n_pitches=4, **fields),
            fit_config=FitConfig(steps=3, seed=7),
            device="cpu",
            argv=["formats/make_golden.py"],
        )
