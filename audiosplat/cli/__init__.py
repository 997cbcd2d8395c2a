"""The audiosplat command line: one module per command; the only layer that prints."""

from audiosplat.cli.main import app

__all__ = ["app"]
