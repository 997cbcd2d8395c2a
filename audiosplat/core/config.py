"""Sizes of the event model. Every other module derives its shapes from a `ModelConfig`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

WAVE_KINDS = ("naive", "band-limited")
WAVE_SHAPES = ("saw", "square", "triangle", "sine")  # the wavetable's blocks, in order
LOWEST_MIDI, HIGHEST_MIDI = 21.0, 106.0  # the span of the wavetable's pitch grid and of pitches
# Where an event's resonance gets its pitch: "grid", a mix of the wavetable's rows at fixed
# pitches (method.md); "exact", one wave at the event's own pitch (`dsp.oscillator`). A file
# holds one of PITCH_KINDS. "auto" asks a fit to choose per clip from an analysis of its
# audio (`models.analysis.resolve_pitches`).
PITCH_KINDS = ("grid", "exact")
PITCH_CHOICES = (*PITCH_KINDS, "auto")
# The direct model's pitch bump (`models.direct.pitch_weights`), in pitch-grid steps:
# narrower than the 0.5 of files before format 1.4.0 (docs/benchmarks.md, "The pitch bump of grid pitches").
PITCH_BUMP_STEPS = 0.35
# The largest sizes a fit may ask for: what a .splat reader accepts (formats/splat-v1.md), so
# that a fit never ends in a file that cannot be read back.
MAX_SAMPLES = 2**22
MAX_EVENTS = 4096
MAX_TOTAL_SAMPLES = 2**30  # 13.5 hours at 22050 Hz
MAX_NOISE_ANCHORS, MAX_NOISE_BANDS = 4096, 128
# The direct model's noise bed: 32 anchors (95 ms apart over a default clip) of 16 mel
# bands, 512 numbers beside 64 events' 1,792 (docs/benchmarks.md, "The noise bed").
DEFAULT_NOISE_BED = (32, 16)
# The losses a fit can minimise (`fitting.loss`): method.md's multiband; with each band's
# features weighted towards equal say; plus a log-magnitude term; the original's noise loss.
LOSS_NAMES = ("multiband", "multiband-balanced", "multiband-log", "noise")


@dataclass(frozen=True)
class ModelKind:
    """What a config must know of a model before any of its code is loaded: its defaults and
    the pitches it can sound. The model's behaviour (decoding, learning rates, strategy) is
    on its class (`models.base.EventModel`).

    Attributes:
        name: the name files and the CLI use (`/config@model`, `fit --model`).
        waves: the wavetable it uses when none is asked for.
        pitches: its pitches with band-limited waves when none are asked for (naive waves
            have grid pitches only).
        pitch_choices: the pitches it accepts; "auto" among them means a fit may choose
            grid or exact per clip.
        perturb_targets: what `perturb` may move in its files, the default first.
        help: one line for `fit --help`.
        noise_bed: (anchors, bands) of the noise bed its fits have by default
            (`synth.noise_bed`); (0, 0) for none.
        tree_events: its events are the leaves of a binary tree, so a power of two of them;
            else any count (a fit may keep fewer than it was given).
    """

    name: str
    waves: str
    pitches: str
    pitch_choices: tuple[str, ...]
    perturb_targets: tuple[str, ...]
    help: str
    noise_bed: tuple[int, int] = (0, 0)
    tree_events: bool = False

    def fit_pitches(self, waves: str | None = None) -> str | None:
        """The pitches a fit asks for when none are given: "auto" where the model takes it
        (band-limited waves only), else None (the model's default)."""
        return "auto" if "auto" in self.pitch_choices and (waves or self.waves) == "band-limited" else None


# The models a config can name, the default first. The seed model keeps method.md's naive
# waves and grid pitches; the direct model's waves are free of aliases and its notes sound
# their own pitches (docs/benchmarks.md, "Exact against grid pitches").
MODEL_KINDS: dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        # its latents are the events' own parameters, in natural units
        ModelKind("direct", "band-limited", "exact", PITCH_CHOICES, ("events",), "each event's physical controls fitted directly, started from an analysis of the clip", DEFAULT_NOISE_BED),
        # roots: the two root latents, so that the events under each move together (the
        # article's perturbation); events: each event's own latent; both
        ModelKind("seed", "naive", "grid", ("grid",), ("roots", "events", "both"), "the original latent-tree model (method.md)", tree_events=True),
    )
}
MODELS = tuple(MODEL_KINDS)


