"""Files: .splat reading/writing/validation, audio in and out, atomic writes, isolated opening."""
