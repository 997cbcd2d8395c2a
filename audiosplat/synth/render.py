"""Controls -> audio: the event synth (method.md §4-§6), arranged for speed.

Same maths as `audiosplat.synth.reference`, rearranged where it is linear:
- each event's noise is fixed by its seed, so its spectrum is computed once;
- filters and convolutions have hand-written backward passes with real FFTs only
  (`spectral_ops`), and the two resonances share one transform of the excitation;
- the onset is an index shift with a closed-form gradient (`onset.delay_by_bits`), and
  events are made only over the samples that reach the clip (`render_placed`);
- an excitation is convolved over its envelope's support alone (`chunk_signals`);
- reverb is linear and the clip is a sum, so events are mixed per room first and
  convolved once per room (R convolutions instead of E).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.core.errors import AudiosplatError
from audiosplat.dsp.core import EPS_WIDTH, exp_decay, exp_decay_prefix, gauss_window
from audiosplat.dsp.onset import delay_by_bits, delay_by_samples
from audiosplat.dsp.oscillator import oscillate
from audiosplat.dsp.spectral_ops import (
    causal_convolution,
    fft_length_at_least,
    filter_spectrum,
    gauss_window_fused,
    gauss_window_support,
    zero_phase_filter,
)
from audiosplat.dsp.wave_mix import mix_waves
from audiosplat.dsp.wavetable import make_wavetable
from audiosplat.synth.controls import EventControls, within_render_range
from audiosplat.synth.rooms import RoomBank
from audiosplat.synth.threads import render_threads


def map_on_threads(fn: Callable, items: Iterable) -> list:
    """[fn(item) for item in items], on as many threads as torch uses. For independent
    items whose work lets go of the GIL (numpy's and torch's kernels do); the results are
    the same as one thread's."""
    items = list(items)
    workers = max(1, min(len(items), torch.get_num_threads()))
    if workers == 1:
        return [fn(item) for item in items]
    # torch's grad and inference modes are per thread: the workers take the caller's, so
    # that they may write into tensors the caller made under torch.inference_mode
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def in_callers_mode(item):
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return fn(item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(in_callers_mode, items))


def event_noise(noise_seeds: torch.Tensor, n_samples: int) -> torch.Tensor:
    """(E,) int64 seeds -> (E, N) float32 noise U(-1, 1), drawn on the CPU so every device
    renders the same excitation (method.md §9.1). Each event's generator is its own, so the
    rows are drawn on torch's threads."""
    noise = torch.empty(len(noise_seeds), n_samples)

    def draw(row: int, seed: int) -> None:
        torch.rand(n_samples, generator=torch.Generator(device="cpu").manual_seed(seed), out=noise[row])

    map_on_threads(lambda row_seed: draw(*row_seed), enumerate(noise_seeds.tolist()))
    return noise.mul_(2.0).sub_(1.0)


def noise_seeds_for(seed: int, n_events: int) -> torch.Tensor:
    """(E,) int64 per-event noise seeds derived from a fit seed (numpy SeedSequence)."""
    state = np.random.SeedSequence(seed).generate_state(n_events, dtype=np.uint32)
    return torch.from_numpy(state.astype(np.int64))


