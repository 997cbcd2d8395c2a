"""A report as one self-contained HTML page: a pure function from the report's data to text.

The page fetches nothing: its audio and images are data: URIs, its style and script inline,
and its Content-Security-Policy forbids any other source (and any script but its own, by
hash). Every string from a file is escaped where it is written (`html.escape`, or JSON with
`<`, `>` and `&` as \\u escapes), and the script writes text with `textContent` only.

The timeline is a list of lanes (`Lane`), one per kind of part, stacked under the
spectrograms on one time axis; each lane's marks carry their own stem. A new kind of part
(an unpitched noise bed, notes) is one more `Lane` in `ReportPage.lanes`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from dataclasses import dataclass, field

from audiosplat.app.report_layout import Envelope
from audiosplat.app.report_media import EncodedAudio

WIDTH_PX, LEFT_PX, RIGHT_PX = 1000, 76, 16  # the timeline's viewBox width and margins
SPECTROGRAM_PX, LANE_PX, AXIS_PX, GAP_PX = 120, 300, 28, 6


@dataclass(frozen=True)
class Player:
    """A main audio player: the source, the render, a perturbation. `audio` None: `note` says why."""

    key: str
    label: str
    audio: EncodedAudio | None
    note: str = ""


@dataclass(frozen=True)
class Spectrogram:
    """A spectrogram image over the whole timeline: `png` (rows from highest_hz down to
    lowest_hz on a log axis, columns over the duration)."""

    label: str
    png: bytes
    lowest_hz: float
    highest_hz: float


@dataclass(frozen=True)
class Mark:
    """One event on the timeline, drawn as its envelope around height `y` (lane units).

    Attributes:
        key: unique on the page; its stem's audio element is `stem-<key>`.
        controls: what hovering shows, readable values by name; the lane's table columns.
    """

    key: str
    label: str
    y: float
    envelope: Envelope
    colour: str
    opacity: float
    controls: dict[str, str]
    stem: EncodedAudio


@dataclass(frozen=True)
class Lane:
    """One band of the timeline: its y axis (`y_range` low to high, ticks as (value, text)),
    its marks, and a legend: what the marks' colours, opacity and shapes say (`caption`), and
    (text, colour) swatches. `envelope_half`: the half-height of a mark at its envelope's
    peak, in y units (a piano roll's stays within about a semitone, so neighbours read apart)."""

    title: str
    caption: str
    y_label: str
    y_range: tuple[float, float]
    y_ticks: list[tuple[float, str]]
    marks: list[Mark]
    legend: list[tuple[str, str]]
    envelope_half: float


@dataclass(frozen=True)
class ReportPage:
    """Everything the page shows. `sections`: titled lists of (name, value) rows (summary,
    quality, provenance); `history`: one such list per step."""

    title: str
    duration_s: float
    players: list[Player]
    spectrograms: list[Spectrogram]
    lanes: list[Lane]
    sections: list[tuple[str, list[tuple[str, str]]]]
    history: list[list[tuple[str, str]]] = field(default_factory=list)


def page_html(page: ReportPage) -> str:
    """The whole page as HTML text."""
    script = _SCRIPT
    body = "".join([
        f"<header><h1>{_e(page.title)}</h1><p class=contents>{_e(contents_line(page))}</p></header>",
        _players(page.players),
        _timeline(page),
        "<div class=columns>", *(_facts(title, rows) for title, rows in page.sections if rows), _history(page.history), "</div>",
        *(_stems_table(lane) for lane in page.lanes),
        f"<script type=application/json id=controls>{_json({m.key: {'label': m.label, **m.controls} for lane in page.lanes for m in lane.marks})}</script>",
        f"<script>{script}</script>",
    ])
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = f"default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    return (
        f'<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=Content-Security-Policy content="{policy}">'
        f"<meta name=viewport content='width=device-width, initial-scale=1'><title>{_e(page.title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def contents_line(page: ReportPage) -> str:
    """What the page embeds and how big each part is, e.g. 'render 96 kB FLAC, 64 event stems 1.2 MB FLAC'."""
    parts = [f"{p.label} {_size(len(p.audio.data))} {_codec(p.audio)}" for p in page.players if p.audio is not None]
    stems = [m.stem for lane in page.lanes for m in lane.marks]
    if stems:
        parts.append(f"{len(stems)} event stems {_size(sum(len(s.data) for s in stems))} {_codec(stems[0])}")
    if page.spectrograms:
        parts.append(f"{len(page.spectrograms)} spectrograms {_size(sum(len(s.png) for s in page.spectrograms))} PNG")
    return "Embedded: " + ", ".join(parts) + " (before base64, which adds a third)."


def index_html(title: str, entries: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """An index page of reports: each entry (relative link, its text, (name, value) facts)."""
    names = list(dict.fromkeys(name for _, _, facts in entries for name, _ in facts))
    rows = "".join(
        f"<tr><td><a href='{_e(href)}'>{_e(text)}</a></td>" + "".join(f"<td>{_e(dict(facts).get(name, '-'))}</td>" for name in names) + "</tr>"
        for href, text, facts in entries
    )
    head = "".join(f"<th>{_e(name)}</th>" for name in ["report", *names])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>"
        f"<table class=facts><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>\n"
    )


def _players(players: list[Player]) -> str:
    cells = []
    for p in players:
        inner = f"<audio controls preload=metadata id='player-{_e(p.key)}' src='{_uri(p.audio)}'></audio>" if p.audio is not None else ""
        note = f"<small>{_e(p.note)}</small>" if p.note else ""
        cells.append(f"<figure class=player><figcaption>{_e(p.label)}</figcaption>{inner}{note}</figure>")
    return f"<section id=players>{''.join(cells)}</section>"


def _timeline(page: ReportPage) -> str:
    """The SVG: spectrograms, then the lanes, then the time axis, all on one x scale."""
    x = _x_scale(page.duration_s)
    parts, top = [], 8.0  # room for the highest tick's text
    for s in page.spectrograms:
        parts.append(_spectrogram(s, top, x))
        top += SPECTROGRAM_PX + GAP_PX
    for lane in page.lanes:
        parts.append(_lane(lane, top, x))
        top += LANE_PX + GAP_PX
    parts.append(_time_axis(page.duration_s, top, x))
    height = top + AXIS_PX
    parts.append(f"<line id=playhead x1=0 x2=0 y1=0 y2={top:.0f} visibility=hidden />")
    legend = "<br>".join(
        f"<b>{_e(lane.title)}</b>: {_e(lane.caption)}" + "".join(f"<span class=swatch style='background:{_e(colour)}'></span>{_e(text)}" for text, colour in lane.legend)
        for lane in page.lanes
    )
    return (
        f"<section id=timeline><svg viewBox='0 0 {WIDTH_PX} {height:.0f}' role=img aria-label='timeline of the events'>{''.join(parts)}</svg>"
        f"<p class=legend>{legend}</p><p id=info>Hover over an event to see its controls; click it to hear it alone.</p></section>"
    )


def _x_scale(duration_s: float):
    span = WIDTH_PX - LEFT_PX - RIGHT_PX
    return lambda t: LEFT_PX + span * t / max(duration_s, 1e-9)


def _spectrogram(s: Spectrogram, top: float, x) -> str:
    def y(hz: float) -> float:
        return top + SPECTROGRAM_PX * math.log(s.highest_hz / hz) / math.log(s.highest_hz / s.lowest_hz)

    ticks = "".join(
        f"<text class=tick x={LEFT_PX - 4} y={y(hz) + 3:.1f}>{text}</text><line class=grid x1={LEFT_PX} x2={WIDTH_PX - RIGHT_PX} y1={y(hz):.1f} y2={y(hz):.1f} />"
        for hz, text in ((100, "100 Hz"), (1000, "1 kHz"), (10000, "10 kHz"))
        if s.lowest_hz <= hz <= s.highest_hz
    )
    width = WIDTH_PX - LEFT_PX - RIGHT_PX
    return (
        f"<image x={LEFT_PX} y={top:.0f} width={width} height={SPECTROGRAM_PX} preserveAspectRatio=none href='data:image/png;base64,{base64.b64encode(s.png).decode()}' />"
        f"{ticks}<text class=panel x={LEFT_PX + 6} y={top + 14:.0f}>{_e(s.label)}</text>"
    )


def _lane(lane: Lane, top: float, x) -> str:
    low, high = lane.y_range

    def y(value: float) -> float:
        return top + LANE_PX * (high - value) / max(high - low, 1e-9)

    ticks = "".join(
        f"<line class=grid x1={LEFT_PX} x2={WIDTH_PX - RIGHT_PX} y1={y(v):.1f} y2={y(v):.1f} /><text class=tick x={LEFT_PX - 4} y={y(v) + 3:.1f}>{_e(text)}</text>"
        for v, text in lane.y_ticks
        if low <= v <= high
    )
    half_px = LANE_PX * lane.envelope_half / max(high - low, 1e-9)
    marks = "".join(_mark(m, y(m.y), half_px, x) for m in sorted(lane.marks, key=lambda m: m.opacity))  # loudest on top
    return (
        f"<g class=lane data-lane='{_e(lane.title)}'><rect class=lane-bg x={LEFT_PX} y={top:.0f} width={WIDTH_PX - LEFT_PX - RIGHT_PX} height={LANE_PX} />{ticks}"
        f"<text class=axis-label transform='translate(12 {top + LANE_PX / 2:.0f}) rotate(-90)'>{_e(lane.y_label)}</text>{marks}</g>"
    )


def _mark(m: Mark, centre_px: float, half_px: float, x) -> str:
    """The envelope as a closed shape, mirrored about the event's height, and a dot at its onset."""
    env = m.envelope
    times = [env.start_s + env.frame_s * (k + 0.5) for k in range(len(env.level))]
    upper = [f"{x(t):.1f},{centre_px - half_px * level - 0.8:.1f}" for t, level in zip(times, env.level)]
    lower = [f"{x(t):.1f},{centre_px + half_px * level + 0.8:.1f}" for t, level in zip(times, env.level)]
    start = f"{x(env.start_s):.1f},{centre_px:.1f}"
    tip = ", ".join(f"{k} {v}" for k, v in m.controls.items())
    return (
        f"<g class=mark id='mark-{_e(m.key)}' data-key='{_e(m.key)}' fill='{_e(m.colour)}' opacity='{m.opacity:.2f}' tabindex=0>"
        f"<title>{_e(m.label)}: {_e(tip)}</title><polygon points='{start} {' '.join(upper)} {' '.join(reversed(lower))}' />"
        f"<circle cx={x(env.start_s):.1f} cy={centre_px:.1f} r=2.5 /></g>"
    )


def _time_axis(duration_s: float, top: float, x) -> str:
    step = next((s for s in (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if duration_s / s <= 12), 7200)
    ticks = "".join(
        f"<line class=axis x1={x(k * step):.1f} x2={x(k * step):.1f} y1={top:.0f} y2={top + 5:.0f} /><text class=tick-x x={x(k * step):.1f} y={top + 17:.0f}>{k * step:g}</text>"
        for k in range(int(duration_s / step + 1e-9) + 1)
    )
    return f"<line class=axis x1={LEFT_PX} x2={WIDTH_PX - RIGHT_PX} y1={top:.0f} y2={top:.0f} />{ticks}<text class=tick x={LEFT_PX - 12} y={top + 17:.0f}>time, s</text>"


def _facts(title: str, rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows)
    return f"<section><h2>{_e(title)}</h2><table class=facts>{cells}</table></section>"


def _history(steps: list[list[tuple[str, str]]]) -> str:
    if not steps:
        return "<section><h2>History</h2><p>Fitted; not edited or perturbed since.</p></section>"
    items = "".join("<li><table class=facts>" + "".join(f"<tr><th>{_e(n)}</th><td>{_e(v)}</td></tr>" for n, v in step) + "</table></li>" for step in steps)
    return f"<section><h2>History</h2><ol>{items}</ol></section>"


def _stems_table(lane: Lane) -> str:
    """The lane's marks as a table, each row with its stem's player."""
    if not lane.marks:
        return ""
    columns = list(lane.marks[0].controls)
    head = "".join(f"<th>{_e(c)}</th>" for c in ["", *columns, "stem"])
    rows = "".join(
        f"<tr id='row-{_e(m.key)}'><td><span class=swatch style='background:{_e(m.colour)}'></span>{_e(m.label)}</td>"
        + "".join(f"<td>{_e(m.controls.get(c, ''))}</td>" for c in columns)
        + f"<td><audio class=stem controls preload=none id='stem-{_e(m.key)}' src='{_uri(m.stem)}'></audio></td></tr>"
        for m in lane.marks
    )
    return f"<section><h2>{_e(lane.title)}: each alone</h2><div class=scroll><table class=events><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></section>"


def _uri(audio: EncodedAudio) -> str:
    return f"data:{audio.mime};base64,{base64.b64encode(audio.data).decode()}"


def _codec(audio: EncodedAudio) -> str:
    return {"audio/flac": "FLAC"}.get(audio.mime, audio.mime)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _json(value: object) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` that could end it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px 40px;color:#1d1d1f;background:#fafafa}
h1{font-size:20px;margin:18px 0 2px;word-break:break-all}h2{font-size:16px;margin:22px 0 6px}
.contents{color:#666;margin:0 0 10px;font-size:12px}
#players{display:flex;flex-wrap:wrap;gap:10px}.player{margin:0;padding:8px 10px;background:#fff;border:1px solid #ddd;border-radius:6px}
.player figcaption{font-weight:600;margin-bottom:4px}.player small{display:block;color:#666;max-width:300px}
#timeline svg{width:100%;height:auto;background:#15151a;border-radius:6px;margin-top:12px;display:block}
.lane-bg{fill:#1d1d24}.grid{stroke:#ffffff22;stroke-width:.5}.axis{stroke:#aaa}
.tick,.tick-x,.panel,.axis-label{fill:#ccc;font-size:10px}.tick{text-anchor:end}.tick-x,.axis-label{text-anchor:middle}.panel{font-weight:600;fill:#eee}
.columns{display:flex;flex-wrap:wrap;gap:0 36px}.columns section{flex:1 1 300px;min-width:0}
.mark{cursor:pointer}.mark:hover,.mark:focus,.mark.playing{stroke:#fff;stroke-width:1}
#playhead{stroke:#fff;stroke-width:1}
.legend{margin:6px 0;font-size:12px;color:#444}.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 8px}
#info{min-height:2.9em;margin:4px 0;padding:6px 10px;background:#fff;border:1px solid #ddd;border-radius:6px;font-size:12px}
table{border-collapse:collapse;font-size:12px}th,td{padding:2px 8px;text-align:left;vertical-align:top}
.facts th{color:#555;font-weight:500;white-space:nowrap}.facts td{overflow-wrap:anywhere}
.events td,.events th{border-bottom:1px solid #eee;white-space:nowrap}.events tr.playing{background:#fff3c4}
audio.stem{height:28px;width:170px}.scroll{overflow-x:auto}ol{padding-left:20px}
"""

# Hover: the event's controls in #info; click (or Enter): its stem alone, from the start;
# the playhead follows whichever main player plays.
_SCRIPT = """
const controls = JSON.parse(document.getElementById('controls').textContent);
const info = document.getElementById('info');
const playhead = document.getElementById('playhead');
function stopAll(except) {
  document.querySelectorAll('audio').forEach(a => { if (a !== except) a.pause(); });
}
function show(key) {
  const c = controls[key];
  info.textContent = '';
  const title = document.createElement('b');
  title.textContent = c.label + ': ';
  info.append(title, Object.entries(c).filter(([k]) => k !== 'label').map(([k, v]) => k + ' ' + v).join(' \\u00b7 '));
}
function play(key) {
  const audio = document.getElementById('stem-' + key);
  stopAll(audio);
  document.querySelectorAll('.playing').forEach(el => el.classList.remove('playing'));
  document.getElementById('mark-' + key).classList.add('playing');
  document.getElementById('row-' + key).classList.add('playing');
  audio.currentTime = 0;
  audio.play();
}
document.querySelectorAll('.mark').forEach(mark => {
  const key = mark.dataset.key;
  mark.addEventListener('mouseenter', () => show(key));
  mark.addEventListener('focus', () => show(key));
  mark.addEventListener('click', () => play(key));
  mark.addEventListener('keydown', event => { if (event.key === 'Enter') play(key); });
});
document.querySelectorAll('audio').forEach(audio => audio.addEventListener('play', () => stopAll(audio)));
const left = %LEFT%, span = %SPAN%;
function follow(audio) {
  if (audio.paused) { playhead.setAttribute('visibility', 'hidden'); return; }
  const x = left + span * audio.currentTime / audio.duration;
  playhead.setAttribute('x1', x); playhead.setAttribute('x2', x);
  playhead.setAttribute('visibility', 'visible');
  requestAnimationFrame(() => follow(audio));
}
document.querySelectorAll('#players audio').forEach(audio => audio.addEventListener('play', () => follow(audio)));
""".replace("%LEFT%", str(LEFT_PX)).replace("%SPAN%", str(WIDTH_PX - LEFT_PX - RIGHT_PX))
