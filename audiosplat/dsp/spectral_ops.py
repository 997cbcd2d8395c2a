"""Zero-phase filtering and causal convolution with hand-written backward passes.

Autograd through `torch.fft` differentiates rfft/irfft with full complex FFTs and complex
products; here each gradient is itself a real FFT filter or correlation, computed with
real FFTs only, and spectra from the forward pass are reused. Same maths as
`dsp.fft_filter` and `dsp.fft_convolve`, which tests hold these to.
"""

from __future__ import annotations

import math

import torch


def _hermitian_weights(n: int, device, dtype) -> torch.Tensor:
    """(n/2+1,) weight of each rfft bin in irfft: 1 for DC and Nyquist, 2 between, over n."""
    weights = torch.full((n // 2 + 1,), 2.0 / n, device=device, dtype=dtype)
    weights[0] = weights[-1] = 1.0 / n
    return weights


class _ZeroPhaseFilter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, signal, gains, spectrum, n):
        if spectrum is None:
            spectrum = torch.fft.rfft(signal)
        ctx.save_for_backward(spectrum, gains)
        ctx.n = n
        return torch.fft.irfft(spectrum[:, None, :] * gains, n=n)

    @staticmethod
    def backward(ctx, grad_out):
        spectrum, gains = ctx.saved_tensors
        n = ctx.n
        grad_spectrum = torch.fft.rfft(grad_out)  # (E, J, K)
        grad_signal = grad_gains = None
        if ctx.needs_input_grad[0]:
            # The filter is a symmetric circulant matrix: its adjoint is itself.
            grad_signal = torch.fft.irfft((grad_spectrum * gains).sum(dim=1), n=n)
        if ctx.needs_input_grad[1]:
            weights = _hermitian_weights(n, gains.device, gains.dtype)
            product = grad_spectrum.conj_physical_().mul_(spectrum[:, None, :])  # in place: one (E, J, K) less
            grad_gains = product.real * weights
        return grad_signal, grad_gains, None, None


def zero_phase_filter(signal: torch.Tensor, gains: torch.Tensor, spectrum: torch.Tensor | None = None) -> torch.Tensor:
    """Filter each signal by J real gain curves over its rfft bins.

    Args:
        signal: (E, N) real signals.
        gains: (E, J, N/2+1) real gain per bin.
        spectrum: optional (E, N/2+1) precomputed rfft of `signal` (a constant, e.g. fixed noise).

    Returns:
        (E, J, N): out[e, j] = irfft(rfft(signal[e]) * gains[e, j]).
    """
    return _ZeroPhaseFilter.apply(signal, gains, spectrum, signal.shape[-1])


def filter_spectrum(spectrum: torch.Tensor, gains: torch.Tensor, n_samples: int) -> torch.Tensor:
    """`zero_phase_filter` of constant signals known by their (E, N/2+1) spectrum alone
    (e.g. fixed noise): (E, J, N), differentiable in the gains."""
    return _ZeroPhaseFilter.apply(None, gains, spectrum, n_samples)


# Odd factors of the FFT lengths used: MKL's transforms of 2^a times these run as fast per
# point as powers of two (larger odd factors do not); a length is then at most 25% longer
# than asked for.
FFT_ODD_FACTORS = (1, 3, 5, 9, 15)


def fft_length_at_least(n: int) -> int:
    """The smallest 2^a k >= n with k in FFT_ODD_FACTORS (then twice it is one too)."""
    return min(k << max(0, math.ceil(math.log2(n / k))) for k in FFT_ODD_FACTORS)


class _CausalConvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, signal, kernels):
        n, n_signal = kernels.shape[-1], signal.shape[-1]
        # a linear convolution of S and N samples has S + N - 1: no wrap-around reaches the
        # first N samples of a circular one this long
        n_fft = fft_length_at_least(n + n_signal - 1)
        signal_spectrum = torch.fft.rfft(signal, n=n_fft)
        kernel_spectra = torch.fft.rfft(kernels, n=n_fft)
        ctx.save_for_backward(signal_spectrum, kernel_spectra)
        ctx.sizes = n, n_signal, n_fft
        return torch.fft.irfft(signal_spectrum[:, None, :] * kernel_spectra, n=n_fft)[..., :n]

    @staticmethod
    def backward(ctx, grad_out):
        signal_spectrum, kernel_spectra = ctx.saved_tensors
        n, n_signal, n_fft = ctx.sizes
        # Gradients of a truncated linear convolution are correlations with the zero-padded
        # output gradient; the same length keeps their circular products free of wrap-around.
        grad_spectrum = torch.fft.rfft(grad_out, n=n_fft)  # (E, J, n_fft/2+1)
        grad_signal = grad_kernels = None
        if ctx.needs_input_grad[0]:
            summed = (grad_spectrum * kernel_spectra.conj()).sum(dim=1)
            grad_signal = torch.fft.irfft(summed, n=n_fft)[..., :n_signal]
        if ctx.needs_input_grad[1]:
            grad_spectrum.mul_(signal_spectrum.conj()[:, None, :])  # in place: one (E, J, n_fft/2+1) less
            grad_kernels = torch.fft.irfft(grad_spectrum, n=n_fft)[..., :n]
        return grad_signal, grad_kernels


