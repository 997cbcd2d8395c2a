"""Exceptions for problems with the user's input. The CLI shows their message as one line."""


class AudiosplatError(Exception):
    """A user-facing problem: the message is one plain sentence that names the file."""


class UsageError(AudiosplatError):
    """The command was asked for something that cannot be done as written (exit code 2); in
    a batch it stops the batch rather than failing one input."""


class AudioReadError(AudiosplatError):
    """An input audio file is missing, unreadable, empty or not finite."""


class SplatFormatError(AudiosplatError):
    """A file is not a valid .splat, or is of a version this reader does not support."""
