"""Events made only over the samples that reach the clip (`synth.onset_chunks`): the same
clip and the same gradients as events made whole, and as the reference."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from audiosplat.core.config import ModelConfig
from audiosplat.dsp.onset import delay_by_samples, samples_to_bits
from audiosplat.dsp.spectral_ops import FFT_ODD_FACTORS, fft_length_at_least
from audiosplat.synth import render as synth
from audiosplat.synth.reference import reference_clips
from audiosplat.synth.render import envelope_support, event_signals, onset_chunks, render_clips, render_stems, reverb_clips
from tests.synth_helpers import assets_for, assets_in_float64, scattered_model, scattered_notes

N = 4096
CONFIG = ModelConfig(pitches="grid", n_samples=N, n_events=16)
EXACT = dataclasses.replace(CONFIG, pitches="exact")
# Near the start and the end of the clip, a tie, and onsets whose span N - onset + 1 is an
# FFT length exactly (1025: 3072, 2049: 2048, 1537: 2560) or one sample more than one.
ONSETS = [0, 1, 2, N - 1, N - 2, N - 3, 1025, 1024, 2049, 2048, 1537, 1537, 1536, 3000, 700, 2500]
# Chunks of one event, of three, and all in one.
CHUNK_BYTES = {"one": 1, "three": 16 * 16 * N // 6, "all": synth.EVENT_CHUNK_BYTES}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_fft_lengths_are_the_smallest_fast_ones():
    def fast(m: int) -> bool:
        while m % 2 == 0:
            m //= 2
        return m in FFT_ODD_FACTORS

    for n in range(1, 5000):
        assert fft_length_at_least(n) == next(m for m in itertools.count(n) if fast(m))


@pytest.mark.parametrize("chunking", CHUNK_BYTES)
def test_chunks_hold_every_event_once_and_all_it_reaches(chunking, monkeypatch):
    monkeypatch.setattr(synth, "EVENT_CHUNK_BYTES", CHUNK_BYTES[chunking])
    onsets = torch.tensor(ONSETS)
    chunks = onset_chunks(onsets, N, N)
    rows = torch.cat([r for r, _ in chunks])
    assert sorted(rows.tolist()) == list(range(len(ONSETS)))
    assert torch.all(torch.diff(onsets[rows]) >= 0)  # earliest first
    for r, n_used in chunks:
        assert n_used == min(N, fft_length_at_least(n_used))
        assert torch.all(n_used >= (N + 1 - onsets[r]).clamp(max=N))
    assert onset_chunks(onsets, N, 1024)[0][1] == 1024  # never past the event buffer


def _controls(seed: int, pitches: str = "grid", dtype=torch.float64):
    """A scattered model's controls at ONSETS (the seed model's for grid pitches, notes
    for exact ones), every field a leaf with a gradient, and the continuous onsets (a
    fraction of a sample off ONSETS) a leaf too."""
    model = scattered_model(CONFIG, seed=seed) if pitches == "grid" else scattered_notes(EXACT, seed=seed)
    controls, _ = model.double()()
    onsets = torch.tensor(ONSETS)
    fraction = torch.rand(len(ONSETS), generator=torch.Generator().manual_seed(seed), dtype=dtype) * 0.8 - 0.4
    continuous = (onsets.to(dtype) + fraction).clamp(0, N - 1)
    controls = controls.replace(onset_bits=samples_to_bits(onsets, CONFIG.n_time_bits, dtype))
    return controls.map(lambda t: t.detach().clone().requires_grad_(t.is_floating_point()) if t.is_floating_point() else t).replace(
        onset_bits=controls.onset_bits.detach(), onset_continuous=continuous.requires_grad_()
    )


def _whole_events(controls, assets) -> torch.Tensor:
    """The clip with every event made over all L samples, then placed (no chunks by onset)."""
    placed = delay_by_samples(event_signals(controls, assets), controls.onset_continuous, N)
    return reverb_clips(placed, controls, assets)


@pytest.mark.parametrize("pitches", ["grid", "exact"])
@pytest.mark.parametrize("chunking", CHUNK_BYTES)
def test_render_equals_the_reference(chunking, pitches, monkeypatch):
    """A render (no gradients, onsets from the bits) made chunk by chunk."""
    monkeypatch.setattr(synth, "EVENT_CHUNK_BYTES", CHUNK_BYTES[chunking])
    assets = assets_in_float64(assets_for(CONFIG if pitches == "grid" else EXACT, seed=2))
    controls = _controls(seed=3, pitches=pitches).map(lambda t: t.detach()).replace(onset_continuous=None)
    with torch.no_grad():
        fast, slow = render_clips(controls, assets), reference_clips(controls, assets)
        stems, placed = render_stems(controls, assets), synth.render_placed(controls, assets)
    assert float((fast - slow).abs().max() / slow.abs().max()) <= 1e-9
    assert float((stems.sum(0) - slow[0]).abs().max() / slow.abs().max()) <= 1e-9
    for e, onset in enumerate(ONSETS):  # in its place, and silent before its onset
        assert torch.all(placed[e, :onset] == 0) and float(placed[e, onset:].abs().max()) > 0


@pytest.mark.parametrize("pitches", ["grid", "exact"])
@pytest.mark.parametrize("chunking", CHUNK_BYTES)
def test_continuous_onsets_forward_and_gradients_equal_whole_events_and_the_reference(chunking, pitches, monkeypatch):
    """The direct model's case: a linear loss sum(clip * g), in float64, differentiated in
    every control (exact pitches' pitch_hz too) and the continuous onsets. Whole events
    (and the reference, which has no continuous onsets, for the other controls) give the
    same clip and gradients."""
    monkeypatch.setattr(synth, "EVENT_CHUNK_BYTES", CHUNK_BYTES[chunking])
    assets = assets_in_float64(assets_for(CONFIG if pitches == "grid" else EXACT, seed=4))
    controls = _controls(seed=5, pitches=pitches)
    assert ("pitch_hz" in controls.named_fields()) == (pitches == "exact")
    # envelopes that end early: the convolutions take their support alone
    assert envelope_support(controls.envelope_centre_s, controls.envelope_width_s, CONFIG.sample_rate, N, N) < N // 2
    fields = controls.named_fields()
    g = torch.randn(1, N, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    assert any(n_used < N for _, n_used in onset_chunks(torch.tensor(ONSETS), N, N)) == (chunking != "all")

    def clip_and_grads(render):
        clip = render(controls, assets)
        leaves = [*fields.values(), controls.onset_continuous]
        grads = torch.autograd.grad((clip * g).sum(), leaves, allow_unused=True)
        return clip.detach(), dict(zip([*fields, "onset_continuous"], grads))

    chunked, grads = clip_and_grads(render_clips)
    whole, grads_whole = clip_and_grads(_whole_events)
    reference, grads_reference = clip_and_grads(reference_clips)
    assert float((chunked - whole).abs().max() / whole.abs().max()) <= 1e-9
    assert float((chunked - reference).abs().max() / reference.abs().max()) <= 1e-9
    for name, grad in grads.items():
        assert torch.isfinite(grad).all() and float(grad.norm()) > 0, name
        assert _rel(grad, grads_whole[name]) < 1e-9, (name, _rel(grad, grads_whole[name]))
        if name != "onset_continuous":
            assert _rel(grad, grads_reference[name]) < 1e-9, (name, _rel(grad, grads_reference[name]))
