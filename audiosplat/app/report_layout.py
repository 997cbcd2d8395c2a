"""Where a report's timeline puts each event: its amplitude envelope over time, its energy,
and, for a model whose events have no pitch of their own to sort by, a 1-D t-SNE of its
latents (van der Maaten and Hinton, "Visualizing Data using t-SNE", JMLR 2008). NumPy only:
the page needs no scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENVELOPE_FRAME = 512  # samples per point of a drawn envelope: 23 ms at 22050 Hz
AUDIBLE_DB = -40.0  # an envelope is drawn, and a stem kept, while it is above this, relative to its peak


@dataclass(frozen=True)
class Envelope:
    """One event's amplitude envelope where it is audible.

    Attributes:
        start_s: time of the first point, seconds (the frame holding the onset).
        frame_s: seconds between points.
        level: (P,) RMS per frame divided by the event's peak RMS, in (0, 1].
    """

    start_s: float
    frame_s: float
    level: np.ndarray

    @property
    def end_s(self) -> float:
        return self.start_s + self.frame_s * len(self.level)


def event_envelopes(stems: np.ndarray, onset_samples: np.ndarray, sample_rate: int, frame: int = ENVELOPE_FRAME) -> list[Envelope]:
    """Each stem's envelope from the frame of its onset to its last frame above AUDIBLE_DB.

    Args:
        stems: (E, N) the events rendered alone.
        onset_samples: (E,) each event's onset.
    """
    frames = stems.shape[1] // frame
    rms = np.sqrt((stems[:, : frames * frame].astype(np.float64) ** 2).reshape(len(stems), frames, frame).mean(axis=2))
    peak = np.maximum(rms.max(axis=1, keepdims=True), 1e-30)
    level = rms / peak
    audible = level > 10 ** (AUDIBLE_DB / 20)
    envelopes = []
    for e in range(len(stems)):
        first = min(int(onset_samples[e]) // frame, frames - 1)
        loud = np.flatnonzero(audible[e, first:])
        last = first + (int(loud[-1]) + 1 if loud.size else 1)
        envelopes.append(Envelope(first * frame / sample_rate, frame / sample_rate, level[e, first:last]))
    return envelopes


def energies(stems: np.ndarray) -> np.ndarray:
    """(E,) each stem's energy, sum of squares over its samples. stems: (E, N)."""
    return (stems.astype(np.float64) ** 2).sum(axis=1)


def tsne_1d(points: np.ndarray, *, steps: int = 500, rate: float = 5.0) -> np.ndarray:
    """(M,) positions in [0, 1] of M points (M, D) on a line, neighbours kept together:
    exact t-SNE with the paper's schedule (early exaggeration 12 for the first 100 steps,
    momentum 0.5 then 0.8), perplexity min(30, (M - 1) / 3), started from the first
    principal component: on a line, points cannot pass each other, so clusters started
    interleaved at random stay so. Each dimension is min-max normalised first, as
    `inspect --plot` does. Deterministic: no random start. `rate`: the gradient step, far
    below the paper's 100-200 (tuned for thousands of points in 2-D), which on a line of
    tens of points throws clusters through each other."""
    x = np.asarray(points, dtype=np.float64)
    m = len(x)
    if m < 3:
        return np.linspace(0.0, 1.0, m) if m > 1 else np.full(m, 0.5)
    span = np.ptp(x, axis=0)
    x = (x - x.min(axis=0)) / np.where(span > 0, span, 1.0)
    p = _joint_probabilities(x, perplexity=max(1.0, min(30.0, (m - 1) / 3.0)))
    y = _first_component(x)
    velocity = np.zeros(m)
    for step in range(steps):
        diff = y[:, None] - y[None, :]
        kernel = 1.0 / (1.0 + diff**2)
        np.fill_diagonal(kernel, 0.0)
        q = np.maximum(kernel / kernel.sum(), 1e-12)
        exaggeration = 12.0 if step < 100 else 1.0
        gradient = 4.0 * ((exaggeration * p - q) * kernel * diff).sum(axis=1)
        velocity = (0.5 if step < 250 else 0.8) * velocity - rate * gradient
        y = y + velocity
    return (y - y.min()) / max(float(np.ptp(y)), 1e-12)


def _first_component(x: np.ndarray) -> np.ndarray:
    """(M,) x (M, D) projected on its first principal component (sign fixed so its largest
    loading is positive), scaled to a standard deviation of 1e-4 (t-SNE's start)."""
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0] * np.sign(vt[0][np.abs(vt[0]).argmax()])
    y = centred @ axis
    return y * 1e-4 / max(float(y.std()), 1e-12)


def _joint_probabilities(x: np.ndarray, perplexity: float) -> np.ndarray:
    """(M, M) symmetric affinities: each row's Gaussian bandwidth found by bisection so that
    its entropy is log(perplexity); x: (M, D)."""
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
    target = np.log(perplexity)
    p = np.zeros_like(d2)
    for i in range(len(x)):
        lo, hi, beta = 0.0, np.inf, 1.0
        others = np.delete(d2[i], i)
        for _ in range(64):
            weights = np.exp(-(others - others.min()) * beta)
            row = weights / weights.sum()
            entropy = -(row * np.log(np.maximum(row, 1e-300))).sum()
            if abs(entropy - target) < 1e-5:
                break
            if entropy > target:  # too flat: narrow the Gaussian
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, np.arange(len(x)) != i] = row
    return (p + p.T) / (2 * len(x))
