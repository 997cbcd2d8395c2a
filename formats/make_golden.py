"""Regenerate formats/golden-v1.splat, the tiny file that tests must load forever.

Run only when the format's major version changes (then add a new golden file; never
replace an old one): .venv/bin/python formats/make_golden.py
"""

from pathlib import Path

from audiosplat.api import fit_audio_file
from audiosplat.config import ModelConfig
from audiosplat.fit import FitConfig

HERE = Path(__file__).parent

if __name__ == "__main__":
    fit_audio_file(
        HERE.parent / "tests" / "data" / "guitar_em9.wav",
        HERE / "golden-v1.splat",
        config=ModelConfig(n_samples=1024, n_events=2, n_pitches=4),
        fit_config=FitConfig(steps=3, seed=7),
        device="cpu",
        argv=["formats/make_golden.py"],
    )
