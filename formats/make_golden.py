"""Make the tiny golden files that tests must load forever: golden-v1.splat (format 1.0.0,
the seed model) and golden-v1.1-direct.splat (1.1.0, the direct model).

Files that exist are never replaced; add a new one when the format gains something:
.venv/bin/python formats/make_golden.py
"""

from pathlib import Path

from audiosplat.api import fit_audio_file
from audiosplat.config import ModelConfig
from audiosplat.fit import FitConfig

HERE = Path(__file__).parent
GOLDEN = {"golden-v1.splat": "seed", "golden-v1.1-direct.splat": "direct"}

if __name__ == "__main__":
    for name, model in GOLDEN.items():
        if (HERE / name).exists():
            continue
        fit_audio_file(
            HERE.parent / "tests" / "data" / "guitar_em9.wav",
            HERE / name,
            config=ModelConfig(n_samples=1024, n_events=2, n_pitches=4, model=model),
            fit_config=FitConfig(steps=3, seed=7),
            device="cpu",
            argv=["formats/make_golden.py"],
        )
