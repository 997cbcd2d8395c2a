"""The media a report page embeds: audio as FLAC, which every current browser plays, and spectrograms as palette PNGs (zlib and the PNG chunk layout; no imaging library)."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import soundfile as sf

# FLAC: lossless, and played by every current browser (Safari included). Ogg Vorbis, a third
# of the size, is not used: Chromium cannot parse libsndfile's Ogg of a short stem (0.19 s:
# "FFmpegDemuxer: PTS is not defined"), and Safari plays no Ogg.
AUDIO_MIME = "audio/flac"
SPECTROGRAM_FFT, SPECTROGRAM_HOP = 1024, 256
SPECTROGRAM_RANGE_DB = 80.0
LOWEST_DRAWN_HZ = 40.0
# Anchors of a magma-like colour map, dark (quiet) to light (loud): RGB 0-255.
PALETTE_ANCHORS = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float64)


@dataclass(frozen=True)
class EncodedAudio:
    """One embedded clip: its bytes, MIME type and length in seconds."""

    data: bytes
    mime: str
    duration_s: float


def encode_audio(samples: np.ndarray, sample_rate: int) -> EncodedAudio:
    """`samples` (T,) float, clipped to [-1, 1], as 16-bit FLAC."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0).astype(np.float32), sample_rate, format="FLAC", subtype="PCM_16", compression_level=1.0)
    return EncodedAudio(buffer.getvalue(), AUDIO_MIME, len(samples) / sample_rate)


def spectrogram_levels(signals: list[np.ndarray], sample_rate: int, rows: int = 160) -> list[np.ndarray]:
    """Each signal's magnitude spectrogram on a log-frequency axis from LOWEST_DRAWN_HZ to
    Nyquist, in dB below the loudest bin of all of them, mapped to 0 (SPECTROGRAM_RANGE_DB
    below or quieter) ... 255 (the loudest): (rows, frames) uint8 each, high frequencies first.
    One scale for all, so that the source and the render compare.

    Args:
        signals: (T,) float each.
    """
    window = np.hanning(SPECTROGRAM_FFT)
    bin_hz = np.fft.rfftfreq(SPECTROGRAM_FFT, 1.0 / sample_rate)
    drawn_hz = np.geomspace(LOWEST_DRAWN_HZ, sample_rate / 2, rows)[::-1]
    db = []
    for signal in signals:
        padded = np.pad(np.asarray(signal, dtype=np.float64), (SPECTROGRAM_FFT // 2, SPECTROGRAM_FFT // 2))
        frames = 1 + (len(padded) - SPECTROGRAM_FFT) // SPECTROGRAM_HOP
        index = np.arange(SPECTROGRAM_FFT)[None, :] + SPECTROGRAM_HOP * np.arange(frames)[:, None]
        magnitude = np.abs(np.fft.rfft(padded[index] * window, axis=1)).T  # (bins, frames)
        on_axis = np.stack([np.interp(drawn_hz, bin_hz, column) for column in magnitude.T], axis=1)
        db.append(20.0 * np.log10(np.maximum(on_axis, 1e-12)))
    top = max(float(level.max()) for level in db)
    return [np.round(np.clip((level - top) / SPECTROGRAM_RANGE_DB + 1.0, 0.0, 1.0) * 255).astype(np.uint8) for level in db]


def palette_png(levels: np.ndarray) -> bytes:
    """A PNG of `levels` (H, W) uint8, each mapped through the magma-like palette."""
    height, width = levels.shape
    position = np.linspace(0, len(PALETTE_ANCHORS) - 1, 256)
    palette = np.stack([np.interp(position, np.arange(len(PALETTE_ANCHORS)), PALETTE_ANCHORS[:, c]) for c in range(3)], axis=1)
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(levels))  # filter 0 per scanline

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8-bit palette indices
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", np.round(palette).astype(np.uint8).tobytes()) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
