"""Where the events of a clip probably are: onsets from spectral-flux peaks and the pitches
that start at each onset, by iterative harmonic-sum estimation. This starts the direct
model near the answer, since gradient descent on a spectral loss finds neither pitch nor
onset well from scratch."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.wavetable import HIGHEST_MIDI, LOWEST_MIDI, midi_to_hz

ONSET_FFT = 1024
NOTE_ONSET_FFT = 2048
BANDS_PER_OCTAVE = 24
LOWEST_BAND_HZ = 27.5
NOTE_ONSET_LAG_FRAMES = 2
PITCH_FFT = 4096
HARMONICS = 10
HARMONIC_WEIGHT = 0.85  # weight of harmonic h is 0.85^(h-1): favours the fundamental
PITCHES_PER_ONSET = 6
REFINED_STEP_MIDI = 0.005  # semitones: pitches are refined to a grid this fine (`refined_pitch`)
PEAK_RADIUS_FRAMES = 3
GLIDE_SEMITONES = 1.0
# A voice's main pitch moves a little from one frame to the next in about a quarter of its
# voiced frames (speech: 0.27); held notes move less, vibrato included (the 7 instrument
# clips of ../shared/audio: 0.02-0.12). `pitches_for` chooses grid pitches above this.
GLIDING_FRACTION = 0.2
SLIDE_SEMITONES = (0.05, 1.0)  # a frame-to-frame move of the main pitch that is a slide, not a jump
AFTER_FRAMES = 4  # frames after an onset whose spectrum holds its notes


@dataclass(frozen=True)
class Note:
    """A note found in the clip: onset in control frames, pitch as a MIDI note, and its
    salience (harmonic-sum magnitude, relative units)."""

    onset_frame: int
    pitch_midi: float
    salience: float


def magnitudes(signal: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """|STFT| with a Hann window, frames centred at multiples of `hop`: (N,) -> (N/hop + 1, n_fft/2 + 1)."""
    window = torch.hann_window(n_fft, device=signal.device)
    # zero padding: reflection needs a clip longer than the window
    return torch.stft(signal, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True).abs().T


def onset_frames(signal: torch.Tensor, hop: int) -> list[int]:
    """Control frames where new energy starts: peaks of the rectified log-spectral flux
    (`peak_frames`, half a standard deviation). Broadband: vibrato and swells count, which
    gives a held sound events where it changes."""
    log_mag = torch.log1p(100.0 * magnitudes(signal, ONSET_FFT, hop))
    flux = torch.relu(log_mag[1:] - log_mag[:-1]).sum(dim=-1)  # flux[t] is the rise into frame t + 1
    return peak_frames(torch.cat([flux[:1] * 0, flux]), signal.shape[-1] // hop, 0.5)


def note_onset_frames(signal: torch.Tensor, hop: int, sample_rate: int) -> list[int]:
    """Control frames where notes start: peaks (`peak_frames`, one standard deviation) of a
    vibrato-proof flux (SuperFlux, Böck & Widmer 2013). On log-magnitude bands a quarter
    tone wide, each band's rise is measured against the largest of it and its two
    neighbours `NOTE_ONSET_LAG_FRAMES` frames earlier, so a partial that vibrato moves into
    the next band brings nothing new, while a note that starts does."""
    bands = torch.log10(1.0 + magnitudes(signal, NOTE_ONSET_FFT, hop) @ log_bands(NOTE_ONSET_FFT, sample_rate).to(signal.device))
    widened = torch.nn.functional.max_pool1d(bands[None], 3, 1, 1)[0]
    lag = NOTE_ONSET_LAG_FRAMES
    flux = torch.relu(bands[lag:] - widened[:-lag]).sum(dim=-1)  # flux[t] is the rise into frame t + lag
    # frames whose window reaches past the clip's end hear it cut off, a click, not a note
    return peak_frames(torch.cat([flux.new_zeros(lag), flux]), signal.shape[-1] // hop - NOTE_ONSET_FFT // (2 * hop), 1.0)


def finite_on_cpu(signal: torch.Tensor) -> torch.Tensor:
    """A float32 CPU copy of `signal` with NaN and infinities as 0: the analysis reads any
    clip, a broken one too (the fit's step guard deals with those)."""
    return torch.nan_to_num(signal.detach().cpu().float(), nan=0.0, posinf=0.0, neginf=0.0)


def note_onsets_s(signal: torch.Tensor, config: ModelConfig) -> list[float]:
    """Where the notes of a clip (N,) start (`note_onset_frames`), in seconds from its start.
    What a fit stores (/fit/onsets_s) so that a note read from its events is struck again
    only where the source has an onset (`ops.notes`)."""
    frames = note_onset_frames(finite_on_cpu(signal), config.frame_size, config.sample_rate)
    return [frame * config.frame_size / config.sample_rate for frame in frames]


def peak_frames(flux: torch.Tensor, n_frames: int, stds: float) -> list[int]:
    """Frames where `flux` (F,) peaks above its mean plus `stds` standard deviations, at
    least `PEAK_RADIUS_FRAMES` apart and before `n_frames`. Frame 0 is always one (whatever
    sounds at the start of the clip began before it), and stands for any peak within
    `PEAK_RADIUS_FRAMES` of it: frame 0's window, half filled by padding, hears the first
    sound start and frame 1 hears it rise again."""
    window = 2 * PEAK_RADIUS_FRAMES + 1
    local_max = torch.nn.functional.max_pool1d(flux[None, None], window, 1, PEAK_RADIUS_FRAMES)[0, 0]
    peaks = ((flux == local_max) & (flux > flux.mean() + stds * flux.std())).nonzero().flatten().tolist()
    return [0, *[p for p in peaks if PEAK_RADIUS_FRAMES < p < n_frames]]


def log_bands(n_fft: int, sample_rate: int) -> torch.Tensor:
    """Triangular filters `BANDS_PER_OCTAVE` to the octave from `LOWEST_BAND_HZ` up, each
    rising from its lower neighbour's centre and falling to its upper's; the low ones that
    catch no bin (bins are wider than bands there) are left out. -> (n_fft/2 + 1, bands)."""
    hz = torch.arange(n_fft // 2 + 1) * sample_rate / n_fft
    octaves = math.log2(sample_rate / 2 / LOWEST_BAND_HZ)
    centres = LOWEST_BAND_HZ * 2.0 ** (torch.arange(int(octaves * BANDS_PER_OCTAVE)) / BANDS_PER_OCTAVE)
    low, mid, high = centres[:-2, None], centres[1:-1, None], centres[2:, None]
    rising = ((hz - low) / (mid - low)).clamp(0.0, 1.0) * (hz <= mid)
    falling = ((high - hz) / (high - mid)).clamp(0.0, 1.0) * (hz > mid)
    bank = (rising + falling).T
    return bank[:, bank.sum(dim=0) > 0]


def harmonic_salience(spectrum: torch.Tensor, pitches_midi: torch.Tensor, sample_rate: int, n_fft: int) -> torch.Tensor:
    """Sum over harmonics h = 1..H of 0.85^(h-1) * |X| at h * f0 (linear interpolation
    between bins), for every candidate pitch. (..., n_fft/2 + 1), (P,) -> (..., P)."""
    f0 = midi_to_hz(pitches_midi)
    h = torch.arange(1, HARMONICS + 1, device=spectrum.device, dtype=spectrum.dtype)
    bins = (f0[:, None] * h[None, :]) * n_fft / sample_rate
    inside = bins < spectrum.shape[-1] - 1
    low = bins.clamp(max=spectrum.shape[-1] - 2).floor().long()
    frac = bins - low
    values = spectrum[..., low] * (1 - frac) + spectrum[..., low + 1] * frac
    return (values * inside * HARMONIC_WEIGHT ** (h - 1)).sum(dim=-1)


def notes_at(spectrum: torch.Tensor, sample_rate: int, n_pitches: int, sound: torch.Tensor | None = None) -> list[tuple[float, float]]:
    """Up to `PITCHES_PER_ONSET` (pitch, salience) pairs in one spectrum, strongest first:
    take the most salient pitch, remove its harmonics from the spectrum (`remove_partials`),
    repeat while the salience stays above a tenth of the first. What the removal leaves of
    a found note's partials does not make it found again (a candidate whose refined pitch
    is within a step of a found one is passed over). Each pitch is refined (`refined_pitch`) on
    `sound` if given: when `spectrum` is a difference (what is new, what is missing), its
    peaks lie on the flanks of partials that are partly there already, and the sound
    itself says where the partials are."""
    spectrum = spectrum.clone()
    pitches = torch.linspace(LOWEST_MIDI, HIGHEST_MIDI, 4 * n_pitches, device=spectrum.device)
    bin_hz = sample_rate / PITCH_FFT
    step = float(pitches[1] - pitches[0])
    tried = torch.zeros_like(pitches, dtype=torch.bool)
    found: list[tuple[float, float]] = []
    while len(found) < PITCHES_PER_ONSET:
        salience = harmonic_salience(spectrum, pitches, sample_rate, PITCH_FFT).masked_fill(tried, 0.0)
        best = int(salience.argmax())
        value = float(salience[best])
        if value <= 0 or (found and value < 0.1 * found[0][1]):
            break
        tried |= (pitches - pitches[best]).abs() <= step
        pitch = refined_pitch(spectrum if sound is None else sound, float(pitches[best]), step, sample_rate)
        if any(abs(pitch - other) <= step for other, _ in found):
            continue  # a found note again, from what the removal left of it
        found.append((pitch, value))
        remove_partials(spectrum, float(midi_to_hz(torch.tensor(pitch))), bin_hz)
    return found


def remove_partials(spectrum: torch.Tensor, f0_hz: float, bin_hz: float) -> None:
    """Take a found note's partials out of `spectrum` (n_fft/2 + 1,) in place, by spectral
    smoothness (Klapuri 2003): the note's own partial h is taken to be no larger than the
    mean of partials h-1, h, h+1, so what stands above that mean stays, a coinciding note
    (an octave, a twelfth above) that zeroing all of it would hide."""
    centres = [round(h * f0_hz / bin_hz) for h in range(1, HARMONICS + 2)]
    centres = [c for c in centres if c < spectrum.shape[-1]]
    peaks = [float(spectrum[max(c - 2, 0) : c + 3].max()) for c in centres]
    for h, centre in enumerate(centres[:HARMONICS]):
        around = peaks[max(h - 1, 0) : h + 2]
        own = sum(around) / len(around)
        band = spectrum[max(centre - 2, 0) : centre + 3]
        band.sub_(torch.minimum(band, band * (own / max(peaks[h], 1e-12))))


def refined_pitch(spectrum: torch.Tensor, pitch_midi: float, step_midi: float, sample_rate: int) -> float:
    """The most salient pitch within one candidate step of `pitch_midi`, to a
    `REFINED_STEP_MIDI` (a fortieth of a step): notes sound their exact pitches, and two
    events on one note a step apart would beat. (n_fft/2 + 1,) |X| -> MIDI."""
    fine = pitch_midi + torch.arange(-step_midi, step_midi + REFINED_STEP_MIDI / 2, REFINED_STEP_MIDI, device=spectrum.device)
    return float(fine[harmonic_salience(spectrum, fine, sample_rate, PITCH_FFT).argmax()])


def _main_pitches(mags: torch.Tensor, sample_rate: int, n_pitches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each frame's most salient pitch (MIDI) and whether it is voiced: at least a tenth as
    salient as the clip's most salient. (F, PITCH_FFT/2 + 1) |STFT| -> (F,), (F,) bool."""
    pitches = torch.linspace(LOWEST_MIDI, HIGHEST_MIDI, 4 * n_pitches, device=mags.device)
    salience, best = harmonic_salience(mags, pitches, sample_rate, PITCH_FFT).max(dim=-1)
    return pitches[best], salience > 0.1 * salience.max()


def slides(mags: torch.Tensor, sample_rate: int, n_pitches: int) -> tuple[int, int]:
    """How many pairs of consecutive voiced frames there are, and in how many the main
    pitch slides: moves by `SLIDE_SEMITONES` (more than rounding, less than a new note).
    (F, PITCH_FFT/2 + 1) |STFT| -> (sliding pairs, voiced pairs)."""
    pitch, voiced = _main_pitches(mags, sample_rate, n_pitches)
    both = voiced[1:] & voiced[:-1]
    move = (pitch[1:] - pitch[:-1]).abs()
    return int((both & (move > SLIDE_SEMITONES[0]) & (move < SLIDE_SEMITONES[1])).sum()), int(both.sum())


def resolve_pitches(config: ModelConfig, windows: Iterable[torch.Tensor]) -> ModelConfig:
    """`config` with "auto" pitches chosen for the audio made of these (N,) windows
    (`pitches_for`); any other config as it is."""
    return config if config.pitches != "auto" else dataclasses.replace(config, pitches=pitches_for(windows, config))


def pitches_for(windows: Iterable[torch.Tensor], config: ModelConfig) -> str:
    """The direct model's pitches for audio made of these (N,) windows: "grid" when its
    main pitch slides in more than `GLIDING_FRACTION` of the voiced frame pairs (`slides`,
    pooled over the windows), as a voice's does: the bump over neighbouring rows follows a
    gliding pitch better than one exact pitch. "exact" for held notes, which it tunes
    better (docs/benchmarks.md, "Exact against grid pitches")."""
    sliding, pairs = 0, 0
    for window in windows:
        counts = slides(magnitudes(finite_on_cpu(window), PITCH_FFT, config.frame_size), config.sample_rate, config.n_pitches)
        sliding, pairs = sliding + counts[0], pairs + counts[1]
    return "grid" if sliding > GLIDING_FRACTION * max(pairs, 1) else "exact"


def glide_frames(mags: torch.Tensor, sample_rate: int, n_pitches: int) -> list[int]:
    """Frames where a held sound's main pitch has moved more than `GLIDE_SEMITONES` from
    where it was at the last such frame (a voice or a slide glides without a new attack, so
    spectral flux misses it). Only frames whose main pitch is at least a tenth as salient
    as the clip's most salient count. (F, PITCH_FFT/2 + 1) |STFT| -> frames."""
    pitch, voiced = _main_pitches(mags, sample_rate, n_pitches)
    frames, reference = [], None
    for frame, (is_voiced, midi) in enumerate(zip(voiced.tolist(), pitch.tolist())):
        if not is_voiced:
            reference = None
        elif reference is None or abs(midi - reference) > GLIDE_SEMITONES:
            frames.append(frame)
            reference = midi
    return frames


def find_notes(signal: torch.Tensor, config: ModelConfig) -> list[Note]:
    """Notes starting at each onset of a clip (N,) and wherever its main pitch glides on
    (`glide_frames`): the pitches of the spectrum that is new after that frame (a few
    frames after minus a few before, rectified), strongest first."""
    hop = config.frame_size
    mags = magnitudes(signal, PITCH_FFT, hop)
    notes: list[Note] = []
    onsets = onset_frames(signal, hop)
    glides = [
        g for g in glide_frames(mags, config.sample_rate, config.n_pitches)
        if min(abs(g - o) for o in onsets) > PEAK_RADIUS_FRAMES  # not on an onset
    ]
    # a note needs its AFTER_FRAMES to be heard: one starting in the clip's last frames
    # would take an event for a few milliseconds of sound
    heard = [o for o in sorted([*onsets, *glides]) if o + AFTER_FRAMES < mags.shape[0]]
    for onset in heard:
        after = mags[onset + 1 : onset + 1 + AFTER_FRAMES].mean(dim=0)
        before = mags[max(onset - 3, 0) : onset].mean(dim=0) if onset > 0 else torch.zeros_like(after)
        for pitch, salience in notes_at(torch.relu(after - before), config.sample_rate, config.n_pitches, sound=after):
            notes.append(Note(onset, pitch, salience))
    return sorted(notes, key=lambda n: -n.salience)
