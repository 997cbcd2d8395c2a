"""audiosplat: fit a clip of audio as a sparse set of physics-inspired sound events."""

__version__ = "0.1.0"
