"""Onset times as bits (method.md §5): B rows of two logits per event, row 0 the most
significant. The forward pass takes a hard choice per row; the backward pass uses the
softmax's gradient (straight-through), so every bit's logits receive a gradient."""

from __future__ import annotations

import torch

from audiosplat.dsp.core import fft_convolve


def straight_through_bits(logits: torch.Tensor) -> torch.Tensor:
    """Hard one-hot choice per row with the softmax's gradient.

    Args:
        logits: (..., B, 2)

    Returns:
        (..., B, 2) exactly 0/1 in value (soft - soft.detach() is exactly 0), softmax gradient.
    """
    soft = torch.softmax(logits, dim=-1)
    hard = torch.nn.functional.one_hot(logits.argmax(dim=-1), 2).to(logits.dtype)
    return hard + (soft - soft.detach())


def bit_weights(n_bits: int, device: torch.device | None = None) -> torch.Tensor:
    """(B,) int64 samples added by each row when set: 2^(B-1-i), most significant first."""
    return 2 ** torch.arange(n_bits - 1, -1, -1, device=device, dtype=torch.int64)


def bits_to_samples(bits: torch.Tensor) -> torch.Tensor:
    """(..., B, 2) one-hot rows -> (...,) int64 onset in samples."""
    chosen = bits.detach().argmax(dim=-1)
    return (chosen * bit_weights(bits.shape[-2], bits.device)).sum(dim=-1)


def samples_to_bits(onset_samples: torch.Tensor, n_bits: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(...,) int64 onsets in [0, 2^B) -> (..., B, 2) exact one-hot rows."""
    onset_samples = onset_samples.to(torch.int64)
    if bool(((onset_samples < 0) | (onset_samples >= 2**n_bits)).any()):
        raise ValueError(f"onsets must lie in [0, {2**n_bits}) samples")
    chosen = (onset_samples[..., None] // bit_weights(n_bits, onset_samples.device)) % 2
    return torch.nn.functional.one_hot(chosen, 2).to(dtype)


def onset_impulse(bits: torch.Tensor) -> torch.Tensor:
    """Closed form of the onset impulse: impulse[n] = prod_i bits[i, bit_i(n)].

    The Kronecker product of the B rows, most significant first, so position n has the
    binary digits of n. Equal to `onset_impulse_by_convolution` and far cheaper.

    Args:
        bits: (E, B, 2)

    Returns:
        (E, 2^B)
    """
    impulse = bits[:, 0, :]
    for row in range(1, bits.shape[1]):
        impulse = (impulse[:, :, None] * bits[:, row, None, :]).reshape(bits.shape[0], -1)
    return impulse


def onset_impulse_by_convolution(bits: torch.Tensor) -> torch.Tensor:
    """The original's construction: one two-tap signal per row (weight of 'unset' at sample
    0, weight of 'set' at sample 2^(B-1-i)), convolved together. Slow reference."""
    n_events, n_bits, _ = bits.shape
    n_samples = 2**n_bits
    impulse = None
    for row, step in enumerate(bit_weights(n_bits).tolist()):
        taps = torch.zeros(n_events, n_samples, dtype=bits.dtype, device=bits.device)
        taps = taps.index_put((torch.arange(n_events), torch.zeros(n_events, dtype=torch.int64)), bits[:, row, 0])
        taps = taps.index_put((torch.arange(n_events), torch.full((n_events,), step)), bits[:, row, 1], accumulate=True)
        impulse = taps if impulse is None else fft_convolve(impulse, taps)
    return impulse


def delay_by_convolution(signal: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Reference delay: convolve each event with its onset impulse, truncated to N."""
    return fft_convolve(signal, onset_impulse_by_convolution(bits))


