"""Reading clips and writing audio with soundfile; resampling with soxr."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from audiosplat.core.errors import AudioReadError
from audiosplat.io.atomic import atomic_path
from audiosplat.io.kinds import AUDIO_SUFFIXES  # noqa: F401 - the suffixes it reads, re-exported

WAV_SUBTYPES = ("FLOAT", "PCM_16", "PCM_24")
MAX_STREAM_BYTES = 2**31  # a pipe is held in memory whole: past this, save it to a file first


@dataclass(frozen=True)
class Clip:
    """N mono samples at `sample_rate`, cut from a source file.

    `peak` is max |x| before normalisation (1.0 if the clip was not normalised).
    """

    samples: np.ndarray  # (N,) float32
    sample_rate: int
    source_rate: int
    source_frames: int
    source_channels: int
    offset_s: float
    peak: float


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    opened = reopenable(Path(path))
    with open(opened, "rb") if isinstance(opened, str) else opened as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reopenable(path: Path) -> str | io.BytesIO:
    """Something to open `path` with as often as reading it takes: its name for a regular
    file (or anything that is not there: the reader says what is wrong), else the bytes of
    the pipe, FIFO or device (`fit <(cat a.wav)`), read once and kept, since a second open
    of a pipe waits forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return str(path)
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return str(path)
    return io.BytesIO(_stream_bytes(str(path)))


@functools.lru_cache(maxsize=4)  # a stream is read for its header, its samples and its hash; few at once, as each may be large
def _stream_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_STREAM_BYTES + 1)
    if len(data) > MAX_STREAM_BYTES:
        raise AudioReadError(f"{path}: a stream of more than {MAX_STREAM_BYTES} bytes; save it to a file and fit that")
    return data


def load_clip(
    path: Path, *, n_samples: int, sample_rate: int, offset_s: float = 0.0, normalise: bool = True
) -> Clip:
    """Read `n_samples` at `sample_rate` starting `offset_s` seconds into an audio file.

    Channels are averaged to mono; the source is resampled with soxr (high quality); a clip
    that ends early is padded with zeros. Only the frames needed are read, so a file larger
    than memory is fine. With `normalise`, the clip is divided by its peak |x|.

    Raises:
        AudioReadError: missing, unreadable or empty file, an offset past its end, samples
            that are not finite, or (with `normalise`) a silent clip.
    """
    path = Path(path)
    if offset_s < 0 or not math.isfinite(offset_s):
        raise AudioReadError(f"{path}: offset must be a finite number of seconds >= 0, got {offset_s}")
    info = read_info(path)
    start = int(round(offset_s * info.samplerate))
    if start >= info.frames:
        raise AudioReadError(
            f"{path}: offset {offset_s:g} s is past the end of the audio ({info.frames / info.samplerate:.3f} s)"
        )
    # A few extra source frames so the resampler's filter sees real signal at the clip's end.
    want = int(math.ceil(n_samples * info.samplerate / sample_rate)) + 64
    try:
        data = sf.read(reopenable(path), start=start, frames=want, dtype="float64", always_2d=True)[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioReadError(f"{path}: could not decode audio ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{path}: contains no audio")
    if not np.all(np.isfinite(data)):
        raise AudioReadError(f"{path}: contains NaN or infinite samples")
    mono = data.mean(axis=1)
    if info.samplerate != sample_rate:
        mono = soxr.resample(mono, info.samplerate, sample_rate, quality="HQ")
    clip = np.zeros(n_samples, dtype=np.float64)
    clip[: min(n_samples, mono.shape[0])] = mono[:n_samples]
    peak = float(np.max(np.abs(clip)))
    if normalise:
        if peak == 0.0:
            raise AudioReadError(f"{path}: the clip at {offset_s:g} s is silent; there is nothing to fit")
        clip = clip / peak
    return Clip(
        samples=clip.astype(np.float32),
        sample_rate=sample_rate,
        source_rate=int(info.samplerate),
        source_frames=int(info.frames),
        source_channels=int(info.channels),
        offset_s=float(offset_s),
        peak=peak if normalise else 1.0,
    )


def samples_after(path: Path, *, sample_rate: int, offset_s: float = 0.0) -> int:
    """Samples at `sample_rate` from `offset_s` seconds to the end of an audio file, from its
    header alone (0 when the offset is past the end)."""
    info = read_info(Path(path))
    remaining = info.frames - int(round(offset_s * info.samplerate))
    return max(0, remaining * sample_rate // info.samplerate)


def read_info(path: Path):
    """soundfile's header information of an audio file.

    Raises:
        AudioReadError: missing, a folder, unreadable or empty.
    """
    try:
        info = sf.info(reopenable(path))
    except FileNotFoundError:
        raise AudioReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise AudioReadError(f"{path}: is a directory, not an audio file") from None
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if path.is_dir():
            raise AudioReadError(f"{path}: is a directory, not an audio file") from None
        if not path.exists():
            raise AudioReadError(f"{path}: file not found") from None
        raise AudioReadError(f"{path}: not a readable audio file ({_short(exc)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioReadError(f"{path}: contains no audio")
    return info


def write_wav(path: Path, samples: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """Write mono samples as a wav file, atomically (temporary file, then rename)."""
    data = wav_bytes(samples, sample_rate, subtype)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(data)


def wav_bytes(samples: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> bytes:
    """The bytes of a wav file holding `samples`: the same samples give the same bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, subtype=subtype, format="WAV")
    return _without_peak_timestamp(bytearray(buffer.getvalue()))


def write_wav_stream(stream: BinaryIO, samples: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    stream.write(wav_bytes(samples, sample_rate, subtype))
    stream.flush()


def _without_peak_timestamp(data: bytearray) -> bytes:
    """libsndfile stamps float wavs' PEAK chunk with the time of writing; zero that field so
    a file's bytes depend only on its audio."""
    position = 12  # after "RIFF", size, "WAVE"
    while position + 8 <= len(data):
        chunk, size = bytes(data[position : position + 4]), int.from_bytes(data[position + 4 : position + 8], "little")
        if chunk == b"PEAK" and size >= 8:
            data[position + 12 : position + 16] = bytes(4)  # after the 4-byte version
            break
        if chunk == b"data":
            break
        position += 8 + size + (size & 1)
    return bytes(data)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