@dataclass(frozen=True)
class ModelConfig:
    """The sizes that fix the shapes of the parameters and the signals (method.md §1).

    Attributes:
        sample_rate: samples per second of every signal, Hz.
        n_samples: clip length N, a power of two.
        n_events: events E: the seed model's, a power of two >= 2 (its event tree is binary);
            the direct model's, any count from 1 (a fit's file keeps the events it needs).
        latent_dim: size D of each event's latent vector.
        frame_size: samples per control frame; F = n_samples / frame_size frames.
        n_pitches: pitches per wave shape in the wavetable (4 shapes).
        model: a name in MODEL_KINDS: "direct" (each event's controls are its own
            parameters, `models.direct`) or "seed" (method.md's latent tree and decoder,
            `models.seed`).
        event_samples: samples each event is synthesised over before it is placed on the
            clip; None (the default, exact) means n_samples. A shorter buffer is an opt-in
            approximation: an event's tail beyond it is cut, and its filters are circular
            over the buffer instead of the clip. Every FFT and the wavetable product shrink
            by n_samples / event_samples.
        total_samples: T, the length of audio the events render over; None (the default)
            means n_samples, one window. A long file is fitted as ceil(T / N) consecutive
            windows of N samples with E events each, so it holds up to that many times E
            events, with onsets in [0, T) (`long_fit.py`).
        waves: the wavetable, "naive" (method.md: ideal shapes sampled, aliased) or
            "band-limited" (harmonics below Nyquist only); None means the model's default
            (`ModelKind.waves`), which is then stored here.
        pitch_bump: the direct model's Gaussian bump over the pitch grid, standard
            deviation in grid steps (`direct.pitch_weights`), PITCH_BUMP_STEPS by default.
            Used by "grid" pitches only.
        noise_anchors, noise_bands: the noise bed's size (`synth.noise_bed`): level anchors
            over the clip and mel bands; 0 and 0 for none (files before format 1.6.0).
            None means the model's default (`ModelKind.noise_bed`), then stored here.
        pitches: "grid" (each event's resonance weighs the wavetable's rows) or "exact"
            (each event sounds its own pitch in Hz, `dsp.oscillator`; band-limited waves
            only), as far as the model's `ModelKind.pitch_choices` allow; None means the
            model's default (`ModelKind.pitches`; grid with naive waves), then stored here.
            "auto" is a fit's request to choose one per clip
            (`models.analysis.resolve_pitches`); a model cannot be built from it.
    """

    sample_rate: int = 22050
    n_samples: int = 2**16
    n_events: int = 64
    latent_dim: int = 16
    frame_size: int = 256
    n_pitches: int = 128
    event_samples: int | None = None
    model: str = "direct"
    total_samples: int | None = None
    waves: str | None = None
    pitch_bump: float = PITCH_BUMP_STEPS
    pitches: str | None = None
    noise_anchors: int | None = None
    noise_bands: int | None = None

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise ValueError(f"unknown model '{self.model}' (choose {' or '.join(MODEL_KINDS)})")
        kind = MODEL_KINDS[self.model]
        if self.waves is None:
            object.__setattr__(self, "waves", kind.waves)
        if self.waves not in WAVE_KINDS:
            raise ValueError(f"unknown waves '{self.waves}' (choose {' or '.join(WAVE_KINDS)})")
        if self.pitches is None:  # naive waves have no exact-pitch form
            object.__setattr__(self, "pitches", kind.pitches if self.waves == "band-limited" else "grid")
        if self.pitches not in PITCH_CHOICES:
            raise ValueError(f"unknown pitches '{self.pitches}' (choose {', '.join(PITCH_CHOICES)})")
        if self.pitches not in kind.pitch_choices:
            takers = " or ".join(name for name, k in MODEL_KINDS.items() if self.pitches in k.pitch_choices)
            raise ValueError(f"{self.pitches} pitches are not for the {self.model} model (it takes {', '.join(kind.pitch_choices)}); they need the {takers} model")
        if self.pitches != "grid" and self.waves != "band-limited":
            raise ValueError(f"{self.pitches} pitches need band-limited waves (naive waves have grid pitches only)")
        if self.noise_anchors is None or self.noise_bands is None:
            object.__setattr__(self, "noise_anchors", kind.noise_bed[0] if self.noise_anchors is None else self.noise_anchors)
            object.__setattr__(self, "noise_bands", kind.noise_bed[1] if self.noise_bands is None else self.noise_bands)
        if (self.noise_anchors, self.noise_bands) != (0, 0) and not (
            2 <= self.noise_anchors <= MAX_NOISE_ANCHORS and 2 <= self.noise_bands <= MAX_NOISE_BANDS
        ):
            raise ValueError(
                f"a noise bed has 2 to {MAX_NOISE_ANCHORS} anchors and 2 to {MAX_NOISE_BANDS} bands (or 0 and 0 for none), "
                f"got {self.noise_anchors} and {self.noise_bands}"
            )
        if self.frame_size < 1:
            raise ValueError(f"frame_size must be >= 1, got {self.frame_size}")
        if self.n_samples < 2 * self.frame_size or not _is_power_of_two(self.n_samples):
            raise ValueError(f"n_samples must be a power of two >= {2 * self.frame_size}, got {self.n_samples}")
        if kind.tree_events and (self.n_events < 2 or not _is_power_of_two(self.n_events)):
            raise ValueError(f"the {self.model} model's events must be a power of two from 2 to {MAX_EVENTS} (its event tree is binary), got {self.n_events}")
        if not 1 <= self.n_events <= MAX_EVENTS:
            raise ValueError(f"events must be from 1 to {MAX_EVENTS}, got {self.n_events}")
        if self.n_samples > MAX_SAMPLES:
            raise ValueError(f"n_samples must be at most {MAX_SAMPLES}, got {self.n_samples}")
        if self.n_samples % self.frame_size:
            raise ValueError("n_samples must be a multiple of frame_size")
        if self.event_samples is not None and not (
            _is_power_of_two(self.event_samples) and 2 * self.frame_size <= self.event_samples <= self.n_samples
        ):
            raise ValueError(
                f"event samples must be a power of two between {2 * self.frame_size} and {self.n_samples}, got {self.event_samples}"
            )
        if self.total_samples is not None and not self.n_samples <= self.total_samples <= MAX_TOTAL_SAMPLES:
            raise ValueError(f"total samples must be from n_samples ({self.n_samples}) to {MAX_TOTAL_SAMPLES}, got {self.total_samples}")
        if not 0.05 <= self.pitch_bump <= 4.0:
            raise ValueError(f"pitch bump must be between 0.05 and 4 grid steps, got {self.pitch_bump}")
        if self.latent_dim < 1 or self.n_pitches < 1 or self.sample_rate < 1:
            raise ValueError("latent_dim, n_pitches and sample_rate must be positive")

    @property
    def has_noise_bed(self) -> bool:
        """Whether fits of this config have a noise bed."""
        return self.noise_anchors > 0

    @property
    def event_length(self) -> int:
        """L, samples of each event's own buffer (n_samples unless event_samples is set)."""
        return self.n_samples if self.event_samples is None else self.event_samples

    @property
    def n_resonance_weights(self) -> int:
        """Columns of the controls' resonance weights: every wavetable row for grid
        pitches, the 4 shapes at the event's own pitch for exact ones."""
        return self.n_waves if self.chosen_pitches() == "grid" else 4

    def chosen_pitches(self) -> str:
        """`pitches`, which a model needs chosen: grid or exact, not auto."""
        if self.pitches == "auto":
            raise ValueError("auto pitches are chosen per clip when it is fitted (analysis.resolve_pitches); a model needs grid or exact")
        return self.pitches

    @property
    def n_frames(self) -> int:
        """F, control frames per clip."""
        return self.n_samples // self.frame_size

    @property
    def n_time_bits(self) -> int:
        """B = log2(N), bits of an onset in samples."""
        return int(math.log2(self.n_samples))

    @property
    def tree_depth(self) -> int:
        """log2(E): bits of an event index, one per level of the event tree."""
        return int(math.log2(self.n_events))

    @property
    def n_waves(self) -> int:
        """Rows of the wavetable: 4 shapes x n_pitches."""
        return len(WAVE_SHAPES) * self.n_pitches

    @property
    def total_length(self) -> int:
        """T, samples of the whole render (n_samples unless total_samples is set)."""
        return self.n_samples if self.total_samples is None else self.total_samples

    @property
    def n_windows(self) -> int:
        """Windows of n_samples that cover the whole render."""
        return -(-self.total_length // self.n_samples)

    @property
    def n_onset_bits(self) -> int:
        """Bits of an onset anywhere in the whole render: B for one window, more for long files."""
        return max(self.n_time_bits, (self.total_length - 1).bit_length())

    @property
    def duration_s(self) -> float:
        """Seconds of the whole render."""
        return self.total_length / self.sample_rate

    @property
    def kind(self) -> ModelKind:
        """The model's defaults and choices."""
        return MODEL_KINDS[self.model]

    def to_dict(self) -> dict:
        return asdict(self)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and (n & (n - 1)) == 0