@dataclass(frozen=True)
class SynthAssets:
    """Fixed inputs of the synth on one device: waves (W, L) (none, (0, L), for exact
    pitches, whose waves are made from each event's pitch), noise (C*E, L) and its
    spectrum (C*E, L/2+1) for the C*E events of C clips, rooms (R, N) and their spectra
    zero-padded to 2N (R, N+1). L is the event buffer (`config.event_length`, N unless an
    approximation was asked for); waves and noise are the first L samples of their
    N-sample versions."""

    config: ModelConfig
    waves: torch.Tensor
    noise: torch.Tensor
    noise_spectrum: torch.Tensor
    rooms: torch.Tensor
    room_spectra: torch.Tensor

    @classmethod
    def build(
        cls, config: ModelConfig, noise_seeds: torch.Tensor, rooms: RoomBank, device: torch.device | str = "cpu",
        wave_rows: torch.Tensor | None = None,
    ) -> SynthAssets:
        """Assets for the events whose (C*E,) noise seeds are given (clip after clip). With
        `wave_rows` (int64), the waves are only those rows of the wavetable, for controls
        whose resonance weights are cut to the same columns (`used_waves`)."""
        if config.pitches == "exact":
            wave_rows = torch.zeros(0, dtype=torch.int64)
        impulses = rooms.impulses.to(device)
        if impulses.shape[-1] != config.n_samples:
            raise ValueError(f"room impulses have {impulses.shape[-1]} samples, expected {config.n_samples}")
        with render_threads():  # the same assets whatever the thread count
            waves = make_wavetable(config.n_pitches, config.event_length, config.sample_rate, config.waves, wave_rows).to(device)
            empty = torch.zeros(0, device=device)
            assets = cls(config, waves, empty, empty, impulses, torch.fft.rfft(impulses, n=2 * config.n_samples))
            return assets.with_events(noise_seeds)

    def with_events(self, noise_seeds: torch.Tensor) -> SynthAssets:
        """The same assets for other events: the noise of these (E,) seeds (the wavetable
        and rooms, the costly part, are shared)."""
        cfg, device = self.config, self.waves.device
        with render_threads():
            # the first L samples of each event's N-sample noise: the generator's stream is
            # sequential (format §13.2), so they are drawn alone
            noise = event_noise(noise_seeds, cfg.event_length).to(device)
            # MKL refuses a transform of no rows; no events have an empty spectrum
            spectrum = torch.fft.rfft(noise) if len(noise) else torch.zeros(0, cfg.event_length // 2 + 1, dtype=torch.complex64, device=device)
        return dataclasses.replace(self, noise=noise, noise_spectrum=spectrum)


# Wave weights below this fraction of their event's largest weight are left out of a render.
# An event's mix of waves then changes by at most W times this fraction of its largest
# weight in any sample (the waves are within [-1, 1]): 5e-7 for W = 512.
WAVE_TOLERANCE = 1e-9


def used_waves(controls: EventControls, tolerance: float = WAVE_TOLERANCE) -> tuple[EventControls, torch.Tensor]:
    """The controls with their (E, W) resonance weights cut to the wavetable rows that some
    event uses (a weight above `tolerance` times its event's largest weight; the others
    are set to 0), and those rows (int64, ascending). For `SynthAssets.build(wave_rows=)`:
    a direct model's event weighs a few neighbouring pitches, so a render makes and mixes
    a fraction of the 512 waves. Controls with exact pitches use no rows."""
    if controls.pitch_hz is not None:
        return controls, torch.zeros(0, dtype=torch.int64)
    weights = controls.resonance
    kept = weights.abs() > tolerance * weights.abs().amax(dim=-1, keepdim=True)
    rows = torch.nonzero(kept.any(dim=0))[:, 0]
    return controls.replace(resonance=(weights * kept)[:, rows]), rows


def resonance_waves(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Each event's wave before its low-passes and decay: (E, L). Exact pitches are
    oscillated at the event's pitch; grid pitches mix the wavetable's rows."""
    if controls.pitch_hz is not None:
        return oscillate(controls.pitch_hz, controls.resonance, assets.config.event_length, assets.config.sample_rate)
    return mix_waves(controls.resonance, assets.waves)


def unit_band(
    centre_hz: torch.Tensor, width_hz: torch.Tensor, sample_rate: int, n_samples: int, window=gauss_window_fused
) -> torch.Tensor:
    """Gaussian gains over the N/2+1 bins of an N-point real FFT, from Hz. (...,) -> (..., N/2+1)."""
    nyquist_hz = sample_rate / 2.0
    return window(centre_hz / nyquist_hz, (width_hz / nyquist_hz).clamp_min(EPS_WIDTH), n_samples // 2 + 1)


def envelope(centre_s: torch.Tensor, width_s: torch.Tensor, sample_rate: int, n_samples: int) -> torch.Tensor:
    """Gaussian envelope over the clip, peak 1, as method.md writes it: (E,) seconds -> (E, N)."""
    return gauss_window(*_envelope_units(centre_s, width_s, sample_rate, n_samples), n_samples)


def fused_envelope(centre_s: torch.Tensor, width_s: torch.Tensor, sample_rate: int, n_samples: int, n_used: int) -> torch.Tensor:
    """The first `n_used` samples of `envelope`, made by the fused window: (E,) -> (E, n_used)."""
    return gauss_window_fused(*_envelope_units(centre_s, width_s, sample_rate, n_samples), n_samples, n_used)


def envelope_support(centre_s: torch.Tensor, width_s: torch.Tensor, sample_rate: int, n_samples: int, n_used: int) -> int:
    """How many of the first `n_used` samples of `fused_envelope` some event's envelope
    holds above 1.6e-38, its floor (`gauss_window_support`); an int, at least 1."""
    return gauss_window_support(*_envelope_units(centre_s, width_s, sample_rate, n_samples), n_samples, n_used)


def _envelope_units(centre_s: torch.Tensor, width_s: torch.Tensor, sample_rate: int, n_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An envelope's centre and width from seconds to the window's grid, [0, 1] over the clip."""
    units_per_s = sample_rate / (n_samples - 1)
    return centre_s * units_per_s, (width_s * units_per_s).clamp_min(EPS_WIDTH)


def decay_curve(per_frame: torch.Tensor, n_frames: int, n_samples: int, n_used: int) -> torch.Tensor:
    """The first `n_used` samples of the decay curve `dsp.exp_decay`: (E,) -> (E, n_used).
    Over the whole clip F.interpolate is the faster; over a short event buffer, the closed
    form that computes only the samples used."""
    if n_used == n_samples:
        return exp_decay(per_frame, n_frames, n_samples)
    return exp_decay_prefix(per_frame, n_frames, n_samples, n_used)


# Bytes of a chunk's (chunk, 2, 2L) complex spectra: 8 of 64 events at L = 65536, all 64 at
# once for short event buffers of L <= 8192 (see `event_signals`). Smaller chunks save
# little more memory and cost time in per-chunk overhead.
EVENT_CHUNK_BYTES = 8 * 2**20


def event_chunks(n_events: int, event_length: int) -> list[slice]:
    """Consecutive slices of about equal size covering the events, each holding about
    EVENT_CHUNK_BYTES of (2, 2L) complex64 spectra per chunk (at least one event)."""
    n_chunks = max(1, min(n_events, n_events * 16 * event_length // EVENT_CHUNK_BYTES))
    size = -(-n_events // n_chunks)
    return [slice(first, min(first + size, n_events)) for first in range(0, n_events, size)]


def onset_chunks(onset_samples: torch.Tensor, n_samples: int, event_length: int) -> list[tuple[torch.Tensor, int]]:
    """Events grouped by onset for `render_placed`: (E,) int64 onsets -> (rows, samples)
    per chunk, as many chunks as `event_chunks` makes. Rows (int64) are the chunk's
    events, earliest first; samples is the most that any of them needs, N - onset + 1 (the
    clip's part and one more for the shift's gradient), at most L, rounded up to an
    FFT-friendly length (`fft_length_at_least`)."""
    order = torch.argsort(onset_samples.cpu(), stable=True)
    needed = (n_samples + 1 - onset_samples.cpu()).clamp(max=event_length)
    return [
        (order[rows].to(onset_samples.device), min(event_length, fft_length_at_least(int(needed[order[rows.start]]))))
        for rows in event_chunks(len(onset_samples), event_length)
    ]


def event_signals(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Each event in its own time (before the onset delay and the reverb): (E, L).

    Made a chunk of events at a time (`event_chunks`), each chunk its own autograd graph:
    the forward pass's temporaries are then a chunk's, and the backward pass frees each
    chunk's saved spectra as it goes instead of holding them all while it makes full-size
    gradients. That is what bounds a fit step's peak memory (docs/benchmarks.md). The
    events' waves are made all at once (per chunk, the wavetable product would read the
    whole table once per chunk).
    """
    resonance = resonance_waves(controls, assets)  # (E, L)
    rows = event_chunks(len(resonance), assets.config.event_length)
    if len(rows) == 1:
        return chunk_signals(controls, assets.noise_spectrum, resonance, assets.config)
    return torch.cat([chunk_signals(controls.select(r), assets.noise_spectrum[r], resonance[r], assets.config) for r in rows])


def chunk_signals(
    controls: EventControls, noise_spectrum: torch.Tensor, resonance: torch.Tensor, cfg: ModelConfig, n_used: int | None = None
) -> torch.Tensor:
    """`event_signals` of some events, given the spectrum of their noise (E, L/2+1) and
    their mix of waves (E, L): (E, L), or its first `n_used` samples (E, n_used). The
    filters stay circular over L; only what follows them is made over n_used samples."""
    n, length, sr = cfg.n_samples, cfg.event_length, cfg.sample_rate
    n_used = length if n_used is None else n_used
    # An event's envelope lasts milliseconds: past the chunk's envelopes' support (their
    # floor, 1.6e-38; the reference's float32 window is 0 there) the excitation is left
    # out, and the convolution's transforms are then n_used + S long instead of 2 n_used.
    support = envelope_support(controls.envelope_centre_s, controls.envelope_width_s, sr, n, n_used)
    noise_gain = unit_band(controls.noise_centre_hz, controls.noise_width_hz, sr, length)
    excitation = filter_spectrum(noise_spectrum, noise_gain[:, None, :], length)[:, 0, :support]
    positioned = excitation * fused_envelope(controls.envelope_centre_s, controls.envelope_width_s, sr, n, support)

    zero = torch.zeros_like(controls.resonance_cutoff_hz)
    lowpass_gain = unit_band(zero, controls.resonance_cutoff_hz, sr, length)  # (E, 2, L/2+1)
    lowpassed = zero_phase_filter(resonance, lowpass_gain)[..., :n_used]  # (E, 2, n_used)
    amplitude = decay_curve(controls.decay_per_frame, cfg.n_frames, n, n_used)
    crossfade = decay_curve(controls.crossfade_per_frame, cfg.n_frames, n, n_used)
    # Both resonances share the excitation's spectrum: one batched convolution.
    # unbind, not two index selects: the backward pass then stacks the two gradients once
    # instead of summing two zero-padded (E, 2, L) copies.
    first, second = causal_convolution(positioned, lowpassed * amplitude[:, None, :]).unbind(dim=1)
    # c a + (1 - c) b written as b + c (a - b): autograd then keeps one (E, L) difference
    # for the backward pass instead of both resonances and 1 - c.
    resonant = torch.addcmul(second, crossfade, first - second)

    # (m p + m' r) g as (m g) p + (m' g) r: no (E, L) sum is kept for the gain's gradient.
    weights = controls.excitation_mix * controls.gain[:, None]
    signals = weights[:, 1:] * resonant
    signals[:, :support].addcmul_(weights[:, :1], positioned)
    return signals


def render_placed(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Events delayed to their onsets, before the reverb: (E, N).

    An event's samples past N - onset fall off the clip, so where no gradient reads them
    (a render; the continuous onset's shift gradient reads one sample past), events are
    made over their first N - onset + 1 samples only (`onset_chunks`): the same clip, and
    on average half the work of the 2L-point convolutions. The onset bits' gradient reads
    the signal at other onsets, so a model that learns them makes whole events."""
    n, length = assets.config.n_samples, assets.config.event_length
    learns_bits = controls.onset_continuous is None and controls.onset_bits.requires_grad
    chunks = [] if learns_bits else onset_chunks(placed_onsets(controls), n, length)
    if all(n_used == length for _, n_used in chunks):  # nothing to save: all events whole
        return _place(event_signals(controls, assets), controls, n)
    placed = [_place(signals, events, n) for _, events, signals in _chunk_signals(controls, assets, chunks)]
    placed, order = torch.cat(placed), torch.cat([rows for rows, _ in chunks])
    # back in the events' order by index_copy, whose backward gathers the rows: indexing's
    # would scatter them into a zero-filled (E, N) gradient
    return placed.new_empty(placed.shape).index_copy(0, order, placed)


def _chunk_signals(controls: EventControls, assets: SynthAssets, chunks: list[tuple[torch.Tensor, int]]):
    """(rows, their controls, their signals (rows, samples)) for each of `onset_chunks`."""
    order = torch.cat([rows for rows, _ in chunks])
    # all events' waves at once as in `event_signals`, in chunk order. Split, not sliced:
    # the backward pass then joins the chunks' gradients once, where slices would each
    # make a zero-filled (E, L) gradient to sum.
    resonance = resonance_waves(controls.select(order), assets).split([len(rows) for rows, _ in chunks])
    for (rows, n_used), waves in zip(chunks, resonance):
        events = controls.select(rows)
        yield rows, events, chunk_signals(events, assets.noise_spectrum[rows], waves, assets.config, n_used)


def overlap_added_mixes(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """What `reverb_clips` convolves, without gradients: per clip, the dry mix and each
    room's mix of the events at their onsets, (C, R+1, N). Each event's samples that reach
    the clip are added in at its onset, with its R+1 weights: no (E, N) buffer of placed
    events is filled and summed."""
    cfg = assets.config
    n, n_events = cfg.n_samples, cfg.n_events
    weights = _mix_weights(controls)  # (C*E, R+1)
    onsets = placed_onsets(controls)
    mixes = weights.new_zeros(len(weights) // n_events, weights.shape[-1], n)
    starts = onsets.tolist()
    for rows, _, signals in _chunk_signals(controls, assets, onset_chunks(onsets, n, cfg.event_length)):
        for row, signal in zip(rows.tolist(), signals):
            span = min(signal.shape[-1], n - starts[row])
            mixes[row // n_events, :, starts[row] : starts[row] + span].addr_(weights[row], signal[:span])
    return mixes


def placed_onsets(controls: EventControls) -> torch.Tensor:
    """(E,) int64 sample each event starts at: its continuous onset rounded, if it has one."""
    return controls.onset_samples if controls.onset_continuous is None else controls.onset_continuous.detach().round().long()


def _place(signals: torch.Tensor, controls: EventControls, n_samples: int) -> torch.Tensor:
    """Events (E, L') delayed to their onsets, continuous ones if set: (E, N)."""
    if controls.onset_continuous is not None:
        return delay_by_samples(signals, controls.onset_continuous, n_samples)
    return delay_by_bits(signals, controls.onset_bits)


def reverb_clips(placed: torch.Tensor, controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """The clips: events through their rooms, summed per clip. (C*E, N) -> (C, N).

    out_e = dry_e * s_e + wet_e * s_e (*) sum_r w_er room_r, so the reverberant part of a
    clip is sum_r room_r (*) (sum_e wet_e w_er s_e): one convolution per room and clip.
    """
    n, n_events = placed.shape[-1], assets.config.n_events
    n_clips = placed.shape[0] // n_events
    weights = _mix_weights(controls)
    return reverb_mixes(torch.einsum("cer,cen->crn", weights.view(n_clips, n_events, -1), placed.view(n_clips, n_events, n)), assets)


def _mix_weights(controls: EventControls) -> torch.Tensor:
    """(E, R+1): each event's dry weight and its weight in each room's mix. The dry mix and
    the R room mixes as one product, so the backward pass makes the events' (C*E, N)
    gradient once instead of summing two."""
    return torch.cat([controls.reverb_mix[:, :1], controls.room_weights * controls.reverb_mix[:, 1:]], dim=-1)


def reverb_mixes(mixes: torch.Tensor, assets: SynthAssets) -> torch.Tensor:
    """Per clip, the dry mix plus each room's mix convolved with its room: (C, R+1, N) -> (C, N)."""
    n = mixes.shape[-1]
    dry, per_room = mixes[:, 0], mixes[:, 1:]  # (C, N), (C, R, N)
    wet_spectrum = (torch.fft.rfft(per_room, n=2 * n) * assets.room_spectra).sum(dim=1)
    return dry + torch.fft.irfft(wet_spectrum, n=2 * n)[..., :n]


def reverb_stems(placed: torch.Tensor, controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Each event through its own room: (E, N). Their sum equals `reverb_clips`."""
    n = placed.shape[-1]
    response_spectra = controls.room_weights.to(assets.room_spectra.dtype) @ assets.room_spectra  # (E, N+1)
    wet = torch.fft.irfft(torch.fft.rfft(placed, n=2 * n) * response_spectra, n=2 * n)[:, :n]
    return controls.reverb_mix[:, :1] * placed + controls.reverb_mix[:, 1:] * wet


def render_clips(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """Every event rendered, placed, reverberated and summed per clip: (C, N) for the C
    clips whose C*E events `controls` and `assets` hold (C = 1 for one clip). Without
    gradients to make, a render for output (`for_output`) that overlap-adds the events into
    the room mixes directly (`overlap_added_mixes`); tests hold the two ways together."""
    if torch.is_grad_enabled() and controls.requires_grad:
        return reverb_clips(render_placed(controls, assets), controls, assets)
    bounded = for_output(controls, assets.config)
    with render_threads():
        clips = reverb_mixes(overlap_added_mixes(bounded, assets), assets)
    return finite_or_refused(clips)


def render_stems(controls: EventControls, assets: SynthAssets) -> torch.Tensor:
    """One signal per event, reverb included: (E, N). Without gradients to make, a render
    for output (`for_output`)."""
    if torch.is_grad_enabled() and controls.requires_grad:
        return reverb_stems(render_placed(controls, assets), controls, assets)
    bounded = for_output(controls, assets.config)
    with render_threads():
        stems = reverb_stems(render_placed(bounded, assets), bounded, assets)
    return finite_or_refused(stems, per_event=True)


def for_output(controls: EventControls, config: ModelConfig) -> EventControls:
    """The controls as a render for output takes them: refused with an AudiosplatError
    naming the events if any control is NaN or infinite, else clamped where float32 would
    overflow (`within_render_range`). Such a render runs at a fixed thread count
    (`threads.render_threads`), so that its bytes do not depend on torch's, and its samples
    pass `finite_or_refused`."""
    finite = torch.stack([_finite_rows(value) for value in controls.named_fields().values()]).all(dim=0)
    blamed = torch.nonzero(~finite.cpu())[:, 0].tolist()
    if blamed:
        raise AudiosplatError(_non_finite_sentence(blamed))
    return within_render_range(controls, config.sample_rate, config.n_samples)


def finite_or_refused(audio: torch.Tensor, *, per_event: bool = False) -> torch.Tensor:
    """`audio` if all its samples are finite, else an AudiosplatError in one sentence; with
    `per_event` (audio (E, N), one row per event) it names the events whose rows are not."""
    finite = _finite_rows(audio if per_event else audio.flatten()[None])
    if bool(finite.all()):
        return audio
    raise AudiosplatError(_non_finite_sentence(torch.nonzero(~finite.cpu())[:, 0].tolist() if per_event else []))


def _finite_rows(values: torch.Tensor) -> torch.Tensor:
    """(E, ...) -> (E,) bool: whether each row holds finite values only."""
    return torch.isfinite(values.flatten(1) if values.dim() > 1 else values[:, None]).all(dim=1)


def _non_finite_sentence(events: list[int]) -> str:
    if not events:
        return "the events render non-finite samples (NaN or inf): their controls or rooms are out of range"
    if len(events) == 1:
        return f"event {events[0]} renders non-finite samples (NaN or inf): its controls are out of range"
    listed = ", ".join(map(str, events[:8])) + (f" and {len(events) - 8} more" if len(events) > 8 else "")
    return f"events {listed} render non-finite samples (NaN or inf): their controls are out of range"