def _shifted_index(n_out: int, shift: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For out[e, t] = x[e, t + shift[e]]: the gather index (E, n_out), clamped into x's
    n_in samples, and the mask of the positions that fall inside x."""
    # arange + shift broadcast both ways is a slow path in torch; expand, copy, add in place.
    index = torch.arange(n_out, device=shift.device).expand(shift.shape[0], n_out).clone()
    index.add_(shift[:, None])
    inside = (index >= 0) & (index < n_in)
    return index.clamp_(0, n_in - 1), inside


def shift_rows(x: torch.Tensor, shift: torch.Tensor, n_out: int) -> torch.Tensor:
    """out[e, t] = x[e, t + shift[e]] where that lies inside x, else 0: (E, n_out).

    On the CPU, one copy of the overlapping span per row (no (E, n_out) int64 index, which
    is twice the output); elsewhere, where many small kernels cost more, `shift_rows_by_gather`."""
    if x.device.type != "cpu":
        return shift_rows_by_gather(x, shift, n_out)
    out = x.new_zeros(x.shape[0], n_out)
    n_in = x.shape[-1]
    for row, step in enumerate(shift.tolist()):
        first, last = max(0, -step), min(n_out, n_in - step)  # out[first:last] lies inside x
        if first < last:
            out[row, first:last] = x[row, first + step : last + step]
    return out


def shift_rows_by_gather(x: torch.Tensor, shift: torch.Tensor, n_out: int) -> torch.Tensor:
    """`shift_rows` as one gather through an (E, n_out) index."""
    index, inside = _shifted_index(n_out, shift, x.shape[-1])
    return x.gather(1, index).mul_(inside)


def _row_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum_t a[e, t] * b[e, t]: (E, T), (E, T) -> (E,). A product and a sum, not bmm: the
    sum of a row is the same whatever the number of threads (a fit must not depend on it)."""
    return (a * b).sum(dim=-1)


class _DelayByBits(torch.autograd.Function):
    """Exact delay by the onset bits, as an index shift with a closed-form backward.

    Because the forward bits are exactly one-hot, the impulse is a single 1 at n0 and
    d impulse[n] / d bits[i, k] is 1 only at n = n0 with bit i set to k. So the gradient of
    a bit's logit needs the correlation of the output gradient with the signal at just
    B + 1 lags, not the full convolution the reference differentiates through.
    """

    @staticmethod
    def forward(ctx, signal: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        onset = bits_to_samples(bits)
        ctx.save_for_backward(signal, onset)
        ctx.n_bits = bits.shape[1]
        return shift_rows(signal, -onset, 2 ** ctx.n_bits)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        signal, onset = ctx.saved_tensors
        grad_signal = shift_rows(grad_out, onset, signal.shape[-1])
        if not ctx.needs_input_grad[1]:
            return grad_signal, None
        at_onset = (grad_signal * signal).sum(dim=-1)
        steps = bit_weights(ctx.n_bits, signal.device)
        flipped = onset[:, None] ^ steps[None, :]  # (E, B): the onset with one bit flipped
        at_flip = lagged_dot(grad_out, signal, flipped)
        is_set = ((onset[:, None] // steps[None, :]) % 2).bool()
        grad_set = torch.where(is_set, at_onset[:, None], at_flip)
        grad_unset = torch.where(is_set, at_flip, at_onset[:, None])
        return grad_signal, torch.stack([grad_unset, grad_set], dim=-1)


def lagged_dot(later: torch.Tensor, earlier: torch.Tensor, lags: torch.Tensor) -> torch.Tensor:
    """c[e, k] = sum_u later[e, u + lags[e, k]] * earlier[e, u]: a cross-correlation at a
    few lags per row. (E, N), (E, L) with L <= N, (E, K) int64 in [0, N) -> (E, K).

    On the CPU, one dot product of views per lag (no copies); elsewhere, where many small
    kernels cost more than arithmetic, the full correlation by FFT, read at the lags.
    """
    n, length = later.shape[-1], earlier.shape[-1]
    if later.device.type == "cpu":
        out = later.new_empty(lags.shape)
        for e, row in enumerate(lags.tolist()):
            for k, lag in enumerate(row):
                overlap = min(length, n - lag)
                out[e, k] = torch.dot(later[e, lag : lag + overlap], earlier[e, :overlap])
        return out
    return lagged_dot_by_fft(later, earlier, lags)


def lagged_dot_by_fft(later: torch.Tensor, earlier: torch.Tensor, lags: torch.Tensor) -> torch.Tensor:
    """`lagged_dot` through the full correlation irfft(rfft(later) * conj(rfft(earlier)))."""
    n = later.shape[-1]
    spectrum = torch.fft.rfft(later, n=2 * n) * torch.fft.rfft(earlier, n=2 * n).conj()
    return torch.fft.irfft(spectrum, n=2 * n).gather(1, lags)


def delay_by_bits(signal: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Delay each event by its onset (truncated at N), differentiable in the bits.

    Args:
        signal: (E, L) events in their own time, L <= N (zero beyond L).
        bits: (E, B, 2) exactly one-hot rows (from `straight_through_bits` or `samples_to_bits`), 2^B == N.

    Returns:
        (E, N) events placed on the clip.
    """
    return _DelayByBits.apply(signal, bits)


class _DelayBySamples(torch.autograd.Function):
    """Delay by a continuous onset: the forward shifts by the rounded onset (exactly what
    the stored integer onset renders); the backward gives the onset the gradient of a
    continuous shift, d out[n] / d onset = -signal'[n - onset] (central differences)."""

    @staticmethod
    def forward(ctx, signal: torch.Tensor, onset_samples: torch.Tensor, n_out: int) -> torch.Tensor:
        onset = onset_samples.detach().round().long()
        ctx.save_for_backward(signal, onset)
        return shift_rows(signal, -onset, n_out)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        signal, onset = ctx.saved_tensors
        grad_signal = shift_rows(grad_out, onset, signal.shape[-1])
        if not ctx.needs_input_grad[1]:
            return grad_signal, None, None
        # -sum_t g[t] (s[t+1] - s[t-1]) / 2 with s zero outside, as two lagged dot products
        ahead = _row_dot(grad_signal[:, :-1], signal[:, 1:])
        behind = _row_dot(grad_signal[:, 1:], signal[:, :-1])
        return grad_signal, 0.5 * (behind - ahead), None


def delay_by_samples(signal: torch.Tensor, onset_samples: torch.Tensor, n_out: int) -> torch.Tensor:
    """Delay each event by a continuous onset, rendered at the nearest sample (truncated at
    n_out), differentiable in the onset. (E, L), (E,) float samples in [0, n_out) -> (E, n_out)."""
    return _DelayBySamples.apply(signal, onset_samples, n_out)
