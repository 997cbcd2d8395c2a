"""The optimiser loop and its losses: targets in, fitted models out. No files."""
