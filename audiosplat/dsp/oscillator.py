"""Exact pitches: each event's own wave, its band-limited periods read at its pitch.

`oscillate` reads the periods a few rows at a time with a written-out backward pass;
`oscillate_reference`, all rows at once through autograd, is what tests hold it to.
"""

from __future__ import annotations

import torch

from audiosplat.dsp.wavetable import CYCLE_POINTS, band_limited_cycles, cycle_positions


def oscillate(pitch_hz: torch.Tensor, shape_weights: torch.Tensor, n_samples: int, sample_rate: int) -> torch.Tensor:
    """Each event's own wave: the mix of the four band-limited shapes (`band_limited_cycles`)
    at its pitch, phase 0 at sample 0, read out as the wavetable reads its rows, so a pitch
    on the grid sounds exactly as that row does. Differentiable in both inputs: the phase
    (f t mod 1, float64) carries the pitch's gradient, f'(t) = t w'(phase). Read a few
    rows at a time (`read_periods`); `oscillate_reference` reads them all at once.

    Args:
        pitch_hz: (E,) pitches, below Nyquist.
        shape_weights: (E, 4) weights of saw, square, triangle and sine.

    Returns:
        (E, n_samples) in shape_weights' dtype, on its device.
    """
    mixed, points_per_hz = _mixed_periods(pitch_hz, shape_weights, n_samples, sample_rate)
    return read_periods(pitch_hz.double(), mixed, points_per_hz)


def oscillate_reference(pitch_hz: torch.Tensor, shape_weights: torch.Tensor, n_samples: int, sample_rate: int) -> torch.Tensor:
    """`oscillate` with every row's positions and reads made at once and differentiated by
    autograd: the obviously-correct version, which tests hold the fast one to."""
    mixed, points_per_hz = _mixed_periods(pitch_hz, shape_weights, n_samples, sample_rate)
    return read_periods_reference(pitch_hz.double(), mixed, points_per_hz)


def read_periods(pitch_hz: torch.Tensor, periods: torch.Tensor, points_per_hz: torch.Tensor) -> torch.Tensor:
    """Waves read from one period each by linear interpolation at (f t mod 1) P, a few rows
    at a time (`_ReadPeriods`): (E,) float64 pitches, (E, P) periods and (N,) float64 times
    in period points per Hz, t P -> (E, N) in the periods' dtype, differentiable in the
    pitches and the periods."""
    return _ReadPeriods.apply(pitch_hz, periods, points_per_hz)


def read_periods_reference(pitch_hz: torch.Tensor, periods: torch.Tensor, points_per_hz: torch.Tensor) -> torch.Tensor:
    """`read_periods` with all rows at once, differentiated by autograd."""
    index, frac = cycle_positions(pitch_hz, points_per_hz, periods.shape[-1])
    wrapped = torch.cat([periods, periods[:, :1]], dim=-1)  # the point after the last is the first
    return torch.lerp(wrapped.gather(1, index), wrapped[:, 1:].gather(1, index), frac.to(periods.dtype))


def _mixed_periods(pitch_hz: torch.Tensor, shape_weights: torch.Tensor, n_samples: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each event's period, its shapes mixed, (E, CYCLE_POINTS) in shape_weights' dtype, and
    the (N,) float64 sample times in period points per Hz, t CYCLE_POINTS, both on
    shape_weights' device."""
    periods = band_limited_cycles(pitch_hz.detach().double().cpu(), sample_rate).to(shape_weights)  # (4, E, P)
    mixed = torch.einsum("es,sep->ep", shape_weights, periods)
    t_s = torch.arange(n_samples, dtype=torch.float64, device=shape_weights.device) / sample_rate
    return mixed, t_s * CYCLE_POINTS


# Rows of waves read at a time: their (rows, N) float64 positions, int64 points and float
# reads then stay in the cache (at N = 65536, 4 rows: 2 MiB each) instead of streaming
# (E, N) intermediates through memory, which made the read memory-bound (blocks of one row
# were slower again: docs/benchmarks.md, "Floors").
READ_BLOCK_BYTES = 2**21


class _ReadPeriods(torch.autograd.Function):
    """Waves read from their periods by linear interpolation at (f t mod 1) P, a block of
    rows at a time; the backward pass remakes each block's positions instead of keeping them."""

    @staticmethod
    def forward(ctx, pitch_hz, periods, points_per_hz):
        waves = periods.new_empty(len(periods), len(points_per_hz))
        for rows in _row_blocks(len(periods), len(points_per_hz)):
            wrapped, index, frac = _block_positions(pitch_hz[rows], periods[rows], points_per_hz)
            torch.lerp(wrapped.gather(1, index), wrapped[:, 1:].gather(1, index), frac, out=waves[rows])
        ctx.save_for_backward(pitch_hz, periods, points_per_hz)
        return waves

    @staticmethod
    def backward(ctx, grad_waves):
        pitch_hz, periods, points_per_hz = ctx.saved_tensors
        grad_pitch = torch.zeros_like(pitch_hz) if ctx.needs_input_grad[0] else None
        grad_periods = torch.zeros_like(periods) if ctx.needs_input_grad[1] else None
        for rows in _row_blocks(len(periods), len(points_per_hz)):
            wrapped, index, frac = _block_positions(pitch_hz[rows], periods[rows], points_per_hz)
            grad = grad_waves[rows]
            if grad_pitch is not None:
                # w = a + frac (b - a), frac = f t P - its whole part: dw/df = (b - a) t P
                slope = wrapped[:, 1:].gather(1, index).sub_(wrapped.gather(1, index))
                grad_pitch[rows] = (slope.mul_(grad).double() * points_per_hz).sum(dim=-1)
            if grad_periods is not None:
                grad_wrapped = torch.zeros_like(wrapped)
                above = grad * frac
                grad_wrapped.scatter_add_(1, index, grad - above).scatter_add_(1, index + 1, above)
                grad_wrapped[:, 0] += grad_wrapped[:, -1]  # the point after the last is the first
                grad_periods[rows] = grad_wrapped[:, :-1]
        return grad_pitch, grad_periods, None


def _row_blocks(n_rows: int, n_samples: int) -> list[slice]:
    size = max(1, READ_BLOCK_BYTES // (8 * n_samples))
    return [slice(first, min(first + size, n_rows)) for first in range(0, n_rows, size)]


def _block_positions(pitch_hz: torch.Tensor, periods: torch.Tensor, points_per_hz: torch.Tensor):
    """For some rows: their periods with the first point repeated at the end (rows, P+1),
    and where to read them (`cycle_positions`), the fraction in the periods' dtype."""
    index, frac = cycle_positions(pitch_hz, points_per_hz, periods.shape[-1])
    return torch.cat([periods, periods[:, :1]], dim=-1), index, frac.to(periods.dtype)
