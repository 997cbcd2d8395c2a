"""Files in, files out: fitting, rendering and editing files, batches, worker pools, Ray, MusicNet."""
