"""The report page's parts: the layout maths, the media it embeds, and a page that escapes
whatever a file holds."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

from audiosplat.app.report import write_report
from audiosplat.app.report_layout import event_envelopes, tsne_1d
from audiosplat.app.report_media import encode_audio, palette_png, spectrogram_levels
from audiosplat.io.splatfile import read_splat, write_splat
from tests.shared import GUITAR

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.mark.parametrize("seed", range(3))
def test_tsne_keeps_clusters_apart(seed):
    rng = np.random.default_rng(seed)
    centres = [(0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 1), (1, 0, 0, 1, 0, 1)]
    y = tsne_1d(np.concatenate([rng.normal(c, 0.05, (12, 6)) for c in centres]))
    assert y.shape == (36,) and y.min() == 0.0 and y.max() == 1.0
    spans = sorted((y[k : k + 12].min(), y[k : k + 12].max()) for k in (0, 12, 24))
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]


def test_envelope_starts_at_the_onset_and_ends_when_inaudible():
    rate, onset = 22050, 5000
    t = np.arange(22050 - onset) / rate
    stem = np.zeros((1, 22050))
    stem[0, onset:] = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.05)  # 60 dB down in 0.35 s
    (env,) = event_envelopes(stem, np.array([onset]), rate, frame=512)
    assert env.start_s == pytest.approx(onset // 512 * 512 / rate)
    assert env.level.max() == 1.0
    assert 0.2 < env.end_s - onset / rate < 0.3  # -40 dB after 0.23 s


def test_audio_and_png_are_what_they_say():
    rate = 22050
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    encoded = encode_audio(tone, rate)
    decoded, decoded_rate = sf.read(io.BytesIO(encoded.data))
    assert encoded.mime == "audio/flac" and decoded_rate == rate and len(decoded) == rate
    assert np.abs(decoded - tone).max() < 2.0**-15
    (levels,) = spectrogram_levels([tone], rate, rows=40)
    assert levels.shape[0] == 40 and levels.dtype == np.uint8 and levels.max() == 255
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(palette_png(levels)))
    assert image.size == (levels.shape[1], 40)
    assert np.array_equal(np.asarray(image), levels)  # palette indices, as given


def test_hostile_strings_in_a_file_cannot_inject_markup(fitted_splat, tmp_path):
    """A source name, history and file name holding markup come out as text."""
    splat = read_splat(fitted_splat)
    splat.provenance = {**splat.provenance, "source_name": HOSTILE, "history": [{"op": HOSTILE, "argv": [HOSTILE, "</script>"]}]}
    hostile = tmp_path / "<b onmouseover=alert(3)>x.splat"
    write_splat(hostile, splat)
    page = write_report(hostile, tmp_path / "page.html", against=GUITAR, device="cpu").path.read_text()
    assert "<script>alert" not in page and "<img" not in page and "<b onmouseover" not in page
    assert len(re.findall(r"<script", page)) == 2  # the page's own: its data and its code
    assert page.count("</script>") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_seed_model_events_are_laid_out_by_their_latents(fitted_seed_splat, tmp_path):
    page = write_report(fitted_seed_splat, tmp_path / "seed.html", device="cpu").path.read_text()
    assert "latent (1-D t-SNE)" in page and page.count("class=mark ") == 4
    assert "not given: add --against SOURCE" in page
