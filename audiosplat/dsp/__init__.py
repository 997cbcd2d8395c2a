"""Pure tensor maths: filters, windows, onsets as bits, wavetables, oscillators. No state, no files."""
