"""`audiosplat perturb`: variations of fitted events, as new .splat files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from audiosplat.app.batch import make_output_folders, run_each
from audiosplat.app.inputs import SPLAT_SUFFIXES
from audiosplat.cli.common import (
    Device,
    DeviceOpt,
    FailFastOpt,
    GlobOpt,
    InputsArg,
    NullOpt,
    QuietOpt,
    ReportOpt,
    SkipOpt,
    VerboseOpt,
    choices,
    exit_if_failed,
    plan,
    reporting,
    stderr,
    usage_check,
    user_errors,
)
from audiosplat.core.config import MODEL_KINDS

MAX_VARIANTS = 10_000  # each variant is a file: a typo should not fill the disk
PerturbTarget = choices("PerturbTarget", list(dict.fromkeys(t for kind in MODEL_KINDS.values() for t in kind.perturb_targets)))


def perturb(
    sources: InputsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .splat to write (a folder when there are several inputs); with --variants K, OUT-001.splat ... beside it.", show_default=False)] = ...,
    amount: Annotated[float, typer.Option(min=0.0, help="Half-width a of the uniform noise U(-a, a) added to the latents.")] = 0.5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the noise; variant k uses seed + k - 1.")] = 0,
    target: Annotated[Optional[PerturbTarget], typer.Option(help="roots: the two root latents of a seed-model file (32 events move together, as in the article); events: each event's latent (the only one for direct-model files, whose latents are the events' parameters in natural units); both. Default: roots for seed, events for direct.", show_default=False)] = None,
    times: Annotated[float, typer.Option(min=0.0, help="Also move each onset by U(-t, t) seconds.")] = 0.0,
    variants: Annotated[int, typer.Option(min=1, max=MAX_VARIANTS, help="Number of variants to write.")] = 1,
    render_wav: Annotated[bool, typer.Option("--render", help="Also render each variant to a wav beside it.")] = False,
    glob: GlobOpt = None,
    skip_existing: SkipOpt = False,
    fail_fast: FailFastOpt = False,
    report: ReportOpt = None,
    null: NullOpt = False,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Perturb the latents of fitted events and decode them again, to hear variations.

    Example: audiosplat perturb mozart.splat -o variants/mozart.splat --variants 4 --render
    """
    from audiosplat.app.api import perturb_outputs, perturb_splat_file, render_splat  # torch loads here: only commands that compute need it
    from audiosplat.app.outputs import is_complete_output
    from audiosplat.io.audio import write_wav

    err = stderr()
    with user_errors(verbose):
        usage_check(bool(sources), "give the .splat files to perturb")
        def variant_files(outputs: list[Path], many: bool) -> list[Path]:
            variants_written = [p for o in outputs for p in perturb_outputs(o, variants)]
            return [*variants_written, *([p.with_suffix(".wav") for p in variants_written] if render_wav else [])]

        found, outputs, many = plan(sources, output, SPLAT_SUFFIXES, glob, ".splat", report=report, null=null, writes=variant_files)
        if many:
            make_output_folders(output, outputs)

        def perturb_one(source: Path, out: Path) -> None:
            written = perturb_splat_file(
                source, out, amount=amount, seed=seed, target=target and target.value, onset_jitter_s=times, variants=variants, argv=sys.argv,
            )
            for path, splat in written:
                if render_wav:
                    write_wav(path.with_suffix(".wav"), render_splat(splat, device=device.value), splat.config.sample_rate)
            if not quiet:
                err.print(f"{source}: wrote {len(written)} variant(s) (amount {amount}, seed {seed})")

        with reporting(err, report, many=many, quiet=quiet, null=null, outputs_of=lambda r: [str(p) for p in perturb_outputs(Path(r.output), variants)]) as batch:
            run_each(
                [(i.path, o) for i, o in zip(found, outputs)], perturb_one, on_report=batch.on_report, skip_existing=skip_existing,
                fail_fast=fail_fast, complete=lambda o: all(is_complete_output(p) for p in perturb_outputs(o, variants)),
            )
        exit_if_failed(batch)
