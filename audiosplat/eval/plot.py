"""The timeline picture of a .splat (method.md §8, in the renderer's bit order), with the
source's and the render's spectrograms above it when a source is given. Needs the `plot`
extra (matplotlib, scikit-learn); draws headless."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audiosplat.core.errors import AudiosplatError
from audiosplat.io.atomic import atomic_path
from audiosplat.io.splatfile import Splat

FRAME = 256  # samples per point of the drawn amplitude envelopes


def _need_plot_extra():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from sklearn.manifold import TSNE
    except ImportError:
        raise AudiosplatError("drawing needs matplotlib and scikit-learn: pip install 'audiosplat[plot]'") from None
    return plt, TSNE


def latent_layout(latents: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per event: a y position in [0, 1] (1-D t-SNE of the latents, min-max normalised per
    dimension first) and an RGB colour in [0, 1] (a seeded random projection D -> 3)."""
    _, TSNE = _need_plot_extra()
    span = latents.max(axis=0) - latents.min(axis=0)
    normalised = (latents - latents.min(axis=0)) / np.where(span > 0, span, 1.0)
    n = latents.shape[0]
    perplexity = float(max(1.0, min(30.0, (n - 1) / 3.0)))
    y = TSNE(n_components=1, perplexity=perplexity, init="random", random_state=seed).fit_transform(normalised)[:, 0]
    y = (y - y.min()) / max(float(np.ptp(y)), 1e-12)
    projection = np.random.default_rng(seed).standard_normal((latents.shape[1], 3))
    colour = normalised @ projection
    colour = (colour - colour.min(axis=0)) / np.where(np.ptp(colour, axis=0) > 0, np.ptp(colour, axis=0), 1.0)
    return y, colour


def draw_timeline(path: Path, splat: Splat, stems: np.ndarray, render: np.ndarray | None = None, source: np.ndarray | None = None) -> None:
    """Write a PNG: each event at its onset (x, seconds) and t-SNE height (y), coloured by
    its latent, as opaque as its energy is large, drawn as its amplitude envelope."""
    plt, _ = _need_plot_extra()
    cfg = splat.config
    rate = cfg.sample_rate
    y, colour = latent_layout(splat.latents.numpy())
    energy = (stems.astype(np.float64) ** 2).sum(axis=1)
    opacity = np.clip(energy / max(float(energy.max()), 1e-30), 0.05, 1.0)
    onsets = splat.controls.onset_samples.numpy() / rate

    panels = 1 if source is None else 3
    fig, axes = plt.subplots(panels, 1, figsize=(12, 3 + 2.2 * (panels - 1)), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [1] * (panels - 1) + [2]})
    axes = axes[:, 0]
    if source is not None:
        for ax, signal, title in ((axes[0], source, "source"), (axes[1], render, "render")):
            ax.specgram(signal, NFFT=1024, Fs=rate, noverlap=768, cmap="magma", vmin=-120)
            ax.set_ylabel("Hz")
            ax.set_title(title, loc="left", fontsize=9)
    ax = axes[-1]
    frames = stems.shape[1] // FRAME
    times = (np.arange(frames) + 0.5) * FRAME / rate
    envelopes = np.sqrt((stems[:, : frames * FRAME].astype(np.float64) ** 2).reshape(len(stems), frames, FRAME).mean(axis=2))
    for e in np.argsort(energy):  # loudest drawn last, on top
        envelope = envelopes[e] / max(float(envelopes[e].max()), 1e-30)
        ax.fill_between(times, y[e], y[e] + 0.12 * envelope, color=colour[e], alpha=float(opacity[e]), linewidth=0)
        ax.plot([onsets[e]], [y[e]], "o", color=colour[e], alpha=float(opacity[e]), markersize=3)
    ax.set_xlim(0, cfg.n_samples / rate)
    ax.set_ylim(-0.05, 1.2)
    ax.set_xlabel("onset, s")
    ax.set_ylabel("latent (1-D t-SNE)")
    ax.set_title(f"{splat.n_events} events: colour = latent projection, opacity = energy, shape = amplitude envelope", loc="left", fontsize=9)
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
