"""Pure functions from events to events (edit, merge, perturb) and the summary of a file."""
