"""Quality figures of a render against its source: spectral metrics, ViSQOL, plots."""
