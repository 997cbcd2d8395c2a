"""The kinds of file audiosplat reads and writes, by name: suffixes and wav sample formats.
Imports nothing, so the command line knows them before it loads anything."""

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"})
# `render --subtype` choices: the sample formats soundfile writes them as
WAV_SUBTYPES = {"float": "FLOAT", "pcm16": "PCM_16", "pcm24": "PCM_24"}
