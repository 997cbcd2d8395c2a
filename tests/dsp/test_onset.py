"""Onset bits (method.md §5): straight-through choice, bit order, the fast delay and its
closed-form gradient against the original's construction by convolutions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiosplat.dsp.onset import (
    bit_weights,
    bits_to_samples,
    delay_by_bits,
    delay_by_convolution,
    lagged_dot,
    lagged_dot_by_fft,
    onset_impulse,
    onset_impulse_by_convolution,
    samples_to_bits,
    shift_rows,
    shift_rows_by_gather,
    straight_through_bits,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


# --- straight-through --------------------------------------------------------------------


def test_straight_through_values_are_exactly_one_hot():
    logits = torch.randn(5, 12, 2, generator=_gen(0)) * 3
    bits = straight_through_bits(logits)
    assert bits.shape == logits.shape
    assert torch.all((bits == 0) | (bits == 1))
    assert torch.all(bits.sum(-1) == 1)
    assert torch.equal(bits.argmax(-1), logits.argmax(-1))


def test_straight_through_gradient_is_the_softmax_gradient():
    logits = torch.randn(3, 10, 2, generator=_gen(1), dtype=torch.float64, requires_grad=True)
    g = torch.randn(3, 10, 2, generator=_gen(2), dtype=torch.float64)
    (grad_st,) = torch.autograd.grad((straight_through_bits(logits) * g).sum(), logits)
    (grad_soft,) = torch.autograd.grad((torch.softmax(logits, -1) * g).sum(), logits)
    assert torch.equal(grad_st, grad_soft)
    # and it is the softmax Jacobian p (g - <p, g>) written out
    p = torch.softmax(logits.detach(), -1)
    torch.testing.assert_close(grad_st, p * (g - (p * g).sum(-1, keepdim=True)), rtol=1e-12, atol=1e-15)


# --- bits <-> samples ---------------------------------------------------------------------


def test_bit_weights_most_significant_first():
    assert bit_weights(4).tolist() == [8, 4, 2, 1]
    assert bit_weights(16)[0] == 2**15 and bit_weights(16)[-1] == 1


@pytest.mark.parametrize("n_bits", [1, 5, 16])
def test_samples_bits_round_trip(n_bits):
    onsets = torch.randint(0, 2**n_bits, (200,), generator=_gen(n_bits))
    onsets[:2] = torch.tensor([0, 2**n_bits - 1])
    bits = samples_to_bits(onsets, n_bits)
    assert bits.shape == (200, n_bits, 2) and bits.dtype == torch.float32
    assert torch.all(bits.sum(-1) == 1)
    assert torch.equal(bits_to_samples(bits), onsets)
    # explicit digits: row i is bit (B-1-i) of the onset
    for onset, rows in zip(onsets[:20].tolist(), bits[:20]):
        digits = [int(c) for c in format(onset, f"0{n_bits}b")]
        assert rows.argmax(-1).tolist() == digits


def test_samples_to_bits_rejects_out_of_range():
    with pytest.raises(ValueError):
        samples_to_bits(torch.tensor([16]), 4)
    with pytest.raises(ValueError):
        samples_to_bits(torch.tensor([-1]), 4)


def test_bits_to_samples_of_straight_through_output():
    logits = torch.randn(7, 9, 2, generator=_gen(3))
    expected = (logits.argmax(-1) * bit_weights(9)).sum(-1)
    assert torch.equal(bits_to_samples(straight_through_bits(logits)), expected)


# --- which row delays by how much --------------------------------------------------------


@pytest.mark.parametrize("delay", [delay_by_bits, delay_by_convolution])
def test_row_zero_delays_by_half_the_clip_and_last_row_by_one_sample(delay):
    n_bits = 10
    n = 2**n_bits
    signal = torch.zeros(3, n, dtype=torch.float64)
    signal[:, 0] = 1.0  # impulse ...
    signal[:, 1:6] = torch.tensor([0.5, -0.25, 0.3, -0.1, 0.05], dtype=torch.float64)  # ... then a short burst
    bits = samples_to_bits(torch.zeros(3, dtype=torch.int64), n_bits, torch.float64).clone()
    bits[0, 0] = torch.tensor([0.0, 1.0])  # only row 0 set
    bits[1, n_bits - 1] = torch.tensor([0.0, 1.0])  # only row B-1 set
    # event 2: no row set
    out = delay(signal, bits)
    expected = torch.zeros_like(signal)
    expected[0, n // 2 :] = signal[0, : n // 2]
    expected[1, 1:] = signal[1, :-1]
    expected[2] = signal[2]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_delay_truncates_at_the_clip_end():
    n_bits, n = 6, 64
    signal = torch.arange(1, n + 1, dtype=torch.float64)[None]
    onset = 50
    out = delay_by_bits(signal, samples_to_bits(torch.tensor([onset]), n_bits, torch.float64))
    assert torch.all(out[0, :onset] == 0)
    assert torch.equal(out[0, onset:], signal[0, : n - onset])


# --- the onset impulse --------------------------------------------------------------------


@pytest.mark.parametrize("n_bits", [3, 6, 9])
def test_onset_impulse_closed_form_equals_convolutions_for_soft_rows(n_bits):
    gen = _gen(10 + n_bits)
    soft = torch.softmax(torch.randn(4, n_bits, 2, generator=gen, dtype=torch.float64) * 2, -1)
    closed = onset_impulse(soft)
    conv = onset_impulse_by_convolution(soft)
    assert closed.shape == (4, 2**n_bits)
    torch.testing.assert_close(closed, conv, rtol=1e-9, atol=1e-14)
    # a probability distribution over onsets whose digit marginals are the rows
    torch.testing.assert_close(closed.sum(-1), torch.ones(4, dtype=torch.float64), rtol=1e-12, atol=0)
    positions = torch.arange(2**n_bits)
    for i, w in enumerate(bit_weights(n_bits).tolist()):
        set_here = ((positions // w) % 2).bool()
        torch.testing.assert_close(closed[:, set_here].sum(-1), soft[:, i, 1], rtol=1e-12, atol=1e-14)
    # unnormalised rows too: the impulse is the Kronecker product of the rows
    raw = torch.randn(2, n_bits, 2, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(onset_impulse(raw), onset_impulse_by_convolution(raw), rtol=1e-9, atol=1e-12)
    kron = raw[0, 0]
    for i in range(1, n_bits):
        kron = torch.kron(kron, raw[0, i])
    torch.testing.assert_close(onset_impulse(raw)[0], kron, rtol=1e-12, atol=0)


def test_onset_impulse_one_hot_is_a_single_one_at_the_onset():
    onsets = torch.tensor([0, 1, 37, 255])
    impulse = onset_impulse(samples_to_bits(onsets, 8))
    assert torch.equal(impulse, torch.nn.functional.one_hot(onsets, 256).float())


def test_onset_impulse_gradcheck():
    bits = torch.softmax(torch.randn(2, 3, 2, generator=_gen(4), dtype=torch.float64), -1).requires_grad_()
    assert torch.autograd.gradcheck(onset_impulse, (bits,))
    assert torch.autograd.gradcheck(onset_impulse_by_convolution, (bits,))


# --- the fast delay against the reference, forward and backward ----------------------------


@pytest.mark.parametrize("n_bits", [8, 10, 12])
@pytest.mark.parametrize("n_events", [1, 3, 6])
def test_delay_by_bits_matches_convolution_forward_and_backward(n_bits, n_events):
    n = 2**n_bits
    gen = _gen(100 * n_bits + n_events)
    signal = torch.randn(n_events, n, generator=gen, dtype=torch.float64, requires_grad=True)
    logits = (torch.randn(n_events, n_bits, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    g = torch.randn(n_events, n, generator=gen, dtype=torch.float64)

    fast = delay_by_bits(signal, straight_through_bits(logits))
    slow = delay_by_convolution(signal, straight_through_bits(logits))
    assert _rel(fast, slow) < 1e-9
    grads_fast = torch.autograd.grad((fast * g).sum(), (signal, logits))
    grads_slow = torch.autograd.grad((slow * g).sum(), (signal, logits))
    for a, b in zip(grads_fast, grads_slow):
        assert _rel(a, b) < 1e-9
    # per row, too (rows' gradients differ by orders of magnitude)
    for e in range(n_events):
        for i in range(n_bits):
            a, b = grads_fast[1][e, i], grads_slow[1][e, i]
            assert float((a - b).abs().max()) <= 1e-9 * float(b.abs().max()) + 1e-12


def test_delay_by_bits_gradients_reach_every_bit_row():
    n_bits, n_events = 11, 4
    gen = _gen(7)
    signal = torch.randn(n_events, 2**n_bits, generator=gen, requires_grad=True)
    logits = torch.randn(n_events, n_bits, 2, generator=gen).requires_grad_()
    g = torch.randn(n_events, 2**n_bits, generator=gen)
    grad_signal, grad_logits = torch.autograd.grad((delay_by_bits(signal, straight_through_bits(logits)) * g).sum(), (signal, logits))
    assert torch.isfinite(grad_logits).all()
    assert torch.all(grad_logits != 0)
    # the two logits of a row get opposite gradients (softmax over two options)
    torch.testing.assert_close(grad_logits[..., 0], -grad_logits[..., 1])
    # the signal's gradient is the output gradient shifted back by the onset
    onsets = bits_to_samples(straight_through_bits(logits))
    for e, onset in enumerate(onsets.tolist()):
        assert torch.equal(grad_signal[e, : 2**n_bits - onset], g[e, onset:])
        assert torch.all(grad_signal[e, 2**n_bits - onset :] == 0)


def test_delay_by_bits_gradcheck_in_the_signal():
    n_bits = 5
    signal = torch.randn(3, 2**n_bits, generator=_gen(8), dtype=torch.float64, requires_grad=True)
    bits = samples_to_bits(torch.tensor([0, 9, 31]), n_bits, torch.float64)
    assert torch.autograd.gradcheck(lambda s: delay_by_bits(s, bits), (signal,))


def test_lagged_dot_cpu_loop_equals_fft_correlation():
    gen = _gen(9)
    n = 256
    later = torch.randn(3, n, generator=gen, dtype=torch.float64)
    earlier = torch.randn(3, n, generator=gen, dtype=torch.float64)
    lags = torch.randint(0, n, (3, 5), generator=gen)
    lags[0, 0] = 0
    lags[0, 1] = n - 1
    loop = lagged_dot(later, earlier, lags)
    fft = lagged_dot_by_fft(later, earlier, lags)
    direct = torch.tensor(
        [[float(np.dot(later[e, k:].numpy(), earlier[e, : n - k].numpy())) for k in row] for e, row in enumerate(lags.tolist())],
        dtype=torch.float64,
    )
    torch.testing.assert_close(loop, direct, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fft, direct, rtol=1e-9, atol=1e-10)


def test_row_shift_by_copies_equals_the_gather_used_off_the_cpu():
    """The CPU's copy per row and the gather other devices use: same values for shifts
    either way, past either end, longer and shorter outputs."""
    x = torch.randn(5, 12, generator=_gen(21))
    shift = torch.tensor([0, 3, -4, 12, -20])
    for n_out in (12, 7, 20):
        copied = shift_rows(x, shift, n_out)
        assert torch.equal(copied, shift_rows_by_gather(x, shift, n_out))
        for row, step in enumerate(shift.tolist()):
            expected = [float(x[row, t + step]) if 0 <= t + step < 12 else 0.0 for t in range(n_out)]
            assert copied[row].tolist() == expected
