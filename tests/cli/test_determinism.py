"""The same fit with the same seed on the same device writes the same file, apart from the
wall-clock fields listed in WALL_CLOCK; the same .splat renders to the same wav bytes
(test_cli.test_render_is_byte_identical)."""

from __future__ import annotations

import h5py
import numpy as np

from tests.cli_runner import SMALL_FIT, run_cli
from tests.shared import GUITAR

# Attributes that record when or how long, not what: the only ones allowed to differ.
WALL_CLOCK = {"/fit@seconds", "/provenance@created"}


def _contents(path) -> dict[str, bytes]:
    """Every dataset's dtype, shape and bytes and every attribute, keyed '/name' and '/name@attr'."""
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            key = "/" + name if name else ""
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                found[key] = (str(obj.dtype), obj.shape, np.asarray(data).tobytes() if obj.dtype.kind != "O" else repr(data.tolist()))
            for attr, value in obj.attrs.items():
                found[f"{key or '/'}@{attr}"] = repr(value)

        visit("", f)
        f.visititems(visit)
    return found


def test_fit_twice_with_one_seed_gives_the_same_file(tmp_path):
    out = tmp_path / "fit.splat"
    first = tmp_path / "first.splat"
    for _ in range(2):
        result = run_cli("fit", GUITAR, "-o", out, *SMALL_FIT, "--seed", "5")
        assert result.exit_code == 0, result.stderr
        if not first.exists():
            out.rename(first)  # the second fit writes the same path: argv is the same too
    a, b = _contents(first), _contents(out)
    assert a.keys() == b.keys()
    differ = sorted(k for k in a if a[k] != b[k])
    assert set(differ) <= WALL_CLOCK, differ
    assert len(a) > 60  # every dataset and attribute was compared