def causal_convolution(signal: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each signal convolved with J kernels, causal and truncated to the kernels' N samples.

    A signal that is zero past its first S samples may be given as those S alone: the
    transforms are then S + N long instead of 2N.

    Args:
        signal: (E, S), S <= N
        kernels: (E, J, N)

    Returns:
        (E, J, N): out[e, j, t] = sum_{k <= t, k < S} signal[e, k] * kernels[e, j, t - k].
    """
    return _CausalConvolution.apply(signal, kernels)


LOG_TINY = -87.0


class _GaussWindow(torch.autograd.Function):
    @staticmethod
    def forward(ctx, centre, width, n_points, n_used):
        grid = torch.linspace(0.0, 1.0, n_points, device=centre.device, dtype=centre.dtype)
        peak_point = grid[(centre * (n_points - 1)).round().clamp(0, n_points - 1).long()]
        peak_z = (peak_point - centre) / width  # the window's max sits at the nearest grid point
        grid = grid[:n_used]
        # (grid - c) with both operands broadcast is a slow path in torch; copy, then subtract.
        window = grid.expand(*centre.shape, n_used).clone()
        window.sub_(centre[..., None]).div_(width[..., None]).square_().mul_(-0.5)
        window.add_((0.5 * peak_z * peak_z)[..., None])
        # exp of arguments below -87 lands in float32's denormal range through a slow path;
        # exp(-87) = 1.6e-38 is zero at any precision the synth works at.
        window.clamp_(min=LOG_TINY).exp_()
        ctx.save_for_backward(centre, width, peak_z, window)
        ctx.n_points = n_points
        return window

    @staticmethod
    def backward(ctx, grad_out):
        centre, width, peak_z, window = ctx.saved_tensors
        grid = torch.linspace(0.0, 1.0, ctx.n_points, device=centre.device, dtype=centre.dtype)[: window.shape[-1]]
        weighted = grad_out * window
        z = grid.expand_as(window).clone().sub_(centre[..., None]).div_(width[..., None])
        s0 = weighted.sum(dim=-1)
        s1 = (weighted * z).sum(dim=-1)
        s2 = (weighted.mul_(z).mul_(z)).sum(dim=-1)
        # log w = -z^2/2 + z*^2/2 with z = (x - c)/s and z* at the peak point:
        # d/dc = (z - z*)/s, d/ds = (z^2 - z*^2)/s
        grad_centre = (s1 - peak_z * s0) / width
        grad_width = (s2 - peak_z * peak_z * s0) / width
        return grad_centre, grad_width, None, None


def gauss_window_fused(
    centre: torch.Tensor, width: torch.Tensor, n_points: int, n_used: int | None = None
) -> torch.Tensor:
    """`dsp.gauss_window` in a few in-place passes, with a closed-form backward.

    The peak over the grid is at the grid point nearest the centre (the density is
    unimodal), so the normalisation needs no reduction over the points. With `n_used`,
    only the first `n_used` of the `n_points` values are made (still normalised by the
    peak over all `n_points`): shape (..., n_used).
    """
    return _GaussWindow.apply(centre, width, n_points, n_points if n_used is None else n_used)


def gauss_window_support(centre: torch.Tensor, width: torch.Tensor, n_points: int, n_used: int) -> int:
    """How many of the first `n_used` points some window of `gauss_window_fused` holds
    above its floor exp(LOG_TINY) (1.6e-38): past them, every window is that floor. (E,)
    centres and widths as given to the window; at least 1."""
    centre, width = centre.detach().double().cpu(), width.detach().double().cpu()
    peak_point = (centre * (n_points - 1)).round().clamp(0, n_points - 1) / (n_points - 1)
    peak_z = (peak_point - centre) / width
    # log w = (z*^2 - z^2) / 2 falls below LOG_TINY past z = sqrt(z*^2 - 2 LOG_TINY)
    last = (centre + width * (peak_z.square() - 2.0 * LOG_TINY).sqrt()) * (n_points - 1)
    return int(min(n_used, max(1, math.floor(float(last.max())) + 2))) if len(centre) else 1
