"""Files: .splat reading/writing/validation, audio in and out, notes as MIDI/CSV/JSON, atomic writes, isolated opening."""
